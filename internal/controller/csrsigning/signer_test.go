package csrsigning

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"slices"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
)

func TestValidators(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	request := func(tmpl x509.CertificateRequest) *x509.CertificateRequest {
		der, err := x509.CreateCertificateRequest(rand.Reader, &tmpl, key)
		if err != nil {
			t.Fatal(err)
		}
		r, err := x509.ParseCertificateRequest(der)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	node := pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}}
	ds, ke, ca, sa := certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth, certificatesv1.UsageServerAuth
	tests := []struct {
		name   string
		signer string
		req    *x509.CertificateRequest
		usages []certificatesv1.KeyUsage
		ok     bool
	}{
		{"kubelet client", certificatesv1.KubeAPIServerClientKubeletSignerName, request(x509.CertificateRequest{Subject: node}), []certificatesv1.KeyUsage{ds, ca}, true},
		{"kubelet client rsa usages", certificatesv1.KubeAPIServerClientKubeletSignerName, request(x509.CertificateRequest{Subject: node}), []certificatesv1.KeyUsage{ke, ds, ca}, true},
		{"kubelet client with SAN", certificatesv1.KubeAPIServerClientKubeletSignerName, request(x509.CertificateRequest{Subject: node, DNSNames: []string{"n1"}}), []certificatesv1.KeyUsage{ds, ca}, false},
		{"kubelet client not a node", certificatesv1.KubeAPIServerClientKubeletSignerName, request(x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice", Organization: []string{"system:nodes"}}}), []certificatesv1.KeyUsage{ds, ca}, false},
		{"kubelet client server usage", certificatesv1.KubeAPIServerClientKubeletSignerName, request(x509.CertificateRequest{Subject: node}), []certificatesv1.KeyUsage{ds, ca, sa}, false},
		{"kubelet serving", certificatesv1.KubeletServingSignerName, request(x509.CertificateRequest{Subject: node, IPAddresses: []net.IP{net.ParseIP("192.0.2.1")}}), []certificatesv1.KeyUsage{ds, sa}, true},
		{"kubelet serving without SAN", certificatesv1.KubeletServingSignerName, request(x509.CertificateRequest{Subject: node}), []certificatesv1.KeyUsage{ds, sa}, false},
		{"kubelet serving with email", certificatesv1.KubeletServingSignerName, request(x509.CertificateRequest{Subject: node, DNSNames: []string{"n1"}, EmailAddresses: []string{"a@b"}}), []certificatesv1.KeyUsage{ds, sa}, false},
		{"apiserver client", certificatesv1.KubeAPIServerClientSignerName, request(x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}}), []certificatesv1.KeyUsage{ca}, true},
		{"apiserver client without client auth", certificatesv1.KubeAPIServerClientSignerName, request(x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}}), []certificatesv1.KeyUsage{ds}, false},
		{"apiserver client with server auth", certificatesv1.KubeAPIServerClientSignerName, request(x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}}), []certificatesv1.KeyUsage{ca, sa}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validatorFor(tt.signer)(tt.req, tt.usages)
			if (err == nil) != tt.ok {
				t.Errorf("validation error %v, want ok %v", err, tt.ok)
			}
		})
	}
	if validatorFor("example.com/other") != nil {
		t.Error("a signer of another domain is served")
	}
}

func TestSignCapsAtCAExpiry(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	reqDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := x509.ParseCertificateRequest(reqDER)
	for _, tt := range []struct {
		ttl  time.Duration
		want time.Time
	}{
		{time.Hour, now.Add(time.Hour)},
		{DefaultDuration, ca.NotAfter},
	} {
		certPEM, err := sign(ca, key, req, []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}, now, tt.ttl)
		if err != nil {
			t.Fatal(err)
		}
		cert := mustParse(t, certPEM)
		if !cert.NotAfter.Equal(tt.want) || !cert.NotBefore.Equal(now.Add(-backdate)) {
			t.Errorf("ttl %v: valid %v to %v, want until %v", tt.ttl, cert.NotBefore, cert.NotAfter, tt.want)
		}
		if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) || cert.KeyUsage != x509.KeyUsageDigitalSignature || cert.IsCA {
			t.Errorf("usages %v %v, CA %v", cert.ExtKeyUsage, cert.KeyUsage, cert.IsCA)
		}
	}
}

func mustParse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("not PEM")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
