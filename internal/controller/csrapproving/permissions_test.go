package csrapproving

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
)

func TestPermissions(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	request := func(cn string, orgs []string, dns ...string) *x509.CertificateRequest {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: orgs}, DNSNames: dns}, key)
		if err != nil {
			t.Fatal(err)
		}
		r, err := x509.ParseCertificateRequest(der)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	nodes := []string{"system:nodes"}
	client := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	spec := func(user, signer string, usages []certificatesv1.KeyUsage) *certificatesv1.CertificateSigningRequest {
		return &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{Username: user, SignerName: signer, Usages: usages}}
	}
	tests := []struct {
		name string
		csr  *certificatesv1.CertificateSigningRequest
		req  *x509.CertificateRequest
		want []string
	}{
		{"bootstrapper", spec("system:bootstrap:abcdef", certificatesv1.KubeAPIServerClientKubeletSignerName, client), request("system:node:n1", nodes), []string{"nodeclient"}},
		{"self renewal", spec("system:node:n1", certificatesv1.KubeAPIServerClientKubeletSignerName, client), request("system:node:n1", nodes), []string{"selfnodeclient", "nodeclient"}},
		{"rsa usages", spec("u", certificatesv1.KubeAPIServerClientKubeletSignerName, append(client, certificatesv1.UsageKeyEncipherment)), request("system:node:n1", nodes), []string{"nodeclient"}},
		{"other signer", spec("system:node:n1", certificatesv1.KubeAPIServerClientSignerName, client), request("system:node:n1", nodes), nil},
		{"server usage", spec("u", certificatesv1.KubeAPIServerClientKubeletSignerName, []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}), request("system:node:n1", nodes), nil},
		{"missing usage", spec("u", certificatesv1.KubeAPIServerClientKubeletSignerName, client[1:]), request("system:node:n1", nodes), nil},
		{"not a node name", spec("u", certificatesv1.KubeAPIServerClientKubeletSignerName, client), request("alice", nodes), nil},
		{"empty node name", spec("u", certificatesv1.KubeAPIServerClientKubeletSignerName, client), request("system:node:", nodes), nil},
		{"extra organization", spec("u", certificatesv1.KubeAPIServerClientKubeletSignerName, client), request("system:node:n1", []string{"system:nodes", "system:masters"}), nil},
		{"SANs", spec("u", certificatesv1.KubeAPIServerClientKubeletSignerName, client), request("system:node:n1", nodes, "n1"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range Permissions(tt.csr, tt.req) {
				got = append(got, p.Subresource)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Permissions (-want +got):\n%s", diff)
			}
		})
	}
}
