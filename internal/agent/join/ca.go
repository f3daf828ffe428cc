package join

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"

	"berth.dev/berth/internal/auth/bootstrap"
)

// FetchCA learns the cluster CA from server's TLS handshake without
// sending any credential: the CA is the certificate of the served chain
// that t pins, and the server's own certificate must chain to it for the
// URL's host. It returns the CA in PEM.
func FetchCA(ctx context.Context, server string, t bootstrap.JoinToken) ([]byte, error) {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("server %q is not an https URL", server)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "443"
	}
	d := tls.Dialer{Config: &tls.Config{
		// Verified below against the pinned CA; the chain is all that is
		// read, and no client certificate is offered.
		InsecureSkipVerify: true, //nolint:gosec
		ServerName:         host,
		MinVersion:         tls.VersionTLS12,
	}}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", u.Host, err)
	}
	defer conn.Close()
	chain := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(chain) == 0 {
		return nil, errors.New("the server sent no certificate")
	}
	var ca *x509.Certificate
	for _, c := range chain {
		if c.IsCA && t.MatchesCA(c) {
			ca = c
			break
		}
	}
	if ca == nil {
		return nil, fmt.Errorf("no CA certificate the server at %s sent matches the join token's CA hash", u.Host)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(ca)
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: host}); err != nil {
		return nil, fmt.Errorf("verifying the server's certificate against the pinned CA: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), nil
}
