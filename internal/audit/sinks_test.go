package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func TestLogSinkRotation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	path := filepath.Join(dir, "audit.log")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := NewLogSink(LogConfig{Path: path, MaxSize: 26, MaxBackups: 2, MaxAge: 36 * time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	event := func(i int) []byte { return []byte(`{"n":` + strings.Repeat("1", 5) + string(rune('0'+i)) + `}`) } // 12 bytes and a newline
	for i := range 7 {
		s.Process(event(i))
		now = now.Add(time.Hour)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Process(event(9)) // after Close: dropped
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
	// Two events (13 bytes each) per file: rotations at events 2, 4 and 6; the oldest
	// backup is removed (MaxBackups 2).
	want := []string{"audit-2026-01-01T04-00-00.000.log", "audit-2026-01-01T06-00-00.000.log", "audit.log"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	cur, _ := os.ReadFile(path)
	if string(cur) != string(event(6))+"\n" {
		t.Errorf("current file %q", cur)
	}
	last, _ := os.ReadFile(filepath.Join(dir, want[1]))
	if string(last) != string(event(4))+"\n"+string(event(5))+"\n" {
		t.Errorf("last backup %q", last)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}

	// MaxAge: reopening and rotating much later removes the old backups.
	now = now.Add(72 * time.Hour)
	s, err = NewLogSink(LogConfig{Path: path, MaxSize: 26, MaxAge: 36 * time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	s.Process(event(7))
	s.Process(event(8))
	s.Close()
	entries, _ = os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("after MaxAge: %d files, want the new backup and the log", len(entries))
	}
}

func TestLogSinkStdout(t *testing.T) {
	var out bytes.Buffer
	s, err := NewLogSink(LogConfig{Path: "-", Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	s.Process([]byte(`{"a":1}`))
	s.Process([]byte(`{"a":2}`))
	if out.String() != "{\"a\":1}\n{\"a\":2}\n" {
		t.Errorf("stdout %q", out.String())
	}
}

// webhookServer records the EventLists it receives; it fails the first
// failures requests with 503.
type webhookServer struct {
	mu       sync.Mutex
	lists    []EventList
	failures int
}

func (h *webhookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failures > 0 {
		h.failures--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	b, _ := io.ReadAll(r.Body)
	var l EventList
	if err := json.Unmarshal(b, &l); err != nil || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "bad", http.StatusBadRequest)
		return
	}
	h.lists = append(h.lists, l)
}

func (h *webhookServer) ids() (ids []string, batches int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.lists {
		for _, ev := range l.Items {
			ids = append(ids, ev.AuditID)
		}
	}
	return ids, len(h.lists)
}

func writeKubeconfig(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["hook"] = &clientcmdapi.Cluster{Server: srv.URL + "/audit", CertificateAuthorityData: pemCert(srv)}
	cfg.AuthInfos["hook"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["hook"] = &clientcmdapi.Context{Cluster: "hook", AuthInfo: "hook"}
	cfg.CurrentContext = "hook"
	path := filepath.Join(t.TempDir(), "webhook.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestWebhookSinkBatchesAndRetries(t *testing.T) {
	hook := &webhookServer{failures: 2}
	srv := httptest.NewTLSServer(hook)
	defer srv.Close()
	w, err := NewWebhookSink(WebhookConfig{Kubeconfig: writeKubeconfig(t, srv), MaxBatchSize: 3, MaxBatchWait: 10 * time.Millisecond, InitialBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 7 {
		id := string(rune('a' + i))
		want = append(want, id)
		w.Process([]byte(`{"kind":"Event","auditID":"` + id + `"}`))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids, batches := hook.ids()
		if len(ids) == len(want) {
			if diff := cmp.Diff(want, ids); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if batches != 3 {
				t.Errorf("%d batches, want 3 of at most 3 events", batches)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook got %v", ids)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWebhookSinkDropsWhenFull(t *testing.T) {
	hook := &webhookServer{}
	srv := httptest.NewTLSServer(hook)
	defer srv.Close()
	w, err := NewWebhookSink(WebhookConfig{Kubeconfig: writeKubeconfig(t, srv), BufferSize: 2, MaxBatchWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		w.Process([]byte(`{"auditID":"` + id + `"}`))
	}
	if w.Dropped() != 2 {
		t.Errorf("dropped %d, want 2", w.Dropped())
	}
	// A cancelled Run still flushes what is queued.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	ids, _ := hook.ids()
	slices.Sort(ids)
	if diff := cmp.Diff([]string{"a", "b"}, ids); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}

func pemCert(srv *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}
