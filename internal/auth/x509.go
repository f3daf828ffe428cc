package auth

import (
	"crypto/x509"
	"fmt"
	"net/http"
)

// X509 authenticates requests by the verified TLS client certificate: the
// user is the certificate's CommonName, its groups the Organizations, as
// upstream. The TLS layer must verify the chain against Roots; X509 checks
// again so that a misconfigured listener cannot let a self-signed
// certificate through.
type X509 struct {
	Roots *x509.CertPool
}

var _ Authenticator = (*X509)(nil)

// Authenticate implements Authenticator.
func (a *X509) Authenticate(r *http.Request) (User, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return User{}, false, nil
	}
	leaf := r.TLS.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         a.Roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return User{}, false, fmt.Errorf("verifying client certificate: %w", err)
	}
	if leaf.Subject.CommonName == "" {
		return User{}, false, fmt.Errorf("client certificate has no common name")
	}
	groups := append([]string(nil), leaf.Subject.Organization...)
	return User{Name: leaf.Subject.CommonName, Groups: append(groups, "system:authenticated")}, true, nil
}
