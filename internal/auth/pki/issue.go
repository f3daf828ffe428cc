package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"
)

// saKeyBits is the size of the ServiceAccount signing key.
const saKeyBits = 2048

// ensureCA loads the CA from dir, or creates it if ca.crt does not exist.
// The key is written before the certificate, so an existing ca.crt always
// has its ca.key.
func (p *PKI) ensureCA(dir string, log *slog.Logger) error {
	certPath := filepath.Join(dir, caCertFile)
	keyPath := filepath.Join(dir, caKeyFile)
	certPEM, err := os.ReadFile(certPath)
	switch {
	case err == nil:
		keyPEM, err := os.ReadFile(keyPath)
		if err != nil {
			return fmt.Errorf("reading CA key: %w", err)
		}
		return p.setCA(certPEM, keyPEM)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("reading CA certificate: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating CA key: %w", err)
	}
	now := p.now()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: fmt.Sprintf("berth-ca@%d", now.Unix())},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("creating CA certificate: %w", err)
	}
	keyPEM, err := encodeKeyPEM(key)
	if err != nil {
		return err
	}
	certPEM = encodeCertPEM(der)
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
		return err
	}
	log.Info("created cluster CA", "subject", tmpl.Subject.CommonName, "notAfter", tmpl.NotAfter)
	return p.setCA(certPEM, keyPEM)
}

// setCA parses and checks the CA pair and makes it p's CA.
func (p *PKI) setCA(certPEM, keyPEM []byte) error {
	cert, key, err := parseCA(certPEM, keyPEM)
	if err != nil {
		return err
	}
	p.ca, p.caKey, p.caPEM = cert, key, encodeCertPEM(cert.Raw)
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(cert)
	return nil
}

// parseCA parses a CA certificate and its key, and checks that the
// certificate may sign certificates and that the key is its own.
func parseCA(certPEM, keyPEM []byte) (*x509.Certificate, crypto.Signer, error) {
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing %s: %w", caCertFile, err)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, nil, fmt.Errorf("%s is not a CA certificate", caCertFile)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing %s: %w", caKeyFile, err)
	}
	if !publicKeysEqual(key, cert.PublicKey) {
		return nil, nil, fmt.Errorf("%s does not match %s", caKeyFile, caCertFile)
	}
	return cert, key, nil
}

// leafSpec describes one leaf certificate that Ensure keeps in the PKI
// directory.
type leafSpec struct {
	certFile, keyFile string
	usage             x509.ExtKeyUsage
	// template returns the subject and names of a new certificate.
	template func() *x509.Certificate
	// check returns why an otherwise valid certificate must be re-issued,
	// or "".
	check func(*x509.Certificate) string
}

// ensureLeaf returns the PEM certificate and key of spec, issuing and
// writing them first when they are missing or unfit (see Ensure).
func (p *PKI) ensureLeaf(dir string, log *slog.Logger, spec leafSpec) (certPEM, keyPEM []byte, err error) {
	certPath := filepath.Join(dir, spec.certFile)
	keyPath := filepath.Join(dir, spec.keyFile)
	reason, certPEM, keyPEM, err := p.loadLeaf(certPath, keyPath, spec)
	if err != nil || reason == "" {
		return certPEM, keyPEM, err
	}

	tmpl := spec.template()
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{spec.usage}
	cert, certPEM, keyPEM, err := p.issue(tmpl, LeafValidity)
	if err != nil {
		return nil, nil, fmt.Errorf("issuing %s: %w", spec.certFile, err)
	}
	// Key first: a crash in between leaves a key that does not match the
	// old certificate, which the next start re-issues.
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, nil, err
	}
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
		return nil, nil, err
	}
	log.Info("issued certificate", "file", spec.certFile, "reason", reason,
		"subject", cert.Subject.String(), "notAfter", cert.NotAfter)
	return certPEM, keyPEM, nil
}

// loadLeaf reads a leaf pair and returns why it must be re-issued, or "" with
// its PEM content if it is fit. Unreadable or unparsable files are errors.
func (p *PKI) loadLeaf(certPath, keyPath string, spec leafSpec) (reason string, certPEM, keyPEM []byte, err error) {
	certPEM, err = os.ReadFile(certPath)
	if errors.Is(err, fs.ErrNotExist) {
		return "certificate missing", nil, nil, nil
	}
	if err != nil {
		return "", nil, nil, fmt.Errorf("reading certificate: %w", err)
	}
	keyPEM, err = os.ReadFile(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return "key missing", nil, nil, nil
	}
	if err != nil {
		return "", nil, nil, fmt.Errorf("reading key: %w", err)
	}
	reason, err = p.leafReason(certPEM, keyPEM, spec)
	if err != nil {
		return "", nil, nil, err
	}
	return reason, certPEM, keyPEM, nil
}

// leafReason parses a leaf pair and returns why it must be re-issued, or ""
// if it is fit.
func (p *PKI) leafReason(certPEM, keyPEM []byte, spec leafSpec) (string, error) {
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return "", fmt.Errorf("parsing %s: %w", spec.certFile, err)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return "", fmt.Errorf("parsing %s: %w", spec.keyFile, err)
	}
	if !publicKeysEqual(key, cert.PublicKey) {
		return "key does not match certificate", nil
	}
	now := p.now()
	_, err = cert.Verify(x509.VerifyOptions{
		Roots:       p.caPool,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{spec.usage},
	})
	if err != nil {
		return "does not verify against the CA: " + err.Error(), nil
	}
	if cert.NotAfter.Sub(now) < RenewBefore {
		return "expires at " + cert.NotAfter.UTC().Format(time.RFC3339), nil
	}
	return spec.check(cert), nil
}

// issue signs tmpl with the CA for a new ECDSA P-256 key, valid from now
// (backdated) for ttl but never beyond the CA. It fills the validity, key
// usage and basic constraints of tmpl.
func (p *PKI) issue(tmpl *x509.Certificate, ttl time.Duration) (cert *x509.Certificate, certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generating key: %w", err)
	}
	now := p.now()
	tmpl.NotBefore = now.Add(-backdate)
	tmpl.NotAfter = now.Add(ttl)
	if tmpl.NotAfter.After(p.ca.NotAfter) {
		tmpl.NotAfter = p.ca.NotAfter
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, key.Public(), p.caKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("signing certificate: %w", err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		return nil, nil, nil, fmt.Errorf("parsing issued certificate: %w", err)
	}
	keyPEM, err = encodeKeyPEM(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return cert, encodeCertPEM(der), keyPEM, nil
}

// IssueClientCert issues a client certificate (ExtKeyUsageClientAuth) signed
// by the CA, for a new ECDSA P-256 key, with common name cn (the user name)
// and organizations orgs (the groups). ttl 0 means LeafValidity; the
// certificate never outlives the CA. Nothing is written to disk.
func (p *PKI) IssueClientCert(cn string, orgs []string, ttl time.Duration) (certPEM, keyPEM []byte, err error) {
	if cn == "" {
		return nil, nil, errors.New("issuing client certificate: empty common name")
	}
	if ttl < 0 {
		return nil, nil, fmt.Errorf("issuing client certificate for %q: negative ttl %v", cn, ttl)
	}
	if ttl == 0 {
		ttl = LeafValidity
	}
	_, certPEM, keyPEM, err = p.issue(&x509.Certificate{
		Subject:     subject(cn, orgs),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ttl)
	if err != nil {
		return nil, nil, fmt.Errorf("issuing client certificate for %q: %w", cn, err)
	}
	return certPEM, keyPEM, nil
}

// IssueServingCert issues a server certificate (ExtKeyUsageServerAuth)
// signed by the CA, for a new ECDSA P-256 key, with common name cn and the
// given DNS names and IP addresses, such as a node's streaming server's.
// ttl 0 means LeafValidity. Nothing is written to disk.
func (p *PKI) IssueServingCert(cn string, dns []string, ips []net.IP, ttl time.Duration) (certPEM, keyPEM []byte, err error) {
	if cn == "" || len(dns)+len(ips) == 0 {
		return nil, nil, errors.New("issuing serving certificate: no name")
	}
	if ttl < 0 {
		return nil, nil, fmt.Errorf("issuing serving certificate for %q: negative ttl %v", cn, ttl)
	}
	if ttl == 0 {
		ttl = LeafValidity
	}
	_, certPEM, keyPEM, err = p.issue(&x509.Certificate{
		Subject:     subject(cn, nil),
		DNSNames:    dns,
		IPAddresses: ips,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ttl)
	if err != nil {
		return nil, nil, fmt.Errorf("issuing serving certificate for %q: %w", cn, err)
	}
	return certPEM, keyPEM, nil
}

// subject returns a name with common name cn and organizations orgs.
func subject(cn string, orgs []string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: orgs}
}

// ensureServiceAccountKey loads sa.key, or creates it if it does not exist,
// and keeps sa.pub in step with it.
func (p *PKI) ensureServiceAccountKey(dir string, log *slog.Logger) error {
	keyPath := filepath.Join(dir, saKeyFile)
	keyPEM, err := os.ReadFile(keyPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		k, err := rsa.GenerateKey(rand.Reader, saKeyBits)
		if err != nil {
			return fmt.Errorf("generating ServiceAccount key: %w", err)
		}
		if keyPEM, err = encodeKeyPEM(k); err != nil {
			return err
		}
		if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
			return err
		}
		log.Info("created ServiceAccount signing key", "file", saKeyFile, "bits", saKeyBits)
	case err != nil:
		return fmt.Errorf("reading ServiceAccount key: %w", err)
	}

	key, pubPEM, err := parseServiceAccountKey(keyPEM)
	if err != nil {
		return err
	}
	pubPath := filepath.Join(dir, saPubFile)
	if have, err := os.ReadFile(pubPath); err != nil || string(have) != string(pubPEM) {
		if err := writeFileAtomic(pubPath, pubPEM, 0o644); err != nil {
			return err
		}
	}
	p.saKey, p.saPublicPEM = key, pubPEM
	return nil
}

// parseServiceAccountKey parses an RSA private key of at least saKeyBits
// bits and returns it with its public half as PKIX PEM.
func parseServiceAccountKey(keyPEM []byte) (*rsa.PrivateKey, []byte, error) {
	k, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing %s: %w", saKeyFile, err)
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("%s: want an RSA key for RS256, have %T", saKeyFile, k)
	}
	if key.N.BitLen() < saKeyBits {
		return nil, nil, fmt.Errorf("%s: RSA key of %d bits, want at least %d", saKeyFile, key.N.BitLen(), saKeyBits)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding ServiceAccount public key: %w", err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: blockPublicKey, Bytes: der}), nil
}
