package openapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"berth.dev/berth/internal/registry"
)

// discoveryHandler serves legacy discovery (/api, /apis and one resource
// list per group version) for resources, and hands /openapi/ to s: the
// least a real kubectl needs to map resource names and read OpenAPI.
func discoveryHandler(s *Service, resources []registry.Resource) http.Handler {
	lists := map[string]*metav1.APIResourceList{}
	groups := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	groupIndex := map[string]int{}
	for _, r := range resources {
		gv := r.GroupVersion()
		key := "/" + groupPath(gv)
		l, ok := lists[key]
		if !ok {
			l = &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
			lists[key] = l
			if gv.Group != "" {
				v := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
				i, seen := groupIndex[gv.Group]
				if !seen {
					groupIndex[gv.Group] = len(groups.Groups)
					groups.Groups = append(groups.Groups, metav1.APIGroup{Name: gv.Group, PreferredVersion: v})
					i = len(groups.Groups) - 1
				}
				groups.Groups[i].Versions = append(groups.Groups[i].Versions, v)
			}
		}
		verbs := r.Verbs
		if verbs == nil {
			verbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
		}
		l.APIResources = append(l.APIResources, metav1.APIResource{
			Name: r.Resource, SingularName: r.Singular, Namespaced: r.Namespaced, Kind: r.Kind,
			Verbs: verbs, ShortNames: r.ShortNames, Categories: r.Categories,
		})
		if r.Status {
			l.APIResources = append(l.APIResources, metav1.APIResource{Name: r.Resource + "/status", Namespaced: r.Namespaced, Kind: r.Kind, Verbs: []string{"get", "patch", "update"}})
		}
	}
	write := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		// A failed write means kubectl hung up; what it got is checked
		// by its output.
		_ = json.NewEncoder(w).Encode(v)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/openapi/"):
			s.ServeHTTP(w, r)
		case r.URL.Path == "/api":
			write(w, &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}})
		case r.URL.Path == "/apis":
			write(w, groups)
		case lists[r.URL.Path] != nil:
			write(w, lists[r.URL.Path])
		default:
			http.NotFound(w, r)
		}
	})
}

// TestKubectl runs the machine's kubectl against a TLS server that serves
// this package's handler and minimal discovery.
func TestKubectl(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed")
	}
	resources := registry.Builtin()
	srv := httptest.NewTLSServer(discoveryHandler(builtinService(t), resources))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	config := `apiVersion: v1
kind: Config
clusters:
- name: berth
  cluster:
    server: ` + srv.URL + `
    insecure-skip-tls-verify: true
users:
- name: nobody
  user: {token: unused}
contexts:
- name: berth
  context: {cluster: berth, user: nobody}
current-context: berth
`
	if err := os.WriteFile(kubeconfig, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	// A Deployment with a field no schema has: kubectl leaves it to the
	// server when it finds server-side field validation, and rejects it
	// itself otherwise.
	manifest := filepath.Join(dir, "deployment.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  bogus: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
`), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"explain field", []string{"explain", "deployment.spec.replicas"},
			[]string{"GROUP:      apps", "KIND:       Deployment", "VERSION:    v1", "FIELD: replicas <integer>"}},
		{"explain list-map field", []string{"explain", "pods.spec.containers.ports"},
			[]string{"KIND:       Pod", "FIELD: ports <[]ContainerPort>", "containerPort\t<integer> -required-"}},
		{"explain CRD kind", []string{"explain", "crd.spec.versions"},
			[]string{"GROUP:      apiextensions.k8s.io", "FIELD: versions <[]CustomResourceDefinitionVersion>"}},
		{"server-side field validation detected", []string{"create", "--dry-run=client", "--validate=strict", "-o", "name", "-f", manifest},
			[]string{"deployment.apps/web"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			args := append([]string{"--kubeconfig", kubeconfig, "--cache-dir", filepath.Join(dir, "cache")}, tc.args...)
			out, err := exec.CommandContext(ctx, kubectl, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("kubectl %s: %v\n%s", strings.Join(tc.args, " "), err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("kubectl %s: output lacks %q:\n%s", strings.Join(tc.args, " "), w, out)
				}
			}
		})
	}
}
