package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd], categories: [all]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    additionalPrinterColumns:
    - {name: Size, type: string, jsonPath: .spec.size}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: string, enum: [small, large], default: small, description: How big the widget is.}
              replicas: {type: integer, minimum: 0}
          status:
            type: object
            properties:
              replicas: {type: integer}
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`

func writeManifest(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCustomResources drives a CRD's whole life with kubectl: established,
// served in two versions, schema defaults and validation, printer columns,
// scale, server-side apply, explain, and deletion taking its objects along.
func TestCustomResources(t *testing.T) {
	s := startServer(t)
	s.kubectl(t, "apply", "-f", writeManifest(t, "crd.yaml", widgetCRD))
	s.kubectl(t, "wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=20s")

	s.kubectl(t, "apply", "-f", writeManifest(t, "w1.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {replicas: 2}\n"))
	out := s.kubectl(t, "get", "widgets")
	for _, want := range []string{"NAME", "SIZE", "REPLICAS", "w1", "small"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl get widgets: missing %q in\n%s", want, out)
		}
	}
	if got := s.kubectl(t, "get", "wd", "w1", "-o", "jsonpath={.spec.size}"); got != "small" {
		t.Errorf("defaulted size = %q, want small", got)
	}
	// The other served version reads the same object.
	if got := s.kubectl(t, "get", "widgets.v1beta1.example.com", "w1", "-o", "jsonpath={.apiVersion} {.spec.replicas}"); got != "example.com/v1beta1 2" {
		t.Errorf("w1 through v1beta1 = %q", got)
	}

	s.kubectl(t, "scale", "widget", "w1", "--replicas=5")
	if got := s.kubectl(t, "get", "widget", "w1", "-o", "jsonpath={.spec.replicas}"); got != "5" {
		t.Errorf("after scale, replicas = %q, want 5", got)
	}

	bad := s.kubectlErr(t, "apply", "-f", writeManifest(t, "bad.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: bad}\nspec: {replicas: -1, size: huge}\n"))
	for _, want := range []string{"is invalid", "spec.replicas", "spec.size"} {
		if !strings.Contains(bad.stderr, want) {
			t.Errorf("invalid widget: missing %q in\n%s", want, bad)
		}
	}
	unknown := s.kubectlErr(t, "apply", "-f", writeManifest(t, "unknown.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: unknown}\nspec: {colour: red}\n"))
	if !strings.Contains(unknown.stderr, `unknown field "spec.colour"`) {
		t.Errorf("unknown field: got\n%s", unknown)
	}

	s.kubectl(t, "apply", "--server-side", "-f", writeManifest(t, "w2.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w2}\nspec: {replicas: 1, size: large}\n"))
	if got := s.kubectl(t, "get", "widget", "w2", "-o", "jsonpath={.metadata.managedFields[0].manager}/{.metadata.managedFields[0].operation}"); got != "kubectl/Apply" {
		t.Errorf("w2 managedFields = %q, want kubectl/Apply", got)
	}
	if got := s.kubectl(t, "explain", "widget.spec.size"); !strings.Contains(got, "How big the widget is.") {
		t.Errorf("kubectl explain widget.spec.size:\n%s", got)
	}
	if got := s.kubectl(t, "get", "all", "-o", "name"); !strings.Contains(got, "widget.example.com/w1") {
		t.Errorf("kubectl get all (category all) misses the widgets:\n%s", got)
	}

	s.kubectl(t, "delete", "crd", "widgets.example.com", "--timeout=30s")
	if r := s.kubectlErr(t, "get", "widgets"); !strings.Contains(r.stderr, "the server could not find the requested resource") && !strings.Contains(r.stderr, "the server doesn't have a resource type") {
		t.Errorf("widgets still served after the CRD was deleted:\n%s", r)
	}
	// A new CRD of the same name starts empty: its objects went with the old one.
	s.kubectl(t, "apply", "-f", writeManifest(t, "crd.yaml", widgetCRD))
	s.kubectl(t, "wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=20s")
	if got := s.kubectl(t, "get", "widgets", "-o", "name"); got != "" {
		t.Errorf("objects survived their CRD's deletion:\n%s", got)
	}
}
