package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"berth.dev/berth/internal/auth/pki"
)

// userKubeconfig issues a client certificate for user from s's cluster CA
// and writes a kubeconfig for it.
func userKubeconfig(t *testing.T, s *server, user string) string {
	t.Helper()
	keys, err := pki.Ensure(pki.Config{Dir: filepath.Join(s.dataDir, "pki")})
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := keys.IssueClientCert(user, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), user+".kubeconfig")
	if err := pki.WriteKubeconfig(path, admin.Host, keys.CAPEM(), certPEM, keyPEM, user); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRBAC: a user with no bindings is refused with upstream's message;
// bound to view in one namespace, kubectl auth can-i answers for it, it can
// read there and not write; bound to admin it still cannot bind
// cluster-admin. berth's own components run without system:masters.
func TestRBAC(t *testing.T) {
	s := startServer(t)
	s.kubectl(t, "create", "namespace", "dev")
	s.kubectl(t, "create", "configmap", "cm", "-n", "dev", "--from-literal=a=b")
	alice := kubectlCmd{bin: kubectlPath(t), kubeconfig: userKubeconfig(t, s, "alice"), cacheDir: t.TempDir()}

	r := alice.runErr(t, "get", "configmaps", "-n", "dev")
	if want := `Error from server (Forbidden): configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "dev"`; !strings.Contains(r.stderr, want) {
		t.Errorf("unbound user:\n%s\nwant %q", r, want)
	}
	// Every authenticated user may ask (system:basic-user, bound to system:authenticated).
	if r := alice.exec(t, nil, "auth", "can-i", "get", "pods"); r.code != 1 || r.stdout != "no\n" {
		t.Errorf("can-i as an unbound user: %s", r)
	}

	s.kubectl(t, "create", "rolebinding", "alice-view", "-n", "dev", "--clusterrole=view", "--user=alice")
	waitFor(t, 20*time.Second, "alice may list configmaps in dev", func() bool {
		r := alice.exec(t, nil, "auth", "can-i", "list", "configmaps", "-n", "dev")
		return r.code == 0 && r.stdout == "yes\n"
	})
	if r := alice.exec(t, nil, "auth", "can-i", "delete", "configmaps", "-n", "dev"); r.code != 1 || r.stdout != "no\n" {
		t.Errorf("can-i delete: %s", r)
	}
	if r := alice.exec(t, nil, "auth", "can-i", "list", "configmaps", "-n", "default"); r.code != 1 || r.stdout != "no\n" {
		t.Errorf("can-i in another namespace: %s", r)
	}
	list := alice.run(t, "auth", "can-i", "--list", "-n", "dev")
	for _, want := range []string{"configmaps ", "deployments.apps ", "selfsubjectaccessreviews.authorization.k8s.io ", "[/api/*]"} {
		if !strings.Contains(list, want) {
			t.Errorf("can-i --list lacks %q:\n%s", want, list)
		}
	}
	if strings.Contains(list, "secrets ") {
		t.Errorf("can-i --list shows secrets:\n%s", list)
	}
	if got := alice.run(t, "get", "configmap", "cm", "-n", "dev", "-o", "name"); got != "configmap/cm\n" {
		t.Errorf("get: %q", got)
	}
	r = alice.runErr(t, "delete", "configmap", "cm", "-n", "dev")
	if want := `configmaps "cm" is forbidden: User "alice" cannot delete resource "configmaps" in API group "" in the namespace "dev"`; !strings.Contains(r.stderr, want) {
		t.Errorf("delete:\n%s\nwant %q", r, want)
	}

	s.kubectl(t, "create", "rolebinding", "alice-admin", "-n", "dev", "--clusterrole=admin", "--user=alice")
	waitFor(t, 20*time.Second, "alice may create rolebindings in dev", func() bool {
		return alice.exec(t, nil, "auth", "can-i", "create", "rolebindings", "-n", "dev").code == 0
	})
	alice.run(t, "create", "rolebinding", "bob-view", "-n", "dev", "--clusterrole=view", "--user=bob")
	r = alice.runErr(t, "create", "rolebinding", "bob-root", "-n", "dev", "--clusterrole=cluster-admin", "--user=bob")
	if want := `rolebindings.rbac.authorization.k8s.io "bob-root" is forbidden: user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:`; !strings.Contains(r.stderr, want) {
		t.Errorf("escalation:\n%s\nwant %q", r, want)
	}

	// The controllers, as system:kube-controller-manager, filled the new
	// namespace; none of berth's components was refused anything.
	waitFor(t, 20*time.Second, "the default ServiceAccount and root CA ConfigMap in dev", func() bool {
		r := s.kubectlWith(kubectlPath(t)).exec(t, nil, "get", "serviceaccount/default", "configmap/kube-root-ca.crt", "-n", "dev")
		return r.code == 0
	})
	if log := s.logTail(); strings.Contains(log, `User \"system:kube-`) || strings.Contains(log, `User "system:kube-`) {
		t.Errorf("a component was refused:\n%s", log)
	}
}
