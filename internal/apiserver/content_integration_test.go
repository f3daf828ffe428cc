package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/metadata"
	"sigs.k8s.io/yaml"
)

const (
	acceptTable = "application/json;as=Table;v=v1;g=meta.k8s.io"
	acceptPOM   = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
)

func TestProtobuf(t *testing.T) {
	ts := startTestServer(t)
	ctx := context.Background()
	ns := ts.namespace(t, "proto")
	pb := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
	encode := func(t *testing.T, obj runtime.Object) []byte {
		t.Helper()
		var buf bytes.Buffer
		if err := pb.Encode(obj, &buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	decode := func(t *testing.T, r rawResponse, into runtime.Object) {
		t.Helper()
		if ct := r.header.Get("Content-Type"); ct != mediaProtobuf {
			t.Fatalf("Content-Type %q (code %d), want %s: %q", ct, r.code, mediaProtobuf, r.body)
		}
		if !bytes.HasPrefix(r.body, protoMagic) {
			t.Fatalf("body does not start with the protobuf magic: %q", r.body)
		}
		if _, _, err := pb.Decode(r.body, nil, into); err != nil {
			t.Fatalf("decoding protobuf response: %v", err)
		}
	}
	path := "/api/v1/namespaces/" + ns + "/pods"

	pod := testPod("p1")
	pod.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	pod.Labels = map[string]string{"a": "b"}
	r := ts.do(t, http.MethodPost, path, encode(t, pod), "Content-Type", mediaProtobuf, "Accept", mediaProtobuf)
	if r.code != http.StatusCreated {
		t.Fatalf("protobuf create: %d %q", r.code, r.body)
	}
	var created corev1.Pod
	decode(t, r, &created)
	if created.Name != "p1" || created.UID == "" || created.Labels["a"] != "b" || created.Spec.Containers[0].Image != "busybox" {
		t.Errorf("protobuf create returned %+v", created.ObjectMeta)
	}

	var got corev1.Pod
	decode(t, ts.do(t, http.MethodGet, path+"/p1", nil, "Accept", mediaProtobuf), &got)
	if got.UID != created.UID || got.ResourceVersion != created.ResourceVersion {
		t.Errorf("protobuf get: uid %s rv %s, want %s %s", got.UID, got.ResourceVersion, created.UID, created.ResourceVersion)
	}

	for _, rv := range []string{"", "0"} {
		var list corev1.PodList
		decode(t, ts.do(t, http.MethodGet, path+"?resourceVersion="+rv, nil, "Accept", mediaProtobuf), &list)
		if len(list.Items) != 1 || list.Items[0].Name != "p1" || list.ResourceVersion == "" {
			t.Errorf("protobuf list (rv=%q): %d items, rv %q", rv, len(list.Items), list.ResourceVersion)
		}
	}

	// Errors come as a protobuf Status too.
	var st metav1.Status
	r = ts.do(t, http.MethodGet, path+"/absent", nil, "Accept", mediaProtobuf)
	decode(t, r, &st)
	if r.code != http.StatusNotFound || st.Message != `pods "absent" not found` || st.Reason != metav1.StatusReasonNotFound {
		t.Errorf("protobuf error: %d %s %q", r.code, st.Reason, st.Message)
	}

	// The typed client with protobuf on both sides.
	cs := ts.protoClientset(t)
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, testPod("p2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 2 {
		t.Errorf("protobuf client list: %d items, want 2", len(l.Items))
	}
	_, err = cs.CoreV1().Pods(ns).Get(ctx, "absent", metav1.GetOptions{})
	wantStatus(t, err, http.StatusNotFound, metav1.StatusReasonNotFound, `pods "absent" not found`)

	// A body that is not protobuf.
	r = ts.do(t, http.MethodPost, path, []byte(`{"kind":"Pod"}`), "Content-Type", mediaProtobuf)
	if r.code != http.StatusBadRequest {
		t.Errorf("JSON body sent as protobuf: %d, want 400", r.code)
	}
}

func TestYAML(t *testing.T) {
	ts := startTestServer(t)
	ns := ts.namespace(t, "yaml")
	path := "/api/v1/namespaces/" + ns + "/configmaps"

	body := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: from-yaml\n")
	r := ts.do(t, http.MethodPost, path, body, "Content-Type", "application/yaml", "Accept", "application/yaml")
	if r.code != http.StatusCreated || r.header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("YAML create: %d %q: %s", r.code, r.header.Get("Content-Type"), r.body)
	}
	r = ts.do(t, http.MethodGet, path+"/from-yaml", nil, "Accept", "application/yaml")
	if r.code != http.StatusOK || r.header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("YAML get: %d %q", r.code, r.header.Get("Content-Type"))
	}
	if bytes.HasPrefix(bytes.TrimSpace(r.body), []byte("{")) {
		t.Errorf("YAML get answered JSON: %s", r.body)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(r.body, &cm); err != nil {
		t.Fatalf("decoding YAML: %v\n%s", err, r.body)
	}
	if cm.Kind != "ConfigMap" || cm.APIVersion != "v1" || cm.Data["k"] != "from-yaml" || cm.UID == "" {
		t.Errorf("YAML get: %s %s data %v uid %q", cm.APIVersion, cm.Kind, cm.Data, cm.UID)
	}

	r = ts.do(t, http.MethodGet, path, nil, "Accept", "application/yaml")
	var list corev1.ConfigMapList
	if err := yaml.Unmarshal(r.body, &list); err != nil {
		t.Fatalf("decoding YAML list: %v", err)
	}
	if list.Kind != "ConfigMapList" || len(list.Items) != 1 {
		t.Errorf("YAML list: kind %q, %d items", list.Kind, len(list.Items))
	}

	r = ts.do(t, http.MethodGet, path+"/absent", nil, "Accept", "application/yaml")
	var st metav1.Status
	if err := yaml.Unmarshal(r.body, &st); err != nil || r.code != http.StatusNotFound || st.Reason != metav1.StatusReasonNotFound {
		t.Errorf("YAML error: %d %v %+v", r.code, err, st)
	}
}

// tableColumns returns "name/type/priority" of each column.
func tableColumns(tb metav1.Table) []string {
	var out []string
	for _, c := range tb.ColumnDefinitions {
		out = append(out, c.Name+"/"+c.Type+"/"+string(rune('0'+c.Priority)))
	}
	return out
}

func decodeTable(t *testing.T, r rawResponse) metav1.Table {
	t.Helper()
	if r.code != http.StatusOK {
		t.Fatalf("Table request: %d %s", r.code, r.body)
	}
	var tb metav1.Table
	if err := json.Unmarshal(r.body, &tb); err != nil {
		t.Fatalf("decoding Table: %v", err)
	}
	if tb.Kind != "Table" || tb.APIVersion != "meta.k8s.io/v1" {
		t.Errorf("Table response is %s %s", tb.APIVersion, tb.Kind)
	}
	return tb
}

func TestTable(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	ctx := context.Background()
	ns := ts.namespace(t, "table")
	for _, name := range []string{"p1", "p2"} {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, testPod(name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	lr, err := cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("pods", func(t *testing.T) {
		tb := decodeTable(t, ts.do(t, http.MethodGet, "/api/v1/namespaces/"+ns+"/pods", nil, "Accept", acceptTable))
		want := []string{"Name/string/0", "Ready/string/0", "Status/string/0", "Restarts/string/0", "Age/string/0",
			"IP/string/1", "Node/string/1", "Nominated Node/string/1", "Readiness Gates/string/1"}
		if diff := cmp.Diff(want, tableColumns(tb)); diff != "" {
			t.Errorf("columns (-want +got):\n%s", diff)
		}
		if tb.ColumnDefinitions[0].Format != "name" || tb.ColumnDefinitions[0].Description == "" {
			t.Errorf("Name column: %+v", tb.ColumnDefinitions[0])
		}
		if len(tb.Rows) != 2 {
			t.Fatalf("%d rows, want 2", len(tb.Rows))
		}
		if diff := cmp.Diff([]any{"p1", "0/1", "Pending", "0"}, tb.Rows[0].Cells[:4]); diff != "" {
			t.Errorf("first row (-want +got):\n%s", diff)
		}
		if len(tb.Rows[0].Cells) != len(tb.ColumnDefinitions) {
			t.Errorf("%d cells for %d columns", len(tb.Rows[0].Cells), len(tb.ColumnDefinitions))
		}
		if tb.ResourceVersion == "" {
			t.Error("Table list has no resourceVersion")
		}
		// Rows carry the object's metadata by default.
		var pom metav1.PartialObjectMetadata
		if err := json.Unmarshal(tb.Rows[1].Object.Raw, &pom); err != nil {
			t.Fatal(err)
		}
		if pom.Kind != "PartialObjectMetadata" || pom.Name != "p2" || pom.Namespace != ns {
			t.Errorf("row object: %s %s/%s", pom.Kind, pom.Namespace, pom.Name)
		}
	})

	t.Run("includeObject=Object and a single object", func(t *testing.T) {
		tb := decodeTable(t, ts.do(t, http.MethodGet, "/api/v1/namespaces/"+ns+"/pods/p1?includeObject=Object", nil, "Accept", acceptTable))
		if len(tb.Rows) != 1 {
			t.Fatalf("%d rows, want 1", len(tb.Rows))
		}
		var pod corev1.Pod
		if err := json.Unmarshal(tb.Rows[0].Object.Raw, &pod); err != nil {
			t.Fatal(err)
		}
		if pod.Kind != "Pod" || pod.Spec.Containers[0].Image != "busybox" {
			t.Errorf("row object: %s with containers %v", pod.Kind, pod.Spec.Containers)
		}
	})

	t.Run("kind with the default columns", func(t *testing.T) {
		tb := decodeTable(t, ts.do(t, http.MethodGet, "/apis/rbac.authorization.k8s.io/v1/namespaces/"+ns+"/roles", nil, "Accept", acceptTable))
		if diff := cmp.Diff([]string{"Name/string/0", "Created At/date/0"}, tableColumns(tb)); diff != "" {
			t.Errorf("columns (-want +got):\n%s", diff)
		}
		want := []any{"reader", lr.CreationTimestamp.UTC().Format(time.RFC3339)}
		if len(tb.Rows) != 1 {
			t.Fatalf("%d rows, want 1", len(tb.Rows))
		}
		if diff := cmp.Diff(want, tb.Rows[0].Cells); diff != "" {
			t.Errorf("row (-want +got):\n%s", diff)
		}
	})

	t.Run("watch", func(t *testing.T) {
		// kubectl get --watch asks for Tables.
		ctx, cancel := context.WithTimeout(ctx, watchDeadline)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.url+"/api/v1/namespaces/"+ns+"/pods?watch=true&resourceVersion=0", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", acceptTable)
		resp, err := ts.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Table watch: %d", resp.StatusCode)
		}
		var ev struct {
			Type   watch.EventType
			Object metav1.Table
		}
		line, err := bufio.NewReader(resp.Body).ReadBytes('\n')
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("decoding %q: %v", line, err)
		}
		if ev.Type != watch.Added || ev.Object.Kind != "Table" || len(ev.Object.Rows) != 1 || ev.Object.Rows[0].Cells[0] != "p1" {
			t.Errorf("first Table watch event: %s %s with rows %v", ev.Type, ev.Object.Kind, ev.Object.Rows)
		}
	})

	t.Run("protobuf Table is not acceptable", func(t *testing.T) {
		r := ts.do(t, http.MethodGet, "/api/v1/namespaces/"+ns+"/pods", nil, "Accept", "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io")
		if r.code != http.StatusNotAcceptable {
			t.Errorf("protobuf Table: %d, want 406", r.code)
		}
		// With a fallback, kubectl's usual Accept header.
		tb := decodeTable(t, ts.do(t, http.MethodGet, "/api/v1/namespaces/"+ns+"/pods", nil, "Accept",
			"application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"))
		if len(tb.Rows) != 2 {
			t.Errorf("%d rows, want 2", len(tb.Rows))
		}
	})
}

func TestPartialObjectMetadata(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	ctx := context.Background()
	ns := ts.namespace(t, "pom")
	for _, name := range []string{"a", "b"} {
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, testConfigMap(name, map[string]string{"n": name}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	r := ts.do(t, http.MethodGet, "/api/v1/namespaces/"+ns+"/configmaps", nil, "Accept", acceptPOM)
	if r.code != http.StatusOK {
		t.Fatalf("%d %s", r.code, r.body)
	}
	if strings.Contains(string(r.body), `"data"`) {
		t.Errorf("metadata list carries data: %s", r.body)
	}
	var list metav1.PartialObjectMetadataList
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatal(err)
	}
	if list.Kind != "PartialObjectMetadataList" || list.APIVersion != "meta.k8s.io/v1" || list.ResourceVersion == "" {
		t.Errorf("list is %s %s at %q", list.APIVersion, list.Kind, list.ResourceVersion)
	}
	if len(list.Items) != 2 || list.Items[0].Name != "a" || list.Items[0].Labels["n"] != "a" || list.Items[0].UID == "" {
		t.Errorf("items: %+v", list.Items)
	}

	// client-go's metadata client, as the garbage collector and
	// kubectl use it.
	mc, err := metadata.NewForConfig(ts.admin)
	if err != nil {
		t.Fatal(err)
	}
	res := mc.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(ns)
	ml, err := res.List(ctx, metav1.ListOptions{LabelSelector: "n=b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ml.Items) != 1 || ml.Items[0].Name != "b" {
		t.Errorf("metadata list by label: %+v", ml.Items)
	}
	one, err := res.Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if one.Name != "a" || one.Labels["n"] != "a" {
		t.Errorf("metadata get: %+v", one.ObjectMeta)
	}
	w, err := res.Watch(ctx, metav1.ListOptions{ResourceVersion: ml.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, testConfigMap("c", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ev := nextEvents(t, w, 1)[0]
	if p, ok := ev.Object.(*metav1.PartialObjectMetadata); !ok || ev.Type != watch.Added || p.Name != "c" {
		t.Errorf("metadata watch event: %s %T %+v", ev.Type, ev.Object, ev.Object)
	}
	if _, err := res.Get(ctx, "absent", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("metadata get of a missing object: %v", err)
	}
}

func TestNegotiationErrors(t *testing.T) {
	ts := startTestServer(t)
	r := ts.do(t, http.MethodGet, "/api/v1/namespaces", nil, "Accept", "text/html")
	if r.code != http.StatusNotAcceptable {
		t.Errorf("Accept text/html: %d, want 406", r.code)
	}
	if st := decodeStatus(t, r); st.Reason != metav1.StatusReasonNotAcceptable {
		t.Errorf("406 reason %q", st.Reason)
	}
	r = ts.do(t, http.MethodPost, "/api/v1/namespaces/default/configmaps", []byte("x"), "Content-Type", "text/plain")
	if r.code != http.StatusUnsupportedMediaType {
		t.Errorf("Content-Type text/plain: %d, want 415", r.code)
	}
	r = ts.do(t, http.MethodPost, "/api/v1/namespaces/default/configmaps", []byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}`), "Content-Type", "application/json")
	if r.code != http.StatusBadRequest {
		t.Errorf("Secret posted to configmaps: %d, want 400: %s", r.code, r.body)
	}
	r = ts.do(t, http.MethodGet, "/api/v1/namespaces/default/widgets", nil)
	if r.code != http.StatusNotFound {
		t.Errorf("unknown resource: %d, want 404", r.code)
	}
	r = ts.do(t, http.MethodPost, "/api/v1/namespaces/default/configmaps", bytes.Repeat([]byte(" "), 3<<20+10), "Content-Type", "application/json")
	if r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("body over 3 MiB: %d, want 413", r.code)
	}
}
