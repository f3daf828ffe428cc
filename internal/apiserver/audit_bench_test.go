package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"berth.dev/berth/internal/audit"
	"berth.dev/berth/internal/auth/pki"
	"berth.dev/berth/internal/store/bolt"
)

// discardSink takes events and drops them.
type discardSink struct{}

func (discardSink) Process([]byte) {}

// BenchmarkAuditOverhead measures the server's handling of a cached GET
// (no TLS, no client) without an auditor, with a policy at level None for
// the request, and at Metadata into a sink that drops events, so that the
// audit hook's own cost shows in ns/op and allocs/op.
func BenchmarkAuditOverhead(b *testing.B) {
	dir := b.TempDir()
	keys, err := pki.Ensure(pki.Config{Dir: filepath.Join(dir, "pki")})
	if err != nil {
		b.Fatal(err)
	}
	certPEM, _ := keys.AdminCert()
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		b.Fatal(err)
	}
	none, err := audit.ParsePolicy([]byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: None}]\n"))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name    string
		auditor *audit.Auditor
	}{
		{"off", nil},
		{"none", audit.New(audit.Config{Policy: none, Sinks: []audit.Sink{discardSink{}}})},
		{"metadata", audit.New(audit.Config{Sinks: []audit.Sink{discardSink{}}})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			st, err := bolt.New(bolt.Config{Path: filepath.Join(b.TempDir(), "state.db")})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			cfg, err := NewConfig(st, keys, Options{})
			if err != nil {
				b.Fatal(err)
			}
			cfg.Audit = bc.auditor
			api, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- api.Run(ctx) }()
			defer func() { cancel(); <-done }()
			deadline := time.Now().Add(20 * time.Second)
			for !api.Ready() {
				if time.Now().After(deadline) {
					b.Fatal("not ready")
				}
				time.Sleep(5 * time.Millisecond)
			}
			h := api.Handler()
			req := httptest.NewRequest(http.MethodGet, "/api/v1/namespaces/default?resourceVersion=0", nil)
			req.Header.Set("Accept", "application/vnd.kubernetes.protobuf")
			req.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("GET: %d %s", w.Code, w.Body)
				}
			}
		})
	}
}
