package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"berth.dev/berth/internal/auth/pki"
)

func parseCert(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestX509(t *testing.T) {
	keys, err := pki.Ensure(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.Ensure(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	nodeCert, _, err := keys.IssueClientCert("system:node:n1", []string{"system:nodes"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	foreign, _, err := other.IssueClientCert("mallory", []string{SystemMasters}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a := &X509{Roots: keys.CAPool()}
	tests := []struct {
		name    string
		certs   []*x509.Certificate
		want    User
		ok      bool
		wantErr bool
	}{
		{name: "no certificate"},
		{name: "cluster CA", certs: []*x509.Certificate{parseCert(t, nodeCert)}, ok: true,
			want: User{Name: "system:node:n1", Groups: []string{"system:nodes", "system:authenticated"}}},
		{name: "foreign CA", certs: []*x509.Certificate{parseCert(t, foreign)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api", nil)
			r.TLS = &tls.ConnectionState{PeerCertificates: tt.certs}
			got, ok, err := a.Authenticate(r)
			if (err != nil) != tt.wantErr || ok != tt.ok {
				t.Fatalf("Authenticate = %v, %v, %v; want ok=%v err=%v", got, ok, err, tt.ok, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("user (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMasters(t *testing.T) {
	for _, tt := range []struct {
		groups []string
		want   Decision
	}{
		{[]string{SystemMasters, "system:authenticated"}, Allow},
		{[]string{"system:nodes"}, NoOpinion},
		{nil, NoOpinion},
	} {
		d, _, err := Masters{}.Authorize(context.Background(), Attributes{User: User{Name: "u", Groups: tt.groups}, Verb: "delete"})
		if err != nil || d != tt.want {
			t.Errorf("groups %v: got %v, %v; want %v", tt.groups, d, err, tt.want)
		}
	}
}
