package registry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

func TestValidateCertificateSigningRequest(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "u"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	request := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	certDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(1), NotAfter: time.Now().Add(time.Hour)}, &x509.Certificate{SerialNumber: big.NewInt(1)}, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})

	csr := func(mut func(*certificatesv1.CertificateSigningRequest)) *certificatesv1.CertificateSigningRequest {
		c := &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{
			Request: request, SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName,
			Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		}}
		if mut != nil {
			mut(c)
		}
		return c
	}
	cond := func(t certificatesv1.RequestConditionType, s corev1.ConditionStatus) certificatesv1.CertificateSigningRequestCondition {
		return certificatesv1.CertificateSigningRequestCondition{Type: t, Status: s}
	}
	approved := csr(func(c *certificatesv1.CertificateSigningRequest) {
		c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateApproved, corev1.ConditionTrue)}
	})
	issued := approved.DeepCopy()
	issued.Status.Certificate = cert
	runChecks(t, schema.GroupKind{Group: "certificates.k8s.io", Kind: "CertificateSigningRequest"}, []checkCase{
		{name: "valid", obj: csr(nil)},
		{name: "request not PEM", obj: csr(func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Request = []byte("junk") }),
			want: want("FieldValueInvalid spec.request")},
		{name: "request of the wrong PEM type", obj: csr(func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Request = cert }),
			want: want("FieldValueInvalid spec.request")},
		{name: "no signer or usages", obj: csr(func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName, c.Spec.Usages = "", nil }),
			want: want("FieldValueRequired spec.usages", "FieldValueRequired spec.signerName")},
		{name: "unqualified signer", obj: csr(func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "signer" }),
			want: want("FieldValueInvalid spec.signerName")},
		{name: "unknown and duplicate usages", obj: csr(func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Usages = []certificatesv1.KeyUsage{"teleport", certificatesv1.UsageClientAuth, certificatesv1.UsageClientAuth}
		}), want: want("FieldValueNotSupported spec.usages[0]", "FieldValueDuplicate spec.usages[2]")},
		{name: "short expiration", obj: csr(func(c *certificatesv1.CertificateSigningRequest) { c.Spec.ExpirationSeconds = ptr.To[int32](599) }),
			want: want("FieldValueInvalid spec.expirationSeconds")},
		{name: "ten minutes", obj: csr(func(c *certificatesv1.CertificateSigningRequest) { c.Spec.ExpirationSeconds = ptr.To[int32](600) })},
		{name: "approved and denied", obj: csr(func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateApproved, corev1.ConditionTrue), cond(certificatesv1.CertificateDenied, corev1.ConditionTrue)}
		}), want: want("FieldValueInvalid status.conditions")},
		{name: "duplicate and false approval", obj: csr(func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateApproved, corev1.ConditionFalse), cond(certificatesv1.CertificateApproved, corev1.ConditionTrue)}
		}), want: want("FieldValueInvalid status.conditions[0].status", "FieldValueDuplicate status.conditions[1].type")},
		{name: "certificate without approval", obj: csr(func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = cert }),
			want: want("FieldValueInvalid status.certificate")},
		{name: "issued", obj: issued},
		{name: "certificate not PEM", obj: func() *certificatesv1.CertificateSigningRequest {
			c := approved.DeepCopy()
			c.Status.Certificate = []byte("x")
			return c
		}(),
			want: want("FieldValueInvalid status.certificate")},
		{name: "approval is permanent", obj: csr(nil), old: approved, want: want("FieldValueForbidden status.conditions")},
		{name: "certificate is permanent", obj: approved, old: issued, want: want("FieldValueForbidden status.certificate")},
	})
}

func TestDefaultCertificateSigningRequest(t *testing.T) {
	csr := &certificatesv1.CertificateSigningRequest{Status: certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{
		{Type: certificatesv1.CertificateApproved}, {Type: "Custom", Status: corev1.ConditionFalse},
	}}}
	defaultCertificateSigningRequest(csr)
	var got []corev1.ConditionStatus
	for _, c := range csr.Status.Conditions {
		got = append(got, c.Status)
	}
	if diff := cmp.Diff([]corev1.ConditionStatus{corev1.ConditionTrue, corev1.ConditionFalse}, got); diff != "" {
		t.Errorf("condition statuses (-want +got):\n%s", diff)
	}
}
