package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestRestart stops the server with SIGTERM and starts it again on the same
// data directory and port: objects, credentials and the CA survive, and
// clients made before the restart keep working.
func TestRestart(t *testing.T) {
	s := startServer(t)
	ctx := t.Context()
	cs := s.clientset(t)
	ns := createNamespace(t, cs, "restart")
	cm, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"k": "v"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "token"}, Data: map[string][]byte{"t": []byte("secret value")},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := cs.NetworkingV1().NetworkPolicies(ns).Create(ctx, &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny"}, Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Objects no controller changes, so that they compare exactly.
	before := []runtime.Object{cm, secret, policy}
	kubeconfigBefore := loadKubeconfig(t, s.kubeconfig)

	if err := s.stop(); err != nil {
		t.Fatalf("SIGTERM: want a clean exit, got %v", err)
	}
	s.restart(t)

	// The client made before the restart, with the old credentials.
	after := getAll(t, cs, ns)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("objects after restart (-before +after):\n%s", diff)
	}
	kubeconfigAfter := loadKubeconfig(t, s.kubeconfig)
	if diff := cmp.Diff(kubeconfigBefore, kubeconfigAfter); diff != "" {
		t.Errorf("admin kubeconfig cluster after restart (-before +after):\n%s", diff)
	}
	wantOutput(t, s.kubectl(t, "get", "configmap/settings", "secret/token", "networkpolicy/deny", "-n", ns, "-o", "name"),
		"configmap/settings", "secret/token", "networkpolicy.networking.k8s.io/deny")

	// Revisions go on from where they were: a watch from an old
	// resourceVersion must not miss writes made after the restart.
	cm2, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "later"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rv(t, cm2.ResourceVersion) <= rv(t, policy.ResourceVersion) {
		t.Errorf("resourceVersion after restart %s is not after %s, written before it", cm2.ResourceVersion, policy.ResourceVersion)
	}
}

// loadKubeconfig returns the server URL and CA of the kubeconfig at path.
func loadKubeconfig(t *testing.T, path string) []string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cluster := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]
	return []string{cluster.Server, string(cluster.CertificateAuthorityData)}
}

func getAll(t *testing.T, cs kubernetes.Interface, ns string) []runtime.Object {
	t.Helper()
	ctx := t.Context()
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := cs.CoreV1().Secrets(ns).Get(ctx, "token", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := cs.NetworkingV1().NetworkPolicies(ns).Get(ctx, "deny", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return []runtime.Object{cm, secret, policy}
}

// rv parses a resourceVersion. berth's are store revisions, so they are
// integers that grow with every write.
func rv(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q: %v", s, err)
	}
	return n
}

// TestCrash kills the server with SIGKILL in the middle of a stream of
// writes: after a restart, every write the server acknowledged is there.
func TestCrash(t *testing.T) {
	const before = 50 // acknowledged writes before the kill
	s := startServer(t)
	cfg := s.restConfig(t)
	cfg.Timeout = 10 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := createNamespace(t, cs, "crash")

	type outcome struct {
		acked []string
		err   error // the error that ended the loop
	}
	progress := make(chan int, 1)
	done := make(chan outcome, 1)
	go func() {
		var acked []string
		for i := 0; ; i++ {
			name := fmt.Sprintf("cm-%05d", i)
			_, err := cs.CoreV1().ConfigMaps(ns).Create(t.Context(), &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"i": strconv.Itoa(i)},
			}, metav1.CreateOptions{})
			if err != nil {
				done <- outcome{acked, err}
				return
			}
			acked = append(acked, name)
			select {
			case progress <- len(acked):
			default:
			}
		}
	}()

	deadline := time.After(eventTimeout)
	for n := 0; n < before; {
		select {
		case n = <-progress:
		case o := <-done:
			t.Fatalf("write loop ended after %d writes, before the kill: %v", len(o.acked), o.err)
		case <-deadline:
			t.Fatalf("fewer than %d writes acknowledged within %v", before, eventTimeout)
		}
	}
	s.kill()
	o := <-done
	t.Logf("killed after %d acknowledged writes; the loop ended with: %v", len(o.acked), o.err)

	s.restart(t)
	list, err := cs.CoreV1().ConfigMaps(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, cm := range list.Items {
		if strings.HasPrefix(cm.Name, "cm-") {
			stored[cm.Name] = true
		}
	}
	var lost []string
	for _, name := range o.acked {
		if !stored[name] {
			lost = append(lost, name)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d acknowledged ConfigMaps lost in the crash: %v", len(lost), len(o.acked), lost)
	}
	// At most the one write in flight at the kill may have landed unacknowledged.
	if extra := len(stored) - (len(o.acked) - len(lost)); extra > 1 {
		t.Errorf("%d ConfigMaps stored that were never acknowledged, want at most 1", extra)
	}
}
