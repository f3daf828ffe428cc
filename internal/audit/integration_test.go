package audit_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"berth.dev/berth/internal/apiserver"
	"berth.dev/berth/internal/apiserver/apiservertest"
	"berth.dev/berth/internal/audit"
)

// startAudited starts a test server that audits with policy (nil: the
// default) into a log file, and returns the server and a function that
// stops it and returns the events logged and the log file's content.
func startAudited(t *testing.T, policy *audit.Policy) (*apiservertest.Server, func() ([]audit.Event, string)) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit", "audit.log")
	sink, err := audit.NewLogSink(audit.LogConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	s := apiservertest.Start(t, func(c *apiserver.Config) {
		c.Audit = audit.New(audit.Config{Policy: policy, Sinks: []audit.Sink{sink}})
	})
	return s, func() ([]audit.Event, string) {
		t.Helper()
		s.Stop()
		if err := sink.Close(); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var events []audit.Event
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var ev audit.Event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("audit log line %q: %v", sc.Text(), err)
			}
			events = append(events, ev)
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return events, string(raw)
	}
}

// summary is what one event says in short: "<stage> <verb> <resource>
// <ns>/<name> <code> <decision> <user>".
func summary(ev audit.Event) string {
	res := ev.RequestURI
	if ev.ObjectRef != nil {
		res = ev.ObjectRef.Resource
		if ev.ObjectRef.Subresource != "" {
			res += "/" + ev.ObjectRef.Subresource
		}
		res += " " + ev.ObjectRef.Namespace + "/" + ev.ObjectRef.Name
	}
	code := int32(0)
	if ev.ResponseStatus != nil {
		code = ev.ResponseStatus.Code
	}
	return fmt.Sprintf("%s %s %s %d %s %s", ev.Stage, ev.Verb, res, code, ev.Annotations[audit.AnnotationDecision], ev.User.Username)
}

func clientFor(t *testing.T, s *apiservertest.Server, user string, groups ...string) *kubernetes.Clientset {
	t.Helper()
	certPEM, keyPEM, err := s.PKI.IssueClientCert(user, groups, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(s.Admin)
	cfg.CertData, cfg.KeyData = certPEM, keyPEM
	return kubernetes.NewForConfigOrDie(cfg)
}

// TestAuditLog drives a session through the API and finds one event per
// request, with the status, decision and user of each; no Secret value
// and no bodies appear at the default policy.
func TestAuditLog(t *testing.T) {
	s, stop := startAudited(t, nil)
	ctx := context.Background()
	admin := kubernetes.NewForConfigOrDie(s.Admin)
	const secretValue = "audit-secret-value-31415"

	if _, err := admin.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db"}, StringData: map[string]string{"password": secretValue},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().Secrets("default").Get(ctx, "db", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := admin.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"k": secretValue},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.ResultChan():
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}
	w.Stop()
	if err := admin.CoreV1().ConfigMaps("default").Delete(ctx, "cm", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := clientFor(t, s, "bob", "devs").CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); err == nil {
		t.Fatal("bob may list pods")
	}
	bearer := rest.AnonymousClientConfig(s.Admin)
	bearer.BearerToken = "not-a-token"
	if _, err := kubernetes.NewForConfigOrDie(bearer).CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err == nil {
		t.Fatal("a bogus token was accepted")
	}
	anon, err := rest.HTTPClientFor(rest.AnonymousClientConfig(s.Admin))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/healthz", "/readyz", "/version"} {
		resp, err := anon.Get(s.Admin.Host + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", p, resp.Status)
		}
	}

	events, rawLog := stop()
	got := map[string]int{}
	for _, ev := range events {
		if ev.Stage == audit.StageRequestReceived {
			t.Errorf("RequestReceived logged: %s", summary(ev))
		}
		if ev.RequestObject != nil || ev.ResponseObject != nil {
			t.Errorf("a body logged at the default policy: %s", summary(ev))
		}
		if ev.Level != audit.LevelMetadata || ev.APIVersion != "audit.k8s.io/v1" || ev.Kind != "Event" || ev.AuditID == "" || len(ev.SourceIPs) == 0 || ev.StageTimestamp.Before(&ev.RequestReceivedTimestamp) {
			t.Errorf("event %+v: missing fields", ev)
		}
		if ev.User.Username == "berth-admin" || ev.User.Username == "bob" || ev.User.Username == "" {
			got[summary(ev)]++
		}
	}
	admName := "berth-admin"
	want := []string{
		"ResponseComplete create secrets default/db 201 allow " + admName,
		"ResponseComplete get secrets default/db 200 allow " + admName,
		"ResponseComplete list secrets default/ 200 allow " + admName,
		"ResponseStarted watch configmaps default/ 200 allow " + admName,
		"ResponseComplete watch configmaps default/ 200 allow " + admName,
		"ResponseComplete create configmaps default/cm 201 allow " + admName,
		"ResponseComplete delete configmaps default/cm 200 allow " + admName,
		"ResponseComplete list pods default/ 403 forbid bob",
		"ResponseStarted list namespaces / 401  ",
	}
	for _, w := range want {
		if got[w] != 1 {
			t.Errorf("%d events %q, want 1", got[w], w)
		}
	}
	if t.Failed() {
		for k, n := range got {
			t.Logf("logged %dx %s", n, k)
		}
	}
	for _, ev := range events {
		if strings.HasPrefix(ev.RequestURI, "/healthz") || strings.HasPrefix(ev.RequestURI, "/readyz") || strings.HasPrefix(ev.RequestURI, "/version") {
			t.Errorf("health check logged: %s", summary(ev))
		}
		if ev.ResponseStatus != nil && ev.ResponseStatus.Code == 401 && ev.ResponseStatus.Message != "Authentication failed, attempted: bearer" {
			t.Errorf("401 message %q", ev.ResponseStatus.Message)
		}
		if ev.ResponseStatus != nil && ev.ResponseStatus.Code == 403 && (ev.ResponseStatus.Reason != metav1.StatusReasonForbidden || !strings.Contains(ev.ResponseStatus.Message, `User "bob" cannot list resource "pods"`)) {
			t.Errorf("403 status %+v", ev.ResponseStatus)
		}
	}
	for _, form := range []string{secretValue, base64.StdEncoding.EncodeToString([]byte(secretValue))} {
		if strings.Contains(rawLog, form) {
			t.Errorf("the audit log contains %q", form)
		}
	}
}

// TestAuditBodies records bodies at RequestResponse, in JSON whatever the
// client spoke, without managedFields; Secrets stay at Metadata.
func TestAuditBodies(t *testing.T) {
	policy, err := audit.ParsePolicy([]byte(`apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
omitManagedFields: true
rules:
  - level: Metadata
    resources: [{group: "", resources: [secrets]}]
  - level: RequestResponse
    resources: [{group: "", resources: [configmaps]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	s, stop := startAudited(t, policy)
	ctx := context.Background()
	proto := rest.CopyConfig(s.Admin)
	proto.ContentType = "application/vnd.kubernetes.protobuf"
	proto.AcceptContentTypes = "application/vnd.kubernetes.protobuf"
	for name, cfg := range map[string]*rest.Config{"json": s.Admin, "protobuf": proto} {
		c := kubernetes.NewForConfigOrDie(cfg)
		if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"k": "value-" + name},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: map[string]string{"k": "hidden-" + name},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	events, rawLog := stop()
	found := map[string]bool{}
	for _, ev := range events {
		if ev.ObjectRef == nil || ev.Verb != "create" {
			continue
		}
		switch ev.ObjectRef.Resource {
		case "secrets":
			if ev.RequestObject != nil || ev.ResponseObject != nil {
				t.Errorf("secret body logged: %s", summary(ev))
			}
		case "configmaps":
			var req, resp corev1.ConfigMap
			if err := json.Unmarshal(ev.RequestObject, &req); err != nil {
				t.Fatalf("requestObject %s: %v", ev.RequestObject, err)
			}
			if err := json.Unmarshal(ev.ResponseObject, &resp); err != nil {
				t.Fatalf("responseObject %s: %v", ev.ResponseObject, err)
			}
			if req.Data["k"] != "value-"+req.Name || resp.Data["k"] != req.Data["k"] || resp.UID == "" {
				t.Errorf("bodies: request %+v, response %+v", req, resp)
			}
			if len(resp.ManagedFields) > 0 {
				t.Error("managedFields logged")
			}
			found[req.Name] = true
		}
	}
	if !found["json"] || !found["protobuf"] {
		t.Errorf("configmap bodies found for %v, want json and protobuf", found)
	}
	if strings.Contains(rawLog, "hidden-") {
		t.Error("a Secret value is in the audit log")
	}
}
