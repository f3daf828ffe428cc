package pki

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// startServer serves, with p's serving TLS configuration on loopback, the
// subject of the client certificate of each request ("CN [O...]"), or
// "anonymous".
func startServer(t *testing.T, p *PKI) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 {
			fmt.Fprint(w, "anonymous")
			return
		}
		s := r.TLS.PeerCertificates[0].Subject
		fmt.Fprintf(w, "%s %v", s.CommonName, s.Organization)
	}))
	srv.EnableHTTP2 = true
	srv.TLS = p.ServingTLSConfig()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// get fetches url with client and returns the body and the protocol of the
// response.
func get(client *http.Client, url string) (body, proto string, err error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", "", err
	}
	return string(b), resp.Proto, nil
}

func keyPair(t *testing.T, certPEM, keyPEM []byte) tls.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestServingTLS(t *testing.T) {
	p := mustEnsure(t, Config{Dir: t.TempDir()})
	srv := startServer(t, p)
	other := mustEnsure(t, Config{Dir: t.TempDir()})

	adminCert, adminKey := p.AdminCert()
	admin := keyPair(t, adminCert, adminKey)
	nodeCert, nodeKey, err := p.IssueClientCert("system:node:n1", []string{"system:nodes"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	node := keyPair(t, nodeCert, nodeKey)
	foreignCert, foreignKey := other.AdminCert()
	foreign := keyPair(t, foreignCert, foreignKey)

	tests := []struct {
		name string
		// edit changes the default client configuration: the CA pool,
		// no client certificate, TLS 1.2 or later, h2 and http/1.1.
		edit      func(*tls.Config)
		wantBody  string
		wantProto string
		// wantErr, if set, is a part of the expected error.
		wantErr string
	}{
		{
			name:      "admin certificate",
			edit:      func(c *tls.Config) { c.Certificates = []tls.Certificate{admin} },
			wantBody:  "berth-admin [system:masters]",
			wantProto: "HTTP/2.0",
		},
		{
			name:      "issued node certificate",
			edit:      func(c *tls.Config) { c.Certificates = []tls.Certificate{node} },
			wantBody:  "system:node:n1 [system:nodes]",
			wantProto: "HTTP/2.0",
		},
		{
			name:      "no client certificate",
			edit:      func(c *tls.Config) {},
			wantBody:  "anonymous",
			wantProto: "HTTP/2.0",
		},
		{
			name:      "http/1.1 only",
			edit:      func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} },
			wantBody:  "anonymous",
			wantProto: "HTTP/1.1",
		},
		{
			name:      "server name kubernetes.default.svc",
			edit:      func(c *tls.Config) { c.ServerName = "kubernetes.default.svc" },
			wantBody:  "anonymous",
			wantProto: "HTTP/2.0",
		},
		{
			name: "TLS 1.2 with an AEAD suite",
			edit: func(c *tls.Config) {
				c.Certificates = []tls.Certificate{admin}
				c.MaxVersion = tls.VersionTLS12
				c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
			},
			wantBody:  "berth-admin [system:masters]",
			wantProto: "HTTP/2.0",
		},
		{
			name:    "server name not in the certificate",
			edit:    func(c *tls.Config) { c.ServerName = "example.com" },
			wantErr: "certificate is valid for",
		},
		{
			name: "client certificate of another CA",
			// Sent whatever CAs the server names: a client picking by issuer
			// name would otherwise send it only when both CAs share a name.
			// TLS 1.2, where the server refuses it inside the handshake: in
			// TLS 1.3 the refusal comes after it, and which error the client
			// sees then depends on timing (the HTTP/2 preface may go first).
			edit: func(c *tls.Config) {
				c.MaxVersion = tls.VersionTLS12
				c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &foreign, nil }
			},
			wantErr: "remote error: tls: unknown certificate authority",
		},
		{
			name: "TLS 1.1",
			edit: func(c *tls.Config) {
				c.MinVersion = tls.VersionTLS10
				c.MaxVersion = tls.VersionTLS11
			},
			wantErr: "remote error: tls: protocol version not supported",
		},
		{
			name: "TLS 1.2 with a CBC suite",
			edit: func(c *tls.Config) {
				c.MaxVersion = tls.VersionTLS12
				c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256}
			},
			wantErr: "remote error: tls: handshake failure",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &tls.Config{RootCAs: p.CAPool(), NextProtos: []string{"h2", "http/1.1"}}
			tc.edit(cfg)
			tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: slices.Contains(cfg.NextProtos, "h2")}
			defer tr.CloseIdleConnections()
			body, proto, err := get(&http.Client{Transport: tr, Timeout: time.Minute}, srv.URL)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if body != tc.wantBody || proto != tc.wantProto {
				t.Errorf("got %q over %s, want %q over %s", body, proto, tc.wantBody, tc.wantProto)
			}
		})
	}
}
