package csrapproving_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"slices"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"berth.dev/berth/internal/apiserver"
	"berth.dev/berth/internal/apiserver/apiservertest"
	"berth.dev/berth/internal/auth"
	"berth.dev/berth/internal/controller/csrapproving"
	"berth.dev/berth/internal/controller/csrsigning"
)

// csrPolicy stands in for RBAC: anyone may create and read CSRs; the
// bootstrappers may have node client CSRs approved (nodeclient), nodes
// their own renewals (selfnodeclient).
type csrPolicy struct{}

func (csrPolicy) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	if a.Resource == "certificatesigningrequests" && a.Subresource == "" {
		return auth.Allow, "", nil
	}
	return auth.NoOpinion, "", nil
}

func reviewSAR(_ context.Context, _ auth.User, obj runtime.Object) (runtime.Object, error) {
	sar := obj.(*authorizationv1.SubjectAccessReview)
	ra := sar.Spec.ResourceAttributes
	switch {
	case ra.Subresource == "nodeclient" && slices.Contains(sar.Spec.Groups, "system:bootstrappers"),
		ra.Subresource == "selfnodeclient" && slices.Contains(sar.Spec.Groups, "system:nodes"):
		sar.Status.Allowed = true
	}
	return sar, nil
}

func newRequest(t *testing.T, cn string, orgs ...string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: orgs}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func userClient(t *testing.T, s *apiservertest.Server, name string, groups ...string) kubernetes.Interface {
	t.Helper()
	certPEM, keyPEM, err := s.PKI.IssueClientCert(name, groups, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(s.Admin)
	cfg.CertData, cfg.KeyData = certPEM, keyPEM
	return kubernetes.NewForConfigOrDie(cfg)
}

func TestSignerAndApproverIssueNodeCertificates(t *testing.T) {
	s := apiservertest.Start(t, func(c *apiserver.Config) {
		c.Authorizers = append(c.Authorizers, csrPolicy{})
		c.Reviewers = map[schema.GroupResource]apiserver.Reviewer{{Group: "authorization.k8s.io", Resource: "subjectaccessreviews"}: reviewSAR}
	})
	admin := kubernetes.NewForConfigOrDie(s.Admin)
	factory := informers.NewSharedInformerFactory(admin, 0)
	ca, caKey := s.PKI.CA()
	signer, err := csrsigning.New(csrsigning.Config{Client: admin, Informers: factory, CA: ca, CAKey: caKey})
	if err != nil {
		t.Fatal(err)
	}
	approver, err := csrapproving.New(csrapproving.Config{Client: admin, Informers: factory})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	t.Cleanup(func() { cancel(); <-done; <-done })
	factory.Start(ctx.Done())
	for _, r := range []interface{ Run(context.Context) error }{signer, approver} {
		go func() { r.Run(ctx); done <- struct{}{} }()
	}

	create := func(c kubernetes.Interface, name string, spec certificatesv1.CertificateSigningRequestSpec) {
		t.Helper()
		if _, err := c.CertificatesV1().CertificateSigningRequests().Create(ctx, &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating CSR %s: %v", name, err)
		}
	}
	waitIssued := func(name string) *x509.Certificate {
		t.Helper()
		var cert *x509.Certificate
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
			csr, err := admin.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
			if err != nil || len(csr.Status.Certificate) == 0 {
				return false, err
			}
			block, _ := pem.Decode(csr.Status.Certificate)
			cert, err = x509.ParseCertificate(block.Bytes)
			return true, err
		})
		if err != nil {
			t.Fatalf("waiting for CSR %s to be issued: %v", name, err)
		}
		return cert
	}
	kubelet := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}

	// A bootstrapper asks for a new node's certificate.
	bootstrapper := userClient(t, s, "system:bootstrap:abcdef", "system:bootstrappers")
	create(bootstrapper, "node-n1", certificatesv1.CertificateSigningRequestSpec{
		Request: newRequest(t, "system:node:n1", "system:nodes"), SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName,
		Usages: kubelet, ExpirationSeconds: ptr.To[int32](3600),
	})
	cert := waitIssued("node-n1")
	if cert.Subject.CommonName != "system:node:n1" || !slices.Equal(cert.Subject.Organization, []string{"system:nodes"}) {
		t.Errorf("issued subject %v", cert.Subject)
	}
	if got := cert.NotAfter.Sub(cert.NotBefore); got != time.Hour+5*time.Minute {
		t.Errorf("lifetime %v, want expirationSeconds plus the 5m backdate", got)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: s.PKI.CAPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("issued certificate does not verify: %v", err)
	}
	csr, err := admin.CertificatesV1().CertificateSigningRequests().Get(ctx, "node-n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := csr.Status.Conditions; len(c) != 1 || c[0].Type != certificatesv1.CertificateApproved || c[0].Reason != "AutoApproved" {
		t.Errorf("conditions %+v, want one AutoApproved", c)
	}

	// The node renews its own certificate.
	node := userClient(t, s, "system:node:n1", "system:nodes")
	create(node, "node-n1-renew", certificatesv1.CertificateSigningRequestSpec{
		Request: newRequest(t, "system:node:n1", "system:nodes"), SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName, Usages: kubelet,
	})
	cert = waitIssued("node-n1-renew")
	if got := cert.NotAfter.Sub(cert.NotBefore); got != csrsigning.DefaultDuration+5*time.Minute {
		t.Errorf("default lifetime %v", got)
	}

	// Not auto-approved: a user neither bootstrapper nor node asking for a
	// node's certificate, and another signer. The latter is issued once an
	// admin approves it.
	alice := userClient(t, s, "alice")
	create(alice, "node-n2-by-alice", certificatesv1.CertificateSigningRequestSpec{
		Request: newRequest(t, "system:node:n2", "system:nodes"), SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName, Usages: kubelet,
	})
	create(bootstrapper, "client", certificatesv1.CertificateSigningRequestSpec{
		Request: newRequest(t, "alice"), SignerName: certificatesv1.KubeAPIServerClientSignerName, Usages: kubelet,
	})
	// A node CSR with SANs is approved by an admin but refused by the signer.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:n3", Organization: []string{"system:nodes"}}, DNSNames: []string{"n3"}}, key)
	create(admin, "node-n3-sans", certificatesv1.CertificateSigningRequestSpec{
		Request: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName, Usages: kubelet,
	})
	for _, name := range []string{"client", "node-n3-sans"} {
		c, err := admin.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved, Status: "True", Reason: "Admin"})
		if _, err := admin.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, name, c, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if cert := waitIssued("client"); cert.Subject.CommonName != "alice" {
		t.Errorf("client certificate subject %v", cert.Subject)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		c, err := admin.CertificatesV1().CertificateSigningRequests().Get(ctx, "node-n3-sans", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range c.Status.Conditions {
			if cond.Type == certificatesv1.CertificateFailed && cond.Reason == "SignerValidationFailure" {
				return len(c.Status.Certificate) == 0, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Errorf("waiting for node-n3-sans to fail: %v", err)
	}
	// By now the approver has seen node-n2-by-alice (created before the
	// others were issued) and left it pending.
	c, err := admin.CertificatesV1().CertificateSigningRequests().Get(ctx, "node-n2-by-alice", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Status.Conditions) != 0 {
		t.Errorf("node-n2-by-alice conditions %+v, want pending", c.Status.Conditions)
	}
}
