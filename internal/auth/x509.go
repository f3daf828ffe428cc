package auth

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// X509 authenticates requests by the verified TLS client certificate: the
// user is the certificate's CommonName, its groups the Organizations, as
// upstream. The TLS layer must verify the chain against Roots; X509 checks
// again so that a misconfigured listener cannot let a self-signed
// certificate through.
type X509 struct {
	Roots *x509.CertPool

	// verified remembers certificates already verified, so that the
	// signature check is not repeated on every request: leaf DER → its
	// NotAfter. It is bounded by clearing it when full.
	verified sync.Map
	size     atomic.Int64
}

// maxVerified bounds the verified-certificate cache.
const maxVerified = 4096

var _ Authenticator = (*X509)(nil)

// Authenticate implements Authenticator.
func (a *X509) Authenticate(r *http.Request) (User, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return User{}, false, nil
	}
	leaf := r.TLS.PeerCertificates[0]
	if err := a.verify(leaf, r.TLS.PeerCertificates[1:]); err != nil {
		return User{}, false, err
	}
	if leaf.Subject.CommonName == "" {
		return User{}, false, fmt.Errorf("client certificate has no common name")
	}
	groups := append([]string(nil), leaf.Subject.Organization...)
	return User{Name: leaf.Subject.CommonName, Groups: append(groups, "system:authenticated")}, true, nil
}

// verify checks leaf's chain to Roots once per certificate; the result is
// valid until the certificate expires.
func (a *X509) verify(leaf *x509.Certificate, intermediates []*x509.Certificate) error {
	key := string(leaf.Raw)
	now := time.Now()
	if exp, ok := a.verified.Load(key); ok && now.Before(exp.(time.Time)) && len(intermediates) == 0 {
		return nil
	}
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         a.Roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return fmt.Errorf("verifying client certificate: %w", err)
	}
	if len(intermediates) == 0 {
		if a.size.Add(1) > maxVerified {
			a.verified.Clear()
			a.size.Store(1)
		}
		a.verified.Store(key, leaf.NotAfter)
	}
	return nil
}
