package csrsigning

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
)

// NodeGroup and NodeUserPrefix are the organization and common-name prefix
// of node certificates.
const (
	NodeGroup      = "system:nodes"
	NodeUserPrefix = "system:node:"
)

// backdate makes a new certificate valid on machines whose clock is
// slightly behind the signer's, as upstream.
const backdate = 5 * time.Minute

// ParseRequest decodes the PEM CERTIFICATE REQUEST of a CSR's spec.
func ParseRequest(data []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	return req, req.CheckSignature()
}

// usagesAre reports whether usages hold exactly one of the allowed sets.
func usagesAre(usages []certificatesv1.KeyUsage, allowed ...[]certificatesv1.KeyUsage) bool {
	have := slices.Clone(usages)
	slices.Sort(have)
	have = slices.Compact(have)
	for _, set := range allowed {
		want := slices.Clone(set)
		slices.Sort(want)
		if slices.Equal(have, want) {
			return true
		}
	}
	return false
}

// ValidateKubeletClient checks a request for the
// kubernetes.io/kube-apiserver-client-kubelet signer, as upstream: subject
// O=system:nodes, CN=system:node:<name>, no SANs, usages digital signature
// and client auth (plus key encipherment for RSA keys).
func ValidateKubeletClient(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	if err := validateNodeSubject(req); err != nil {
		return err
	}
	if len(req.DNSNames) > 0 || len(req.EmailAddresses) > 0 || len(req.IPAddresses) > 0 || len(req.URIs) > 0 {
		return errors.New("subjectAltNames are not allowed")
	}
	if !usagesAre(usages,
		[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth}) {
		return fmt.Errorf("usages did not match [digital signature client auth] or [digital signature key encipherment client auth]: %v", usages)
	}
	return nil
}

// ValidateKubeletServing checks a request for the
// kubernetes.io/kubelet-serving signer: the node subject, at least one DNS
// or IP SAN, no email or URI SANs, usages digital signature and server auth
// (plus key encipherment for RSA keys).
func ValidateKubeletServing(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	if err := validateNodeSubject(req); err != nil {
		return err
	}
	if len(req.DNSNames) == 0 && len(req.IPAddresses) == 0 {
		return errors.New("DNS or IP subjectAltName is required")
	}
	if len(req.EmailAddresses) > 0 || len(req.URIs) > 0 {
		return errors.New("email and URI subjectAltNames are not allowed")
	}
	if !usagesAre(usages,
		[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
		[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth}) {
		return fmt.Errorf("usages did not match [digital signature server auth] or [digital signature key encipherment server auth]: %v", usages)
	}
	return nil
}

// validateAPIServerClient checks a request for the
// kubernetes.io/kube-apiserver-client signer: client auth required, only
// digital signature and key encipherment besides.
func validateAPIServerClient(_ *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	if !slices.Contains(usages, certificatesv1.UsageClientAuth) {
		return errors.New("usages must include client auth")
	}
	for _, u := range usages {
		switch u {
		case certificatesv1.UsageClientAuth, certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment:
		default:
			return fmt.Errorf("usage %q is not allowed for this signer", u)
		}
	}
	return nil
}

func validateNodeSubject(req *x509.CertificateRequest) error {
	if !slices.Equal(req.Subject.Organization, []string{NodeGroup}) {
		return fmt.Errorf("organization must be [%s], not %v", NodeGroup, req.Subject.Organization)
	}
	if !strings.HasPrefix(req.Subject.CommonName, NodeUserPrefix) || len(req.Subject.CommonName) == len(NodeUserPrefix) {
		return fmt.Errorf("common name must begin with %q and name a node, not %q", NodeUserPrefix, req.Subject.CommonName)
	}
	return nil
}

// validatorFor returns the rules of a signer this package serves, nil for
// other signers.
func validatorFor(signerName string) func(*x509.CertificateRequest, []certificatesv1.KeyUsage) error {
	switch signerName {
	case certificatesv1.KubeAPIServerClientSignerName:
		return validateAPIServerClient
	case certificatesv1.KubeAPIServerClientKubeletSignerName:
		return ValidateKubeletClient
	case certificatesv1.KubeletServingSignerName:
		return ValidateKubeletServing
	}
	return nil
}

// sign issues the certificate for req with the given usages, valid from
// now (backdated) for ttl, capped at the CA's expiry.
func sign(ca *x509.Certificate, caKey any, req *x509.CertificateRequest, usages []certificatesv1.KeyUsage, now time.Time, ttl time.Duration) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generating a serial number: %w", err)
	}
	notAfter := now.Add(ttl)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               req.Subject,
		DNSNames:              req.DNSNames,
		IPAddresses:           req.IPAddresses,
		EmailAddresses:        req.EmailAddresses,
		URIs:                  req.URIs,
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
	}
	for _, u := range usages {
		switch u {
		case certificatesv1.UsageDigitalSignature:
			tmpl.KeyUsage |= x509.KeyUsageDigitalSignature
		case certificatesv1.UsageKeyEncipherment:
			tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		case certificatesv1.UsageClientAuth:
			tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
		case certificatesv1.UsageServerAuth:
			tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, req.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
