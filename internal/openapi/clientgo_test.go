package openapi

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/spec3"
	"sigs.k8s.io/yaml"

	"berth.dev/berth/internal/registry"
)

// discoveryClient returns a client-go discovery client of a server that
// serves only h.
func discoveryClient(t *testing.T, s *Service) *discovery.DiscoveryClient {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	dc, err := discovery.NewDiscoveryClientForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatalf("discovery client: %v", err)
	}
	return dc
}

// v3PatchSupports says what kubectl's QueryParamVerifierV3 concludes for
// gvk from a group version's document: it takes a PATCH operation whose
// x-kubernetes-group-version-kind is gvk and looks for a query parameter
// named param. kubectl stops at the first such operation in map order, so
// every one of them must have it; matched counts them.
func v3PatchSupports(doc *spec3.OpenAPI, gvk schema.GroupVersionKind, param string) (matched int, all bool) {
	all = true
	for _, p := range doc.Paths.Paths {
		if p == nil || p.Patch == nil {
			continue
		}
		var opGVK map[string]string
		if err := p.Patch.Extensions.GetObject(extGVK, &opGVK); err != nil {
			continue
		}
		if opGVK["group"] != gvk.Group || opGVK["version"] != gvk.Version || opGVK["kind"] != gvk.Kind {
			continue
		}
		matched++
		if !slices.ContainsFunc(p.Patch.Parameters, func(prm *spec3.Parameter) bool {
			return prm.Name == param && prm.In == "query"
		}) {
			all = false
		}
	}
	return matched, all
}

// v2PatchSupports is the same check on the v2 document, as kubectl's
// QueryParamVerifier does when OpenAPI v3 is not available.
func v2PatchSupports(doc *openapiv2.Document, gvk schema.GroupVersionKind, param string) (matched int, all bool) {
	all = true
	for _, p := range doc.GetPaths().GetPath() {
		patch := p.GetValue().GetPatch()
		isKind := false
		for _, ext := range patch.GetVendorExtension() {
			var v map[string]string
			if ext.GetName() == extGVK && yaml.Unmarshal([]byte(ext.GetValue().GetYaml()), &v) == nil {
				isKind = v["group"] == gvk.Group && v["version"] == gvk.Version && v["kind"] == gvk.Kind
			}
		}
		if !isKind {
			continue
		}
		matched++
		has := false
		for _, prm := range patch.GetParameters() {
			if prm.GetParameter().GetNonBodyParameter().GetQueryParameterSubSchema().GetName() == param {
				has = true
			}
		}
		all = all && has
	}
	return matched, all
}

// TestFieldValidationDetected checks, through client-go's OpenAPI clients,
// that kubectl finds server-side field validation for every built-in kind.
func TestFieldValidationDetected(t *testing.T) {
	dc := discoveryClient(t, builtinService(t))
	root := openapi3.NewRoot(dc.OpenAPIV3())
	v2, err := dc.OpenAPISchema()
	if err != nil {
		t.Fatalf("fetching v2: %v", err)
	}
	for _, r := range registry.Builtin() {
		if r.Ephemeral { // reviews are create-only: nothing to patch
			continue
		}
		gvk := r.GroupVersion().WithKind(r.Kind)
		doc, err := root.GVSpec(gvk.GroupVersion())
		if err != nil {
			t.Errorf("%s: GVSpec: %v", gvk, err)
			continue
		}
		if n, all := v3PatchSupports(doc, gvk, "fieldValidation"); n == 0 || !all {
			t.Errorf("%s: v3: %d PATCH operations of the kind, all with fieldValidation: %v", gvk, n, all)
		}
		if n, all := v2PatchSupports(v2, gvk, "fieldValidation"); n == 0 || !all {
			t.Errorf("%s: v2: %d PATCH operations of the kind, all with fieldValidation: %v", gvk, n, all)
		}
	}
}

// TestExplainDataPath follows what kubectl explain deployment.spec.replicas
// reads: the group version's document from the v3 index, the GVK of the
// resource's operations, the schema carrying that GVK, and the field path
// through $refs.
func TestExplainDataPath(t *testing.T) {
	dc := discoveryClient(t, builtinService(t))
	paths, err := dc.OpenAPIV3().Paths()
	if err != nil {
		t.Fatalf("Paths: %v", err)
	}
	gv, ok := paths["apis/apps/v1"]
	if !ok {
		t.Fatal("no apis/apps/v1 in the v3 index")
	}
	raw, err := gv.Schema("application/json")
	if err != nil {
		t.Fatalf("Schema: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("decoding: %v", err)
	}
	index := func(v any, keys ...string) any {
		for _, k := range keys {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		return v
	}
	gvk := index(doc, "paths", "/apis/apps/v1/namespaces/{namespace}/deployments", "get", extGVK)
	if diff := cmp.Diff(map[string]any{"group": "apps", "version": "v1", "kind": "Deployment"}, gvk); diff != "" {
		t.Fatalf("list operation GVK (-want +got):\n%s", diff)
	}
	var found map[string]any
	for _, s := range index(doc, "components", "schemas").(map[string]any) {
		list, _ := index(s, extGVK).([]any)
		if slices.ContainsFunc(list, func(e any) bool { return cmp.Equal(e, gvk) }) {
			found = s.(map[string]any)
		}
	}
	if found == nil {
		t.Fatal("no schema carries the Deployment GVK")
	}
	resolve := func(s any) any {
		ref, _ := index(s, "$ref").(string)
		if allOf, ok := index(s, "allOf").([]any); ok && len(allOf) == 1 {
			ref, _ = index(allOf[0], "$ref").(string)
		}
		if ref == "" {
			return s
		}
		return index(doc, "components", "schemas", strings.TrimPrefix(ref, refPrefixV3))
	}
	replicas := index(resolve(index(found, "properties", "spec")), "properties", "replicas")
	if typ := index(replicas, "type"); typ != "integer" {
		t.Errorf("deployment.spec.replicas type = %v, want integer", typ)
	}
	if desc, _ := index(replicas, "description").(string); !strings.Contains(desc, "desired pods") {
		t.Errorf("deployment.spec.replicas description = %q", desc)
	}
}
