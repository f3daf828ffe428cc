package apiserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func testCSRPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "u"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestCSRApprovalSubresource(t *testing.T) {
	ts := startTestServer(t)
	c := kubernetes.NewForConfigOrDie(ts.admin)
	ctx := context.Background()
	csrs := c.CertificatesV1().CertificateSigningRequests()
	created, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "c"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request: testCSRPEM(t), SignerName: certificatesv1.KubeAPIServerClientSignerName,
			Usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}, Username: "spoofed",
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Spec.Username == "spoofed" || created.Spec.Username == "" {
		t.Errorf("spec.username = %q, want the requesting user", created.Spec.Username)
	}

	approved := created.DeepCopy()
	approved.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Test"}}
	// The status subresource may not approve.
	if _, err := csrs.UpdateStatus(ctx, approved, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("approving through /status: %v, want 422", err)
	}
	approved.Spec.SignerName = "example.com/other"
	got, err := csrs.UpdateApproval(ctx, "c", approved, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("approval: %v", err)
	}
	if len(got.Status.Conditions) != 1 || got.Status.Conditions[0].LastUpdateTime.IsZero() || got.Status.Conditions[0].LastTransitionTime.IsZero() {
		t.Errorf("conditions after approval: %+v", got.Status.Conditions)
	}
	if got.Spec.SignerName != certificatesv1.KubeAPIServerClientSignerName {
		t.Errorf("approval changed the spec: signerName %q", got.Spec.SignerName)
	}
	// Approval is permanent.
	got.Status.Conditions = nil
	if _, err := csrs.UpdateApproval(ctx, "c", got, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("removing the approval: %v, want 422", err)
	}

	res, err := c.Discovery().ServerResourcesForGroupVersion("certificates.k8s.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range res.APIResources {
		found = found || r.Name == "certificatesigningrequests/approval"
	}
	if !found {
		t.Error("discovery does not list certificatesigningrequests/approval")
	}
}
