package openapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	openapiv3 "github.com/google/gnostic-models/openapiv3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"k8s.io/kube-openapi/pkg/spec3"
	openapiproto "k8s.io/kube-openapi/pkg/util/proto"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/yaml"

	"berth.dev/berth/internal/registry"
)

var (
	sharedOnce    sync.Once
	sharedService *Service
	sharedErr     error
)

// builtinService returns one Service over registry.Builtin() shared by the
// tests that only read from it, so its documents are encoded once per run.
func builtinService(t *testing.T) *Service {
	t.Helper()
	sharedOnce.Do(func() { sharedService, sharedErr = New(Config{Resources: registry.Builtin()}) })
	if sharedErr != nil {
		t.Fatalf("New: %v", sharedErr)
	}
	return sharedService
}

// get serves one GET request and returns the response with its body read.
func get(t *testing.T, h http.Handler, target string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", target, err)
	}
	return resp, body
}

func TestV2Protobuf(t *testing.T) {
	s := builtinService(t)
	resp, body := get(t, s, "/openapi/v2", map[string]string{"Accept": MediaV2ProtobufDeprecated})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Content-Type"); got != MediaV2Protobuf {
		t.Errorf("Content-Type = %q, want %q", got, MediaV2Protobuf)
	}
	doc := &openapiv2.Document{}
	if err := proto.Unmarshal(body, doc); err != nil {
		t.Fatalf("unmarshalling protobuf: %v", err)
	}
	// kubectl's client-side validation and strategic merge patch read
	// the v2 document through this parser.
	models, err := openapiproto.NewOpenAPIData(doc)
	if err != nil {
		t.Fatalf("kube-openapi rejects the v2 document: %v", err)
	}
	if models.LookupModel("io.k8s.api.apps.v1.Deployment") == nil {
		t.Error("kube-openapi's models lack io.k8s.api.apps.v1.Deployment")
	}
	var deployment *openapiv2.Schema
	for _, d := range doc.GetDefinitions().GetAdditionalProperties() {
		if d.GetName() == "io.k8s.api.apps.v1.Deployment" {
			deployment = d.GetValue()
		}
	}
	if deployment == nil {
		t.Fatal("no io.k8s.api.apps.v1.Deployment definition")
	}
	var gvks []map[string]string
	for _, ext := range deployment.GetVendorExtension() {
		if ext.GetName() == extGVK {
			if err := yaml.Unmarshal([]byte(ext.GetValue().GetYaml()), &gvks); err != nil {
				t.Fatalf("parsing %s: %v", extGVK, err)
			}
		}
	}
	want := []map[string]string{{"group": "apps", "version": "v1", "kind": "Deployment"}}
	if diff := cmp.Diff(want, gvks); diff != "" {
		t.Errorf("Deployment %s (-want +got):\n%s", extGVK, diff)
	}

	// What kubectl's v2 field validation check reads: the PATCH operation
	// with the kind's GVK lists fieldValidation.
	found := false
	for _, p := range doc.GetPaths().GetPath() {
		if p.GetName() != "/apis/apps/v1/namespaces/{namespace}/deployments/{name}" {
			continue
		}
		for _, prm := range p.GetValue().GetPatch().GetParameters() {
			if prm.GetParameter().GetNonBodyParameter().GetQueryParameterSubSchema().GetName() == "fieldValidation" {
				found = true
			}
		}
	}
	if !found {
		t.Error("v2: deployments PATCH has no fieldValidation query parameter")
	}
}

func TestV2JSON(t *testing.T) {
	s := builtinService(t)
	resp, body := get(t, s, "/openapi/v2", map[string]string{"Accept": "application/json"})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var sw spec.Swagger
	if err := json.Unmarshal(body, &sw); err != nil {
		t.Fatalf("decoding: %v", err)
	}
	if sw.Swagger != "2.0" {
		t.Errorf("swagger = %q", sw.Swagger)
	}
	assertRefsResolve(t, body, refPrefixV2, func(name string) bool { _, ok := sw.Definitions[name]; return ok })
	pod, ok := sw.Definitions["io.k8s.api.core.v1.PodSpec"]
	if !ok {
		t.Fatal("no PodSpec definition")
	}
	// Strategic merge patch reads these from v2.
	containers := pod.Properties["containers"]
	for k, want := range map[string]any{"x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name"} {
		if got := containers.Extensions[k]; got != want {
			t.Errorf("PodSpec.containers %s = %v, want %v", k, got, want)
		}
	}
}

// assertRefsResolve checks that every $ref in a JSON document names a
// definition that exists.
func assertRefsResolve(t *testing.T, doc []byte, prefix string, exists func(string) bool) {
	t.Helper()
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && k == "$ref" {
					refs = append(refs, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	var root any
	if err := json.Unmarshal(doc, &root); err != nil {
		t.Fatalf("decoding: %v", err)
	}
	walk(root)
	if len(refs) == 0 {
		t.Fatal("document has no $ref at all")
	}
	for _, r := range refs {
		name, ok := strings.CutPrefix(r, prefix)
		if !ok || !exists(name) {
			t.Errorf("unresolved $ref %q", r)
		}
	}
}

func TestETag(t *testing.T) {
	s := builtinService(t)
	_, index := get(t, s, "/openapi/v3", nil)
	for _, tc := range []struct {
		name   string
		target string
		accept string
	}{
		{"v2 json", "/openapi/v2", "application/json"},
		{"v2 protobuf", "/openapi/v2", MediaV2ProtobufDeprecated},
		{"v3 index", "/openapi/v3", ""},
		{"v3 group", "/openapi/v3/apis/apps/v1", "application/json"},
		{"v3 group protobuf", "/openapi/v3/apis/apps/v1", MediaV3Protobuf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, s, tc.target, map[string]string{"Accept": tc.accept})
			etag := resp.Header.Get("ETag")
			if resp.StatusCode != http.StatusOK || etag == "" || len(body) == 0 {
				t.Fatalf("status %d, ETag %q, %d bytes", resp.StatusCode, etag, len(body))
			}
			resp, body = get(t, s, tc.target, map[string]string{"Accept": tc.accept, "If-None-Match": etag})
			if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Errorf("If-None-Match current: status %d with %d bytes, want 304 and none", resp.StatusCode, len(body))
			}
			resp, _ = get(t, s, tc.target, map[string]string{"Accept": tc.accept, "If-None-Match": `"stale"`})
			if resp.StatusCode != http.StatusOK {
				t.Errorf("If-None-Match stale: status %d, want 200", resp.StatusCode)
			}
		})
	}
	if len(index) == 0 {
		t.Fatal("empty index")
	}
}

func TestGzip(t *testing.T) {
	s := builtinService(t)
	for _, target := range []string{"/openapi/v2", "/openapi/v3/api/v1"} {
		_, plain := get(t, s, target, map[string]string{"Accept": "application/json"})
		resp, zipped := get(t, s, target, map[string]string{"Accept": "application/json", "Accept-Encoding": "gzip"})
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: Content-Encoding %q, want gzip", target, resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(zipped))
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		if !bytes.Equal(plain, unzipped) {
			t.Errorf("%s: gunzipped body differs from the plain one", target)
		}
		if len(zipped) >= len(plain) {
			t.Errorf("%s: gzipped %d bytes, plain %d", target, len(zipped), len(plain))
		}
		resp, _ = get(t, s, target, map[string]string{"Accept-Encoding": "gzip;q=0"})
		if resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s: gzip;q=0 answered with Content-Encoding %q", target, resp.Header.Get("Content-Encoding"))
		}
	}
}

func TestNegotiation(t *testing.T) {
	s := builtinService(t)
	for _, tc := range []struct {
		target, accept string
		status         int
		contentType    string
	}{
		{"/openapi/v2", "", 200, "application/json"},
		{"/openapi/v2", "*/*", 200, "application/json"},
		{"/openapi/v2", MediaV2Protobuf + ", application/json", 200, MediaV2Protobuf},
		{"/openapi/v2", "application/json;q=0.5, " + MediaV2Protobuf, 200, MediaV2Protobuf},
		{"/openapi/v2", "text/html", 406, ""},
		{"/openapi/v2", MediaV3Protobuf, 406, ""},
		{"/openapi/v3/api/v1", MediaV3ProtobufDeprecated, 200, MediaV3Protobuf},
		{"/openapi/v3/api/v1", "application/*", 200, "application/json"},
		{"/openapi/v3/apis/nothere/v1", "", 404, ""},
		{"/openapi/v4", "", 404, ""},
	} {
		resp, _ := get(t, s, tc.target, map[string]string{"Accept": tc.accept})
		if resp.StatusCode != tc.status {
			t.Errorf("%s Accept %q: status %d, want %d", tc.target, tc.accept, resp.StatusCode, tc.status)
			continue
		}
		if tc.status == 200 && resp.Header.Get("Content-Type") != tc.contentType {
			t.Errorf("%s Accept %q: Content-Type %q, want %q", tc.target, tc.accept, resp.Header.Get("Content-Type"), tc.contentType)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/openapi/v2", nil)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", rec.Code)
	}
}

func TestV3Index(t *testing.T) {
	s := builtinService(t)
	resp, body := get(t, s, "/openapi/v3", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var idx v3Index
	if err := json.Unmarshal(body, &idx); err != nil {
		t.Fatalf("decoding index: %v", err)
	}
	var want []string
	for _, r := range registry.Builtin() {
		key := groupPath(r.GroupVersion())
		if !slices.Contains(want, key) {
			want = append(want, key)
		}
	}
	slices.Sort(want)
	var got []string
	for k := range idx.Paths {
		got = append(got, k)
	}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("index group versions (-want +got):\n%s", diff)
	}
	for key, e := range idx.Paths {
		resp, body := get(t, s, e.ServerRelativeURL, map[string]string{"Accept": "application/json"})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", e.ServerRelativeURL, resp.StatusCode)
			continue
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "public, immutable, max-age=") {
			t.Errorf("%s: Cache-Control %q", e.ServerRelativeURL, cc)
		}
		if got, want := resp.Header.Get("ETag"), `"`+strings.TrimPrefix(e.ServerRelativeURL, "/openapi/v3/"+key+"?hash=")+`"`; got != want {
			t.Errorf("%s: ETag %s, want %s", key, got, want)
		}
		var doc spec3.OpenAPI
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Errorf("%s: decoding: %v", key, err)
			continue
		}
		assertRefsResolve(t, body, refPrefixV3, func(name string) bool { _, ok := doc.Components.Schemas[name]; return ok })
		if _, err := openapiv3.ParseDocument(body); err != nil {
			t.Errorf("%s: gnostic rejects the document: %v", key, err)
		}
	}

	resp, _ = get(t, s, "/openapi/v3/apis/apps/v1?hash=0123", nil)
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != idx.Paths["apis/apps/v1"].ServerRelativeURL {
		t.Errorf("stale hash: status %d Location %q, want 301 to %q", resp.StatusCode, resp.Header.Get("Location"), idx.Paths["apis/apps/v1"].ServerRelativeURL)
	}
	resp, _ = get(t, s, "/openapi/v3/apis/apps/v1", nil)
	if resp.Header.Get("Cache-Control") != "" {
		t.Errorf("unhashed request: Cache-Control %q, want none", resp.Header.Get("Cache-Control"))
	}
}
