package audit

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"berth.dev/berth/internal/auth"
)

// memorySink keeps events decoded.
type memorySink struct {
	mu     sync.Mutex
	events []Event
}

func (m *memorySink) Process(b []byte) {
	var ev Event
	if err := json.Unmarshal(b, &ev); err != nil {
		panic(err)
	}
	m.mu.Lock()
	m.events = append(m.events, ev)
	m.mu.Unlock()
}

var (
	t0 = time.Date(2026, 11, 22, 10, 0, 0, 123456000, time.UTC)
	t1 = t0.Add(1500 * time.Microsecond)
)

func policyWith(level Level, extra string) *Policy {
	p, err := ParsePolicy([]byte("apiVersion: audit.k8s.io/v1\nkind: Policy\n" + extra + "rules: [{level: " + string(level) + "}]\n"))
	if err != nil {
		panic(err)
	}
	return p
}

func jsonIdentity(ct string, b []byte) (json.RawMessage, bool) {
	return b, strings.HasPrefix(ct, "application/json")
}

func TestRecorderEventFields(t *testing.T) {
	user := auth.User{Name: "alice", UID: "u-1", Groups: []string{"devs", "system:authenticated"}, Extra: map[string][]string{"scope": {"a"}}}
	attrs := auth.Attributes{User: user, Verb: "create", IsResource: true, APIGroup: "apps", APIVersion: "v1", Resource: "deployments", Subresource: "scale", Namespace: "ns", Name: "web"}
	body := `{"kind":"Scale","metadata":{"name":"web","managedFields":[{"manager":"m"}]},"spec":{"replicas":3}}`
	tests := []struct {
		name       string
		policy     *Policy
		wantStages []Stage
		wantReq    string
		wantResp   string
	}{
		{"metadata", policyWith(LevelMetadata, ""), []Stage{StageRequestReceived, StageResponseComplete}, "", ""},
		{"request, RequestReceived omitted", policyWith(LevelRequest, "omitStages: [RequestReceived]\n"), []Stage{StageResponseComplete}, body, ""},
		{"request response without managedFields", policyWith(LevelRequestResponse, "omitManagedFields: true\n"), []Stage{StageRequestReceived, StageResponseComplete},
			`{"kind":"Scale","metadata":{"name":"web"},"spec":{"replicas":3}}`, `{"kind":"Scale","metadata":{"name":"web"},"status":{"replicas":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &memorySink{}
			clock := []time.Time{t1, t1}
			a := New(Config{Policy: tt.policy, Sinks: []Sink{sink}, Now: func() time.Time { c := clock[0]; clock = clock[1:]; return c }})
			r := httptest.NewRequest(http.MethodPut, "/apis/apps/v1/namespaces/ns/deployments/web/scale?fieldManager=x", strings.NewReader(body))
			r.RemoteAddr = "192.0.2.7:5555"
			r.Header.Set("User-Agent", "kubectl/v1.37")
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Audit-ID", "id-1")
			d := a.Evaluate(attrs)
			rec := a.Start(d, r, attrs, t0)
			rec.SetAuthorization(true, `RBAC: allowed by ClusterRoleBinding "x"`)
			w := httptest.NewRecorder()
			rw := rec.WrapWriter(w, false)
			rec.CaptureRequestBody(r)
			buf := make([]byte, len(body)+10)
			n, _ := r.Body.Read(buf)
			if string(buf[:n]) != body {
				t.Fatalf("handler read %q", buf[:n])
			}
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(http.StatusCreated)
			_, _ = rw.Write([]byte(`{"kind":"Scale","metadata":{"name":"web","managedFields":[{"manager":"m"}]},"status":{"replicas":1}}`))
			rec.Complete(jsonIdentity)
			if w.Header().Get("Audit-Id") != "id-1" {
				t.Errorf("Audit-Id header %q", w.Header().Get("Audit-Id"))
			}
			var stages []Stage
			for _, ev := range sink.events {
				stages = append(stages, ev.Stage)
			}
			if diff := cmp.Diff(tt.wantStages, stages); diff != "" {
				t.Fatalf("stages (-want +got):\n%s", diff)
			}
			got := sink.events[len(sink.events)-1]
			want := Event{
				Kind: "Event", APIVersion: "audit.k8s.io/v1", Level: tt.policy.Rules[0].Level, AuditID: "id-1",
				Stage: StageResponseComplete, RequestURI: "/apis/apps/v1/namespaces/ns/deployments/web/scale?fieldManager=x", Verb: "create",
				User:      authnv1.UserInfo{Username: "alice", UID: "u-1", Groups: []string{"devs", "system:authenticated"}, Extra: map[string]authnv1.ExtraValue{"scope": {"a"}}},
				SourceIPs: []string{"192.0.2.7"}, UserAgent: "kubectl/v1.37",
				ObjectRef:                &ObjectReference{Resource: "deployments", Namespace: "ns", Name: "web", APIGroup: "apps", APIVersion: "v1", Subresource: "scale"},
				ResponseStatus:           &metav1.Status{Code: 201},
				RequestReceivedTimestamp: metav1.NewMicroTime(t0),
				StageTimestamp:           metav1.NewMicroTime(t1),
				Annotations:              map[string]string{AnnotationDecision: "allow", AnnotationReason: `RBAC: allowed by ClusterRoleBinding "x"`},
			}
			if tt.wantReq != "" {
				want.RequestObject = json.RawMessage(tt.wantReq)
			}
			if tt.wantResp != "" {
				want.ResponseObject = json.RawMessage(tt.wantResp)
			}
			if diff := cmp.Diff(want, got, cmp.Transformer("json", func(m json.RawMessage) string { return string(m) })); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecorderRawJSON(t *testing.T) {
	var lines []string
	a := New(Config{Policy: policyWith(LevelMetadata, ""), Sinks: []Sink{sinkFunc(func(b []byte) { lines = append(lines, string(b)) })}, Now: func() time.Time { return t1 }})
	r := httptest.NewRequest(http.MethodGet, "/api", nil)
	r.Header.Set("Audit-ID", "x")
	r.RemoteAddr = "127.0.0.1:1"
	attrs := auth.Attributes{User: auth.User{Name: "u"}, Verb: "get", Path: "/api"}
	rec := a.Start(a.Evaluate(attrs), r, attrs, t0)
	rw := rec.WrapWriter(httptest.NewRecorder(), false)
	rw.WriteHeader(200)
	rec.Complete(jsonIdentity)
	want := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"x","stage":"ResponseComplete","requestURI":"/api","verb":"get","user":{"username":"u"},"sourceIPs":["127.0.0.1"],"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-11-22T10:00:00.123456Z","stageTimestamp":"2026-11-22T10:00:00.124956Z"}`
	if len(lines) != 2 || lines[1] != want {
		t.Errorf("events:\n%s\nwant the last:\n%s", strings.Join(lines, "\n"), want)
	}
}

type sinkFunc func([]byte)

func (f sinkFunc) Process(b []byte) { f(b) }

func TestRecorderStages(t *testing.T) {
	attrs := auth.Attributes{User: auth.User{Name: "u"}, Verb: "watch", IsResource: true, APIVersion: "v1", Resource: "pods"}
	t.Run("long running", func(t *testing.T) {
		sink := &memorySink{}
		a := New(Config{Policy: policyWith(LevelRequestResponse, "omitStages: [RequestReceived]\n"), Sinks: []Sink{sink}})
		rec := a.Start(a.Evaluate(attrs), httptest.NewRequest(http.MethodGet, "/api/v1/pods?watch=1", nil), attrs, t0)
		w := httptest.NewRecorder()
		rw := rec.WrapWriter(w, true)
		rw.WriteHeader(http.StatusOK)
		if len(sink.events) != 1 || sink.events[0].Stage != StageResponseStarted || sink.events[0].ResponseStatus.Code != 200 {
			t.Fatalf("after the header: %+v, want one ResponseStarted with 200", sink.events)
		}
		_, _ = rw.Write([]byte(`{"type":"ADDED","object":{}}`))
		rw.(http.Flusher).Flush()
		if !w.Flushed {
			t.Error("Flush did not reach the writer")
		}
		rec.Complete(jsonIdentity)
		if len(sink.events) != 2 || sink.events[1].Stage != StageResponseComplete || sink.events[1].ResponseObject != nil {
			t.Errorf("events %+v: want ResponseComplete without the streamed body", sink.events)
		}
	})
	t.Run("panic", func(t *testing.T) {
		sink := &memorySink{}
		a := New(Config{Policy: policyWith(LevelMetadata, "omitStages: [RequestReceived]\n"), Sinks: []Sink{sink}})
		rec := a.Start(a.Evaluate(attrs), httptest.NewRequest(http.MethodGet, "/api/v1/pods", nil), attrs, t0)
		rec.WrapWriter(httptest.NewRecorder(), false)
		rec.Panic("boom")
		rec.Complete(jsonIdentity)
		if len(sink.events) != 1 || sink.events[0].Stage != StagePanic || sink.events[0].ResponseStatus.Code != 500 || !strings.Contains(sink.events[0].ResponseStatus.Message, "boom") {
			t.Errorf("events %+v: want one Panic", sink.events)
		}
	})
	t.Run("denied", func(t *testing.T) {
		sink := &memorySink{}
		a := New(Config{Policy: policyWith(LevelMetadata, "omitStages: [RequestReceived]\n"), Sinks: []Sink{sink}})
		rec := a.Start(a.Evaluate(attrs), httptest.NewRequest(http.MethodGet, "/api/v1/pods", nil), attrs, t0)
		rw := rec.WrapWriter(httptest.NewRecorder(), false)
		rec.SetAuthorization(false, "no RBAC policy matched")
		rec.SetStatus(&metav1.Status{Status: metav1.StatusFailure, Message: "pods is forbidden", Reason: metav1.StatusReasonForbidden, Code: 403})
		rw.WriteHeader(403)
		rec.Complete(jsonIdentity)
		want := &metav1.Status{Status: metav1.StatusFailure, Message: "pods is forbidden", Reason: metav1.StatusReasonForbidden, Code: 403}
		ev := sink.events[0]
		if diff := cmp.Diff(want, ev.ResponseStatus); diff != "" {
			t.Errorf("status (-want +got):\n%s", diff)
		}
		if ev.Annotations[AnnotationDecision] != "forbid" || ev.Annotations[AnnotationReason] != "no RBAC policy matched" {
			t.Errorf("annotations %v", ev.Annotations)
		}
	})
}

func TestFailedAuthentication(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(r *http.Request)
		want    string
	}{
		{"nothing", func(*http.Request) {}, "Authentication failed, no credentials provided"},
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") }, "Authentication failed, attempted: bearer"},
		{"basic and cert", func(r *http.Request) {
			r.SetBasicAuth("a", "b")
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{}}}
		}, "Authentication failed, attempted: basic, x509"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &memorySink{}
			a := New(Config{Sinks: []Sink{sink}})
			r := httptest.NewRequest(http.MethodGet, "/api/v1/namespaces/a/secrets", nil)
			tt.prepare(r)
			a.FailedAuthentication(r, auth.Attributes{Verb: "list", IsResource: true, APIVersion: "v1", Resource: "secrets", Namespace: "a"}, t0)
			if len(sink.events) != 1 {
				t.Fatalf("%d events, want 1", len(sink.events))
			}
			ev := sink.events[0]
			want := &metav1.Status{Message: tt.want, Code: 401}
			if diff := cmp.Diff(want, ev.ResponseStatus); diff != "" || ev.Stage != StageResponseStarted || ev.User.Username != "" {
				t.Errorf("event %+v; status diff:\n%s", ev, diff)
			}
		})
	}
}

// TestRecorderHijack: a hijacked connection (exec over HTTP/1.1) still
// works through the wrapped writer and is recorded as 101.
func TestRecorderHijack(t *testing.T) {
	sink := &memorySink{}
	a := New(Config{Policy: policyWith(LevelMetadata, "omitStages: [RequestReceived]\n"), Sinks: []Sink{sink}})
	attrs := auth.Attributes{User: auth.User{Name: "u"}, Verb: "create", IsResource: true, Resource: "pods", Subresource: "exec", Namespace: "ns", Name: "p"}
	handled := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handled)
		rec := a.Start(a.Evaluate(attrs), r, attrs, t0)
		defer rec.Complete(jsonIdentity)
		rw := rec.WrapWriter(w, true)
		conn, buf, err := rw.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\nhello")
		_ = buf.Flush()
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/namespaces/ns/pods/p/exec", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	select {
	case <-handled:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not return")
	}
	var got []string
	for _, ev := range sink.events {
		got = append(got, fmt.Sprintf("%s %d", ev.Stage, ev.ResponseStatus.Code))
	}
	if diff := cmp.Diff([]string{"ResponseStarted 101", "ResponseComplete 101"}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
