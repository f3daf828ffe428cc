package join_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"berth.dev/berth/internal/agent/join"
	"berth.dev/berth/internal/apiserver"
	"berth.dev/berth/internal/apiserver/apiservertest"
	"berth.dev/berth/internal/auth"
	"berth.dev/berth/internal/auth/bootstrap"
	"berth.dev/berth/internal/controller/csrapproving"
	"berth.dev/berth/internal/controller/csrsigning"
)

const bootstrapToken = "abcdef.0123456789abcdef"

// bootstrapAuth stands in for the bootstrap token authenticator.
type bootstrapAuth struct{}

func (bootstrapAuth) Authenticate(r *http.Request) (auth.User, bool, error) {
	if r.Header.Get("Authorization") != "Bearer "+bootstrapToken {
		return auth.User{}, false, nil
	}
	return auth.User{Name: "system:bootstrap:abcdef", Groups: []string{"system:bootstrappers", "system:authenticated"}}, true, nil
}

// bootstrapPolicy stands in for RBAC's node-bootstrapper and auto-approval bindings.
type bootstrapPolicy struct{}

func (bootstrapPolicy) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	if slices.Contains(a.User.Groups, "system:bootstrappers") && a.Resource == "certificatesigningrequests" && a.Subresource == "" {
		return auth.Allow, "", nil
	}
	return auth.NoOpinion, "", nil
}

func reviewSAR(_ context.Context, _ auth.User, obj runtime.Object) (runtime.Object, error) {
	sar := obj.(*authorizationv1.SubjectAccessReview)
	sub := sar.Spec.ResourceAttributes.Subresource
	sar.Status.Allowed = sub == "nodeclient" && slices.Contains(sar.Spec.Groups, "system:bootstrappers") ||
		sub == "selfnodeclient" && slices.Contains(sar.Spec.Groups, "system:nodes")
	return sar, nil
}

func startCluster(t *testing.T) *apiservertest.Server {
	s := apiservertest.Start(t, func(c *apiserver.Config) {
		c.Authenticators = append(c.Authenticators, bootstrapAuth{})
		c.Authorizers = append(c.Authorizers, bootstrapPolicy{})
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
	return s
}

func joinToken(t *testing.T, s *apiservertest.Server) bootstrap.JoinToken {
	block, _ := pem.Decode(s.PKI.CAPEM())
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := bootstrap.ParseJoinToken("berth1.sha256:" + strings.Repeat("00", 32) + "." + bootstrapToken)
	if err != nil {
		t.Fatal(err)
	}
	tok.CAHash = sha256.Sum256(ca.RawSubjectPublicKeyInfo)
	return tok
}

// joinNode joins node n1 to a new cluster with a bootstrap token and
// returns its join configuration and kubeconfig.
func joinNode(t *testing.T, ctx context.Context) (join.Config, string) {
	t.Helper()
	s := startCluster(t)
	cfg := join.Config{Server: s.Admin.Host, Token: joinToken(t, s).String(), DataDir: t.TempDir(), NodeName: "n1", PollInterval: 50 * time.Millisecond}
	kubeconfig, err := join.Ensure(ctx, cfg)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return cfg, kubeconfig
}

func TestJoinAndRenew(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, kubeconfig := joinNode(t, ctx)
	dir := cfg.DataDir
	for _, p := range []string{kubeconfig, join.CertPath(dir)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	node := kubernetes.NewForConfigOrDie(rc)
	// The Node authorizer lets node users list nodes; the bootstrap
	// user may not.
	if _, err := node.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("listing nodes with the node's credentials: %v", err)
	}
	first, err := os.ReadFile(join.CertPath(dir))
	if err != nil {
		t.Fatal(err)
	}

	// A second Ensure keeps the valid certificate, even without a token.
	cfg.Token = ""
	if _, err := join.Ensure(ctx, cfg); err != nil {
		t.Fatalf("Ensure with a valid certificate: %v", err)
	}

	r, err := join.NewRenewer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Renew(ctx); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	second, err := os.ReadFile(join.CertPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if string(first) == string(second) {
		t.Error("renewal did not replace the certificate")
	}
}

func TestFetchCARefusesAnotherCA(t *testing.T) {
	s := apiservertest.Start(t)
	tok := joinToken(t, s)
	if _, err := join.FetchCA(context.Background(), s.Admin.Host, tok); err != nil {
		t.Fatalf("FetchCA with the right hash: %v", err)
	}
	tok.CAHash[0] ^= 1
	if _, err := join.FetchCA(context.Background(), s.Admin.Host, tok); err == nil {
		t.Error("FetchCA accepted a CA whose hash is not the token's")
	}
}

func TestServingCertificate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, kubeconfig := joinNode(t, ctx)
	dir := cfg.DataDir
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	node := kubernetes.NewForConfigOrDie(rc)
	if _, err := node.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n, err := node.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: "host1"}}
	if _, err := node.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	ips := []net.IP{net.IPv4(127, 0, 0, 1)}
	r, err := join.NewServing(ctx, cfg, node, []string{"n1", "host1"}, ips)
	if err != nil {
		t.Fatalf("NewServing: %v", err)
	}
	cert, err := r.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	if leaf.Subject.CommonName != "system:node:n1" || !slices.Equal(leaf.DNSNames, []string{"n1", "host1"}) ||
		len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(ips[0]) || !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		t.Errorf("serving certificate: CN %q, DNS %v, IPs %v, ext key usages %v", leaf.Subject.CommonName, leaf.DNSNames, leaf.IPAddresses, leaf.ExtKeyUsage)
	}
	if fi, err := os.Stat(join.ServingCertPath(dir)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("serving.pem: %v, %v", fi, err)
	}
	// A second start keeps the certificate it has for the same names.
	again, err := join.NewServing(ctx, cfg, node, []string{"n1", "host1"}, ips)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := again.GetCertificate(nil); !c.Leaf.Equal(leaf) {
		t.Error("a second NewServing for the same names asked for a new certificate")
	}

	// An address the Node does not have is not approved.
	short, stop := context.WithTimeout(ctx, 3*time.Second)
	defer stop()
	if _, err := join.NewServing(short, cfg, node, []string{"n1"}, []net.IP{net.IPv4(192, 0, 2, 1)}); err == nil {
		t.Error("a serving certificate for an address that is not the node's was issued")
	}
}
