package e2e

import (
	"strings"
	"testing"
)

// TestNamespaceDeletion: deleting a namespace deletes what is in it, custom
// resources included, and then the namespace.
func TestNamespaceDeletion(t *testing.T) {
	s := startServer(t)
	s.kubectl(t, "apply", "-f", writeManifest(t, "crd.yaml", widgetCRD))
	s.kubectl(t, "wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=20s")
	s.kubectl(t, "create", "namespace", "doomed")
	s.kubectl(t, "create", "configmap", "c", "-n", "doomed", "--from-literal=a=b")
	s.kubectl(t, "create", "deployment", "d", "-n", "doomed", "--image=nginx:1.27")
	s.kubectl(t, "apply", "-n", "doomed", "-f", writeManifest(t, "w.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {replicas: 1}\n"))
	s.kubectl(t, "create", "namespace", "kept")
	s.kubectl(t, "create", "configmap", "c", "-n", "kept", "--from-literal=a=b")

	s.kubectl(t, "delete", "namespace", "doomed", "--timeout=60s")
	if r := s.kubectlErr(t, "get", "namespace", "doomed"); !strings.Contains(r.stderr, `namespaces "doomed" not found`) {
		t.Errorf("namespace still there after kubectl delete returned:\n%s", r)
	}
	// A namespace of the same name starts empty.
	s.kubectl(t, "create", "namespace", "doomed")
	if got := s.kubectl(t, "get", "configmaps,deployments,widgets", "-n", "doomed", "-o", "name"); strings.Contains(got, "configmap/c") || strings.Contains(got, "deployment") || strings.Contains(got, "widget") {
		t.Errorf("objects outlived their namespace:\n%s", got)
	}
	if got := s.kubectl(t, "get", "configmap", "c", "-n", "kept", "-o", "name"); got != "configmap/c\n" {
		t.Errorf("another namespace lost its objects: %q", got)
	}
}
