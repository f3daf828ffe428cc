package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"berth.dev/berth/test/nodecleanup"
)

// nodeTimeout bounds the wait for an agent's Node to be Ready and its
// Lease renewed (every 10 s).
const nodeTimeout = 60 * time.Second

// startAgent runs `berth agent` as node name with a data directory of
// its own holding the busybox test image, and args, until the test ends;
// its log is printed if the test failed. It returns the data directory.
// The test must delete the node's pods before it ends.
func startAgent(t *testing.T, name string, args ...string) string {
	t.Helper()
	nodecleanup.NeedContainers(t)
	dataDir := t.TempDir()
	importTestImages(t, dataDir)
	// Cleanups run last first: the node is cleaned once the agent stopped.
	t.Cleanup(func() { nodecleanup.CleanUp(t, dataDir, netip.Prefix{}) })
	logPath := filepath.Join(t.TempDir(), "agent.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	args = append([]string{"agent", "--data-dir", dataDir, "--node-name", name, "--node-ip", "127.0.0.1", "--kubelet-port", "0"}, args...)
	cmd := exec.Command(berthBinary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("berth agent log:\n%s", out)
		}
	})
	return dataDir
}

// nodeKubeconfig gets a client certificate for node name through a CSR
// that the admin approves with kubectl, and writes a kubeconfig with it.
func nodeKubeconfig(t *testing.T, s *server, name string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:" + name, Organization: []string{"system:nodes"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := json.Marshal(map[string]any{
		"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
		"metadata": map[string]any{"name": "csr-" + name},
		"spec": map[string]any{
			"request":    base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})),
			"signerName": "kubernetes.io/kube-apiserver-client-kubelet",
			"usages":     []string{"digital signature", "client auth"},
		},
	})
	manifest := filepath.Join(t.TempDir(), "csr.json")
	if err := os.WriteFile(manifest, csr, 0o600); err != nil {
		t.Fatal(err)
	}
	s.kubectl(t, "create", "-f", manifest)
	s.kubectl(t, "certificate", "approve", "csr-"+name)
	var certPEM []byte
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, readyTimeout, true, func(context.Context) (bool, error) {
		out := s.kubectl(t, "get", "csr", "csr-"+name, "-o", "jsonpath={.status.certificate}")
		certPEM, err = base64.StdEncoding.DecodeString(out)
		return len(certPEM) > 0, err
	})
	if err != nil {
		t.Fatalf("waiting for the node certificate: %v", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(s.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AuthInfos = map[string]*clientcmdapi.AuthInfo{"node": {
		ClientCertificateData: certPEM,
		ClientKeyData:         pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}}
	for _, c := range cfg.Contexts {
		c.AuthInfo = "node"
	}
	path := filepath.Join(t.TempDir(), "node.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitNodeReady waits until kubectl get nodes shows name Ready and its
// Lease has been renewed once.
func waitNodeReady(t *testing.T, s *server, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, nodeTimeout, true, func(context.Context) (bool, error) {
		r := s.kubectlWith(kubectlPath(t)).exec(t, nil, "get", "nodes", name, "--no-headers")
		f := strings.Fields(r.stdout)
		return r.code == 0 && len(f) > 1 && f[0] == name && f[1] == "Ready", nil
	})
	if err != nil {
		t.Fatalf("node %s not Ready in kubectl get nodes within %v: %v", name, nodeTimeout, err)
	}
	client := s.clientset(t)
	var first time.Time
	err = wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, nodeTimeout, true, func(ctx context.Context) (bool, error) {
		l, err := client.CoordinationV1().Leases("kube-node-lease").Get(ctx, name, metav1.GetOptions{})
		if err != nil || l.Spec.RenewTime == nil {
			return false, nil
		}
		if first.IsZero() {
			first = l.Spec.RenewTime.Time
		}
		return l.Spec.RenewTime.After(first), nil
	})
	if err != nil {
		t.Fatalf("lease of %s not renewed within %v: %v", name, nodeTimeout, err)
	}
}

func TestAgentJoinsWithKubeconfig(t *testing.T) {
	s := startServer(t)
	kubectlPath(t)
	kubeconfig := nodeKubeconfig(t, s, "e2e-node")
	startAgent(t, "e2e-node", "--kubeconfig", kubeconfig)
	waitNodeReady(t, s, "e2e-node")

	// The node's credentials read the Secrets of its pods only.
	client := s.clientset(t)
	ctx := t.Context()
	for node, secret := range map[string]string{"e2e-node": "mine", "other-node": "theirs"} {
		if _, err := client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secret}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "uses-" + secret}, Spec: corev1.PodSpec{
			NodeName:                      node,
			TerminationGracePeriodSeconds: ptr[int64](1),
			Containers:                    []corev1.Container{{Name: "c", Image: "berth.test/busybox:v1", ImagePullPolicy: corev1.PullNever, Command: []string{"sleep", "3600"}}},
			Volumes:                       []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}},
		}}
		// The default ServiceAccount appears shortly after start.
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, readyTimeout, true, func(ctx context.Context) (bool, error) {
			_, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
			return err == nil, nil
		})
		if err != nil {
			t.Fatalf("creating pod uses-%s: %v", secret, err)
		}
	}
	// client-go rather than kubectl: discovery needs RBAC's
	// system:discovery role, which is not the Node authorizer's business.
	node := nodeClient(t, kubeconfig)
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, readyTimeout, true, func(ctx context.Context) (bool, error) {
		_, err := node.CoreV1().Secrets("default").Get(ctx, "mine", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Errorf("the node cannot read the secret of its own pod: %v", err)
	}
	if _, err := node.CoreV1().Secrets("default").Get(ctx, "theirs", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("the node reading another node's pod's secret: %v, want 403 Forbidden", err)
	}
	// The node runs its pod, with the secret mounted.
	s.kubectl(t, "wait", "--for=condition=Ready", "pod/uses-mine", "--timeout=60s")
	s.kubectl(t, "delete", "pod", "uses-mine", "--timeout=60s")
	// No agent runs other-node.
	s.kubectl(t, "delete", "pod", "uses-theirs", "--force", "--grace-period=0")
}

func nodeClient(t *testing.T, kubeconfig string) *kubernetes.Clientset {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

func TestAgentJoinsWithToken(t *testing.T) {
	s := startServer(t)
	kubectlPath(t)
	const id, secret = "e2e0ab", "0123456789abcdef"
	client := s.clientset(t)
	_, err := client.CoreV1().Secrets("kube-system").Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + id},
		Type:       "bootstrap.kubernetes.io/token",
		StringData: map[string]string{
			"token-id": id, "token-secret": secret, "usage-bootstrap-authentication": "true",
			"auth-extra-groups": "system:bootstrappers:berth:default-node-token",
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	admin := s.restConfig(t)
	probe := &rest.Config{Host: admin.Host, BearerToken: id + "." + secret, TLSClientConfig: rest.TLSClientConfig{CAData: admin.CAData}}
	code, err := getStatus(probe, "/api")
	if err != nil {
		t.Fatal(err)
	}
	if code == http.StatusUnauthorized {
		t.Skip("this berth has no bootstrap token authenticator yet: the token was refused with 401")
	}
	caPEM, err := os.ReadFile(filepath.Join(s.dataDir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(caPEM)
	if block == nil {
		t.Fatal("ca.crt is not PEM")
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	hash := sha256.Sum256(ca.RawSubjectPublicKeyInfo)
	token := "berth1.sha256:" + hex.EncodeToString(hash[:]) + "." + id + "." + secret
	dataDir := startAgent(t, "e2e-joined", "--server", admin.Host, "--token", token)
	waitNodeReady(t, s, "e2e-joined")

	kubeconfig := filepath.Join(dataDir, "agent", "kubeconfig")
	for _, p := range []string{kubeconfig, filepath.Join(dataDir, "agent", "client.pem")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
	node := nodeClient(t, kubeconfig)
	if _, err := node.CoreV1().Nodes().Get(t.Context(), "e2e-joined", metav1.GetOptions{}); err != nil {
		t.Errorf("the joined node reading its Node: %v", err)
	}
	if _, err := node.CoreV1().Secrets("kube-system").List(t.Context(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("the joined node listing kube-system secrets: %v, want 403 Forbidden", err)
	}

	// The joined machine runs pods; logs, exec and top reach it through
	// the API server, which verifies the serving certificate the node got
	// from the cluster for its own names.
	s.kubectl(t, "run", "joined", "--image=berth.test/busybox:v1", "--image-pull-policy=Never", "--overrides",
		`{"spec":{"nodeName":"e2e-joined","terminationGracePeriodSeconds":1}}`, "--", "sh", "-c", "echo hello from the joined node; exec sleep 3600")
	s.kubectl(t, "wait", "--for=condition=Ready", "pod/joined", "--timeout=60s")
	if got := s.kubectl(t, "logs", "joined"); got != "hello from the joined node\n" {
		t.Errorf("kubectl logs: %q", got)
	}
	if got := s.kubectl(t, "exec", "joined", "--", "hostname"); got != "joined\n" {
		t.Errorf("kubectl exec: %q", got)
	}
	if fi, err := os.Stat(filepath.Join(dataDir, "agent", "serving.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the node's serving certificate: %v, %v", fi, err)
	}
	s.kubectl(t, "delete", "pod", "joined", "--timeout=60s")
}
