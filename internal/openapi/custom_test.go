package openapi

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/utils/ptr"

	"berth.dev/berth/internal/registry"
)

func crontabResource() registry.Resource {
	r := registry.Resource{Kind: "CronTab", Singular: "crontab", Namespaced: true, Status: true, Scale: true}
	r.Group, r.Version, r.Resource = "stable.example.com", "v1", "crontabs"
	return r
}

// crontabSchema is a CRD schema using what OpenAPI v2 cannot say.
func crontabSchema(t *testing.T) *spec.Schema {
	t.Helper()
	s, err := CRDSchema(&apiextensionsv1.JSONSchemaProps{
		Type: "object",
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"spec": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
				"cronSpec": {Type: "string", Nullable: true},
				"replicas": {XIntOrString: true, AnyOf: []apiextensionsv1.JSONSchemaProps{{Type: "integer"}, {Type: "string"}}},
				"ports": {
					Type:         "array",
					XListType:    ptr.To("map"),
					XListMapKeys: []string{"name"},
					Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &apiextensionsv1.JSONSchemaProps{
						Type: "object", Required: []string{"name"},
						Properties: map[string]apiextensionsv1.JSONSchemaProps{"name": {Type: "string"}},
					}},
				},
			}},
		},
	})
	if err != nil {
		t.Fatalf("CRDSchema: %v", err)
	}
	return s
}

func indexOf(t *testing.T, s *Service) v3Index {
	t.Helper()
	_, body := get(t, s, "/openapi/v3", nil)
	var idx v3Index
	if err := json.Unmarshal(body, &idx); err != nil {
		t.Fatalf("decoding index: %v", err)
	}
	return idx
}

func TestCustomResource(t *testing.T) {
	s, err := New(Config{Resources: registry.Builtin()})
	if err != nil {
		t.Fatal(err)
	}
	before := indexOf(t, s)
	res := crontabResource()
	gvk := res.GroupVersion().WithKind(res.Kind)
	if err := s.SetCustomResource(res, crontabSchema(t)); err != nil {
		t.Fatalf("SetCustomResource: %v", err)
	}

	after := indexOf(t, s)
	entry, ok := after.Paths["apis/stable.example.com/v1"]
	if !ok {
		t.Fatal("index lacks apis/stable.example.com/v1")
	}
	if len(after.Paths) != len(before.Paths)+1 {
		t.Errorf("index has %d group versions, want %d", len(after.Paths), len(before.Paths)+1)
	}
	if before.Paths["apis/apps/v1"] != after.Paths["apis/apps/v1"] {
		t.Error("apps/v1 changed with a custom resource in another group")
	}

	resp, body := get(t, s, entry.ServerRelativeURL, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("custom group version: status %d", resp.StatusCode)
	}
	var doc spec3.OpenAPI
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	assertRefsResolve(t, body, refPrefixV3, func(n string) bool { _, ok := doc.Components.Schemas[n]; return ok })
	if n, all := v3PatchSupports(&doc, gvk, "fieldValidation"); n != 2 || !all {
		t.Errorf("PATCH operations of CronTab: %d, all with fieldValidation: %v; want 2 (item, status) and true", n, all)
	}
	wantPaths := []string{
		"/apis/stable.example.com/v1/crontabs",
		"/apis/stable.example.com/v1/namespaces/{namespace}/crontabs",
		"/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}",
		"/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/scale",
		"/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/status",
	}
	if diff := cmp.Diff(wantPaths, slices.Sorted(maps.Keys(doc.Paths.Paths))); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	crontab := doc.Components.Schemas["com.example.stable.v1.CronTab"]
	if crontab == nil {
		t.Fatal("no com.example.stable.v1.CronTab schema")
	}
	if diff := cmp.Diff([]any{map[string]any{"group": "stable.example.com", "version": "v1", "kind": "CronTab"}}, crontab.Extensions[extGVK]); diff != "" {
		t.Errorf("CronTab GVK (-want +got):\n%s", diff)
	}
	for _, p := range []string{"apiVersion", "kind", "metadata", "spec"} {
		if _, ok := crontab.Properties[p]; !ok {
			t.Errorf("CronTab schema lacks property %q", p)
		}
	}
	if _, ok := doc.Components.Schemas["com.example.stable.v1.CronTabList"]; !ok {
		t.Error("no CronTabList schema")
	}

	// v2 holds the custom kind in a form gnostic accepts.
	resp, body = get(t, s, "/openapi/v2", map[string]string{"Accept": MediaV2Protobuf})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("v2 with a custom resource: status %d: %s", resp.StatusCode, body)
	}
	v2 := &openapiv2.Document{}
	if err := proto.Unmarshal(body, v2); err != nil {
		t.Fatal(err)
	}
	if n, all := v2PatchSupports(v2, gvk, "fieldValidation"); n != 2 || !all {
		t.Errorf("v2: PATCH operations of CronTab: %d, all with fieldValidation: %v", n, all)
	}
	_, body = get(t, s, "/openapi/v2", nil)
	var sw spec.Swagger
	if err := json.Unmarshal(body, &sw); err != nil {
		t.Fatal(err)
	}
	assertRefsResolve(t, body, refPrefixV2, func(n string) bool { _, ok := sw.Definitions[n]; return ok })
	if _, ok := sw.Definitions["com.example.stable.v1.CronTab"]; !ok {
		t.Error("v2 lacks com.example.stable.v1.CronTab")
	}

	s.RemoveCustomResource(gvk)
	s.RemoveCustomResource(gvk) // removing twice does nothing
	if diff := cmp.Diff(before, indexOf(t, s)); diff != "" {
		t.Errorf("index after removal (-before +after):\n%s", diff)
	}
	if resp, _ := get(t, s, "/openapi/v3/apis/stable.example.com/v1", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("removed group version: status %d, want 404", resp.StatusCode)
	}
}

func TestSetCustomResourceRejects(t *testing.T) {
	s := builtinService(t)
	clash := registry.Resource{Kind: "Deployment"}
	clash.Group, clash.Version, clash.Resource = "apps", "v1", "deployments"
	noGroup := crontabResource()
	noGroup.Group = ""
	for name, r := range map[string]registry.Resource{"built-in kind": clash, "no group": noGroup} {
		if err := s.SetCustomResource(r, nil); err == nil {
			t.Errorf("%s: SetCustomResource accepted it", name)
		}
	}
}

// TestCustomResourceConcurrency sets and removes custom resources while
// documents are read; run with -race.
func TestCustomResourceConcurrency(t *testing.T) {
	s, err := New(Config{Resources: registry.Builtin()})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			r := crontabResource()
			r.Kind = []string{"A", "B", "C", "D"}[i]
			r.Resource = []string{"as", "bs", "cs", "ds"}[i]
			for range 3 {
				if err := s.SetCustomResource(r, nil); err != nil {
					t.Error(err)
				}
				s.RemoveCustomResource(schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind})
			}
		})
		wg.Go(func() {
			for _, target := range []string{"/openapi/v3", "/openapi/v3/apis/stable.example.com/v1", "/openapi/v3/api/v1"} {
				if resp, _ := get(t, s, target, nil); resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
					t.Errorf("%s: status %d", target, resp.StatusCode)
				}
			}
			_ = s.Models()
		})
	}
	wg.Wait()
	if _, ok := indexOf(t, s).Paths["apis/stable.example.com/v1"]; ok {
		t.Error("index still lists the group version of removed custom resources")
	}
}
