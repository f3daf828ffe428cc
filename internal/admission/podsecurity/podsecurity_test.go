package podsecurity_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/pod-security-admission/api"
	psatest "k8s.io/pod-security-admission/test"
	"k8s.io/utils/ptr"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/admission/podsecurity"
	"berth.dev/berth/internal/apiserver"
	"berth.dev/berth/internal/apiserver/apiservertest"
)

func startWith(t *testing.T) *apiservertest.Server {
	t.Helper()
	cfg, err := podsecurity.DefaultConfiguration()
	if err != nil {
		t.Fatal(err)
	}
	p, err := podsecurity.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return apiservertest.Start(t, func(c *apiserver.Config) {
		c.Admission = admission.Chain{Validators: []admission.Validator{p}}
	})
}

// TestUpstreamFixtures runs k8s.io/pod-security-admission's own fixtures
// (every check, every version, baseline and restricted, passing and
// failing pods and workloads) through the live API server.
func TestUpstreamFixtures(t *testing.T) {
	s := startWith(t)
	psatest.Run(t, psatest.Options{ClientConfig: s.Admin})
}

type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func TestBerthDefaults(t *testing.T) {
	s := startWith(t)
	warn := &warnings{}
	cfg := rest.CopyConfig(s.Admin)
	cfg.WarningHandler = warn
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()

	privileged := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "busybox", SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
		}}}}
	}
	// An unlabelled namespace enforces baseline.
	_, err := client.CoreV1().Pods("default").Create(ctx, privileged("p"), metav1.CreateOptions{})
	want := `pods "p" is forbidden: violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("privileged pod in default: %v\nwant %s", err, want)
	}
	// ...and warns about restricted.
	plain := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "plain"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := client.CoreV1().Pods("default").Create(ctx, plain, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(warn.msgs) != 1 || !strings.HasPrefix(warn.msgs[0], `would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false`) {
		t.Errorf("warnings = %q, want the restricted warning", warn.msgs)
	}
	// A workload is only warned about.
	warn.msgs = nil
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "d"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "d"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "d"}}, Spec: privileged("").Spec},
		},
	}
	if _, err := client.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatalf("privileged Deployment: %v, want only a warning", err)
	}
	// (Upstream folds the enforce level's findings into the warn level's.)
	if !slices.ContainsFunc(warn.msgs, func(m string) bool {
		return strings.HasPrefix(m, `would violate PodSecurity "restricted:latest": privileged`)
	}) {
		t.Errorf("Deployment warnings = %q", warn.msgs)
	}
	// kube-system is exempt; a privileged namespace allows it.
	if _, err := client.CoreV1().Pods("kube-system").Create(ctx, privileged("p"), metav1.CreateOptions{}); err != nil {
		t.Errorf("privileged pod in kube-system: %v", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "priv", Labels: map[string]string{api.EnforceLevelLabel: "privileged"}}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Pods("priv").Create(ctx, privileged("p"), metav1.CreateOptions{}); err != nil {
		t.Errorf("privileged pod in a privileged namespace: %v", err)
	}
	// A bad label value is refused with a field error.
	ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bad", Labels: map[string]string{api.EnforceLevelLabel: "lax"}}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("namespace with a bad level: %v, want 422", err)
	}
}
