package apiserver

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"unicode/utf8"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"

	"berth.dev/berth/internal/registry"
	"berth.dev/berth/internal/store/bolt"
)

// newFuzzServer builds a Server that is not running: enough for the
// decoders and parsers, which need no store.
func newFuzzServer(f *testing.F) *Server {
	f.Helper()
	st, err := bolt.New(bolt.Config{Path: filepath.Join(f.TempDir(), "state.db")})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	s, err := New(Config{Store: st, Resources: registry.Builtin()})
	if err != nil {
		f.Fatal(err)
	}
	return s
}

// wantClientError fails unless err is an API error in the 4xx range: bad
// input must never look like a server fault.
func wantClientError(t *testing.T, err error) {
	t.Helper()
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not an API status", err, err)
	}
	if c := se.Status().Code; c < 400 || c >= 500 {
		t.Fatalf("error %q has code %d, want 4xx", se.Status().Message, c)
	}
}

func FuzzParseRequestInfo(f *testing.F) {
	for _, s := range []struct{ method, path, query string }{
		{"GET", "/api/v1/namespaces/default/pods", ""},
		{"GET", "/api/v1/namespaces/default/pods", "watch=true"},
		{"GET", "/api/v1/watch/namespaces/default/pods/p", ""},
		{"PUT", "/api/v1/namespaces/x/finalize", ""},
		{"PATCH", "/apis/apps/v1/namespaces/ns/deployments/d/scale", ""},
		{"DELETE", "/apis/apps/v1/namespaces/ns/deployments", "dryRun=All"},
		{"POST", "/api/v1/namespaces", ""},
		{"GET", "/api/v1/watch", ""},
		{"GET", "/apis/apps/v1/watch/", ""},
		{"GET", "/api/v1/namespaces/", ""},
		{"GET", "//api//v1///", "watch=1"},
		{"OPTIONS", "/apis/a/b/c/d/e/f/g", ""},
		{"", "", ""},
		{"GET", "/api/v1/namespaces/ns/status", ""},
	} {
		f.Add(s.method, s.path, s.query)
	}
	f.Fuzz(func(t *testing.T, method, path, query string) {
		r := &http.Request{Method: method, URL: &url.URL{Path: path, RawQuery: query}}
		info := parseRequestInfo(r)
		if info.Path != path {
			t.Errorf("Path %q, want %q", info.Path, path)
		}
		if !info.IsResource {
			return
		}
		if info.APIPrefix != "api" && info.APIPrefix != "apis" {
			t.Errorf("resource request with prefix %q", info.APIPrefix)
		}
		if info.APIPrefix == "api" && info.Group != "" {
			t.Errorf("core request with group %q", info.Group)
		}
		if info.Subresource != "" && info.Name == "" {
			t.Errorf("subresource %q without a name", info.Subresource)
		}
		if len(info.Parts) == 0 || info.Parts[0] != info.Resource {
			t.Errorf("parts %q do not start with resource %q", info.Parts, info.Resource)
		}
		if info.Verb == "" && method != "" {
			t.Errorf("no verb for method %q", method)
		}
	})
}

func FuzzNegotiateOutput(f *testing.F) {
	for _, s := range []string{
		"",
		"application/json",
		"application/yaml",
		"application/vnd.kubernetes.protobuf",
		"application/vnd.kubernetes.protobuf;stream=watch",
		"application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
		"application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io",
		"application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
		"application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;v=v1beta1;g=meta.k8s.io",
		"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
		"text/html, */*;q=0.8",
		"application/*;pretty=1",
		";;;,,,=",
		"application/json;as=",
		`application/json;as="Table";g="meta.k8s.io";v="v1"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		out, ok := negotiateOutput(accept)
		if !ok {
			if out != (outputFormat{}) {
				t.Errorf("refused Accept returned %+v", out)
			}
			return
		}
		switch out.mediaType {
		case mediaJSON, mediaYAML, mediaProtobuf:
		default:
			t.Errorf("media type %q", out.mediaType)
		}
		switch out.as {
		case "":
			if out.asVersion != "" {
				t.Errorf("asVersion %q without as", out.asVersion)
			}
		case "Table", "PartialObjectMetadata", "PartialObjectMetadataList":
			if out.asVersion != "v1" && out.asVersion != "v1beta1" {
				t.Errorf("as=%s with version %q", out.as, out.asVersion)
			}
		default:
			t.Errorf("as %q", out.as)
		}
		if out.as == "Table" && out.mediaType == mediaProtobuf {
			t.Error("Table negotiated as protobuf")
		}
		if _, ok := negotiateOutput(accept); !ok {
			t.Error("negotiation is not deterministic")
		}
	})
}

func FuzzDecodeContinue(f *testing.F) {
	for _, s := range []string{
		encodeContinue(1, "a"),
		encodeContinue(9223372036854775807, "ns/name"),
		encodeContinue(5, ""),
		encodeContinue(5, "../escape"),
		"",
		"not base64!",
		"eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6LTEsInN0YXJ0IjoiYVx1MDAwMCJ9", // rv -1
		"e30",    // {}
		"bnVsbA", // null
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := decodeContinue(s)
		if err != nil {
			wantClientError(t, err)
			return
		}
		if tok.ResourceVersion <= 0 || tok.APIVersion != "meta.k8s.io/v1" {
			t.Errorf("accepted token %+v", tok)
		}
		if bytes.Contains([]byte(tok.StartKey), []byte("..")) {
			t.Errorf("accepted start key %q with ..", tok.StartKey)
		}
		// What was accepted survives a round trip.
		again, err := decodeContinue(encodeContinue(tok.ResourceVersion, tok.StartKey))
		if err != nil {
			t.Fatalf("re-encoded token refused: %v", err)
		}
		if utf8.ValidString(tok.StartKey) && again != tok {
			t.Errorf("round trip %+v → %+v", tok, again)
		}
	})
}

func FuzzContinueRoundTrip(f *testing.F) {
	f.Add(int64(1), "default/a")
	f.Add(int64(42), "")
	f.Add(int64(7), "x\x00")
	f.Fuzz(func(t *testing.T, rev int64, key string) {
		tok, err := decodeContinue(encodeContinue(rev, key))
		valid := rev > 0 && !bytes.Contains([]byte(key+"\x00"), []byte(".."))
		if !valid {
			if err == nil {
				t.Errorf("token for rev %d key %q accepted", rev, key)
			}
			return
		}
		if err != nil {
			t.Fatalf("token for rev %d key %q refused: %v", rev, key, err)
		}
		if utf8.ValidString(key) && (tok.ResourceVersion != rev || tok.StartKey != key) {
			t.Errorf("round trip (%d, %q) → (%d, %q)", rev, key, tok.ResourceVersion, tok.StartKey)
		}
	})
}

// fuzzContentTypes and fuzzModes are what FuzzDecodeBody picks from.
var (
	fuzzContentTypes = []string{"application/json", "application/yaml", mediaProtobuf, "", "application/json; charset=utf-8", "text/plain"}
	fuzzModes        = []string{"Strict", "Warn", "Ignore", ""}
)

func FuzzDecodeBody(f *testing.F) {
	s := newFuzzServer(f)
	gvk := appsv1.SchemeGroupVersion.WithKind("Deployment")

	d := testDeployment("web")
	d.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
	var pb bytes.Buffer
	if err := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme).Encode(d, &pb); err != nil {
		f.Fatal(err)
	}
	jsonDoc, err := s.encodeJSON(d)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct {
		body     []byte
		ct, mode uint8
	}{
		{jsonDoc, 0, 0},
		{jsonDoc, 0, 1},
		{[]byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a"},"spec":{"foo":1}}`), 0, 0},
		{[]byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a","name":"b"}}`), 0, 1},
		{[]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}}`), 0, 2},
		{[]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\nspec:\n  replicas: 2\n  foo: x\n"), 1, 0},
		{[]byte("a: &a [*a, *a]\n"), 1, 1},
		{[]byte("- - - -\n"), 1, 2},
		{pb.Bytes(), 2, 0},
		{append(append([]byte{}, protoMagic...), 0x0a, 0xff, 0x01), 2, 1},
		{[]byte("null"), 0, 0},
		{[]byte("[]"), 0, 1},
		{[]byte(""), 3, 2},
		{[]byte(`{"spec":{"replicas":"3"}}`), 4, 0},
		{jsonDoc, 5, 0},
	} {
		f.Add(seed.body, seed.ct, seed.mode)
	}
	f.Fuzz(func(t *testing.T, body []byte, ct, mode uint8) {
		contentType := fuzzContentTypes[int(ct)%len(fuzzContentTypes)]
		q := url.Values{}
		if m := fuzzModes[int(mode)%len(fuzzModes)]; m != "" {
			q.Set("fieldValidation", m)
		}
		r := &http.Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {contentType}}}
		req := &request{query: q}
		obj, err := s.decodeBody(r, req, body, gvk, &appsv1.Deployment{})
		if err != nil {
			wantClientError(t, err)
			return
		}
		if _, ok := obj.(*appsv1.Deployment); !ok {
			t.Fatalf("decoded %T, want *Deployment", obj)
		}
		if got := obj.GetObjectKind().GroupVersionKind(); got != gvk {
			t.Errorf("decoded kind %v, want %v", got, gvk)
		}
		// What Strict accepts, Ignore accepts too.
		if q.Get("fieldValidation") == "Strict" {
			if _, err := s.decodeBody(r, &request{query: url.Values{"fieldValidation": {"Ignore"}}}, body, gvk, &appsv1.Deployment{}); err != nil {
				t.Errorf("accepted in Strict mode, refused in Ignore mode: %v", err)
			}
		}
	})
}

func FuzzApplyPatch(f *testing.F) {
	s := newFuzzServer(f)
	d := testDeployment("web")
	d.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
	d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: "sidecar", Image: "envoy"})
	doc, err := s.encodeJSON(d)
	if err != nil {
		f.Fatal(err)
	}
	patchTypes := []types.PatchType{types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType}
	for _, seed := range []struct {
		patch string
		pt    uint8
	}{
		{`[{"op":"replace","path":"/spec/replicas","value":3}]`, 0},
		{`[{"op":"move","from":"/spec","path":"/spec/template"}]`, 0},
		{`[{"op":"copy","from":"/spec","path":"/metadata/x"}]`, 0},
		{`[{"op":"test","path":"/spec/replicas","value":9}]`, 0},
		{`[{"op":"remove","path":"/spec/template/spec/containers/-1"}]`, 0},
		{`{"metadata":{"labels":{"a":null}}}`, 1},
		{`null`, 1},
		{`{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}`, 2},
		{`{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"x"}],"containers":[{"image":"y"}]}}}}`, 2},
		{`{"$patch":"replace"}`, 2},
		{`{"spec":{"template":{"spec":{"containers":{"$retainKeys":[1]}}}}}`, 2},
	} {
		f.Add([]byte(seed.patch), seed.pt)
	}
	f.Fuzz(func(t *testing.T, patch []byte, pt uint8) {
		out, err := applyPatch(patchTypes[int(pt)%len(patchTypes)], doc, patch, &appsv1.Deployment{})
		if err != nil {
			wantClientError(t, err)
			return
		}
		if len(out) == 0 {
			t.Error("patch succeeded with an empty document")
		}
	})
}

func FuzzSelectors(f *testing.F) {
	s := newFuzzServer(f)
	pods := s.resources[schema.GroupVersion{Version: "v1"}]["pods"]
	pod := testPod("p")
	pod.Labels = map[string]string{"app": "web", "tier": "front"}
	pod.Spec.NodeName = "n1"
	obj := pods.newCachedObject("/registry/core/pods/default/p", pod, 1)
	for _, seed := range [][2]string{
		{"app=web", "spec.nodeName=n1"},
		{"app in (web,db),!tier", "metadata.name!=p,status.phase=Running"},
		{"tier notin (x)", "spec.foo=bar"},
		{"a=b=c", "metadata.name"},
		{"x(", `metadata.name=a\,b`},
		{"", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, labelSel, fieldSel string) {
		req := &request{res: pods, query: url.Values{"labelSelector": {labelSel}, "fieldSelector": {fieldSel}}}
		sel, err := s.selectors(req)
		if err != nil {
			wantClientError(t, err)
			return
		}
		sel.matches(obj)
		filterEvent(cacheEvent{typ: "MODIFIED", res: pods, obj: obj, prev: obj, rev: 2}, sel)
	})
}
