package join

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"berth.dev/berth/internal/auth/bootstrap"
)

// Node certificate subject.
const (
	NodeGroup      = "system:nodes"
	NodeUserPrefix = "system:node:"
)

// KubeconfigPath is where the agent's kubeconfig lives under its data
// directory; CertPath its client certificate and key.
func KubeconfigPath(dataDir string) string { return filepath.Join(dataDir, "agent", "kubeconfig") }

// CertPath is the PEM file holding the node's client certificate and key.
func CertPath(dataDir string) string { return filepath.Join(dataDir, "agent", "client.pem") }

// ServingCertPath is the PEM file holding the serving certificate and key
// of the node's streaming server.
func ServingCertPath(dataDir string) string { return filepath.Join(dataDir, "agent", "serving.pem") }

// Config says how to join.
type Config struct {
	// Server is the API server's https URL; Ensure requires it.
	Server string
	// Token is the join token; needed only when the data directory holds
	// no valid certificate yet.
	Token string
	// DataDir is the agent's data directory. Required.
	DataDir string
	// NodeName is the node's name. Required.
	NodeName string
	// PollInterval is how often a pending CSR is checked; 0 means 1s.
	PollInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger reports progress; nil discards.
	Logger *slog.Logger
}

func (c *Config) fill() error {
	if c.DataDir == "" || c.NodeName == "" {
		return errors.New("join: DataDir and NodeName are required")
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Ensure returns the path of a kubeconfig with the node's own valid
// credentials, joining with cfg.Token first if the data directory has
// none (or only an expired certificate).
func Ensure(ctx context.Context, cfg Config) (string, error) {
	if err := cfg.fill(); err != nil {
		return "", err
	}
	if cfg.Server == "" {
		return "", errors.New("join: Server is required")
	}
	kubeconfig := KubeconfigPath(cfg.DataDir)
	if cert, err := loadCert(CertPath(cfg.DataDir)); err == nil && cfg.Now().Before(cert.NotAfter) {
		if _, err := os.Stat(kubeconfig); err == nil {
			return kubeconfig, nil
		}
	}
	if cfg.Token == "" {
		return "", fmt.Errorf("no valid node certificate in %s and no join token to get one", filepath.Dir(kubeconfig))
	}
	tok, err := bootstrap.ParseJoinToken(cfg.Token)
	if err != nil {
		return "", err
	}
	caPEM, err := FetchCA(ctx, cfg.Server, tok)
	if err != nil {
		return "", err
	}
	cfg.Logger.Info("cluster CA verified against the join token", "server", cfg.Server)
	bootstrap, err := kubernetes.NewForConfig(&rest.Config{
		Host: cfg.Server, BearerToken: tok.Token.String(),
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM},
		UserAgent:       "berth-agent/bootstrap",
	})
	if err != nil {
		return "", err
	}
	certPEM, keyPEM, err := RequestCertificate(ctx, bootstrap, Request{NodeName: cfg.NodeName}, cfg.PollInterval)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(kubeconfig), 0o700); err != nil {
		return "", err
	}
	if err := writeFileAtomic(CertPath(cfg.DataDir), append(certPEM, keyPEM...)); err != nil {
		return "", err
	}
	if err := writeKubeconfig(kubeconfig, cfg.Server, caPEM, CertPath(cfg.DataDir), cfg.NodeName); err != nil {
		return "", err
	}
	cfg.Logger.Info("node certificate issued", "node", cfg.NodeName, "kubeconfig", kubeconfig)
	return kubeconfig, nil
}

// Request is a certificate a node asks for: its client certificate, or,
// with DNSNames or IPs, a serving certificate for them (signer
// kubernetes.io/kubelet-serving).
type Request struct {
	NodeName string
	DNSNames []string
	IPs      []net.IP
}

func (r Request) serving() bool { return len(r.DNSNames) > 0 || len(r.IPs) > 0 }

// RequestCertificate asks for req's certificate for a new ECDSA P-256 key
// through a CSR created with client, and waits until it is issued (or
// denied, failed, or ctx ends). It returns the certificate and key in PEM.
func RequestCertificate(ctx context.Context, client kubernetes.Interface, req Request, poll time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating the node key: %w", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: NodeUserPrefix + req.NodeName, Organization: []string{NodeGroup}},
		DNSNames: req.DNSNames, IPAddresses: req.IPs,
	}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("making the certificate request: %w", err)
	}
	signer, usages := certificatesv1.KubeAPIServerClientKubeletSignerName, []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	if req.serving() {
		signer, usages = certificatesv1.KubeletServingSignerName, []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}
	}
	csr, err := client.CertificatesV1().CertificateSigningRequests().Create(ctx, &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "node-csr-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: signer,
			Usages:     usages,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("creating the node's CSR: %w", err)
	}
	err = wait.PollUntilContextCancel(ctx, poll, true, func(ctx context.Context) (bool, error) {
		got, err := client.CertificatesV1().CertificateSigningRequests().Get(ctx, csr.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil // transient; ctx bounds the wait
		}
		for _, c := range got.Status.Conditions {
			if c.Type == certificatesv1.CertificateDenied || c.Type == certificatesv1.CertificateFailed {
				return false, fmt.Errorf("CSR %s %s: %s %s", csr.Name, c.Type, c.Reason, c.Message)
			}
		}
		certPEM = got.Status.Certificate
		return len(certPEM) > 0, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("waiting for CSR %s: %w", csr.Name, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return nil, nil, fmt.Errorf("the certificate issued for CSR %s does not match its key: %w", csr.Name, err)
	}
	return certPEM, keyPEM, nil
}

// loadCert reads the certificate of a cert-and-key PEM file, checking the
// key matches it.
func loadCert(path string) (*x509.Certificate, error) {
	pair, err := loadPair(path)
	if err != nil {
		return nil, err
	}
	return pair.Leaf, nil
}

// loadPair reads a cert-and-key PEM file.
func loadPair(path string) (*tls.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(data, data)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return &pair, nil
}

// writeKubeconfig writes a kubeconfig for server that trusts caPEM and
// authenticates with the certificate and key in certFile.
func writeKubeconfig(path, server string, caPEM []byte, certFile, node string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["berth"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[NodeUserPrefix+node] = &clientcmdapi.AuthInfo{ClientCertificate: certFile, ClientKey: certFile}
	cfg.Contexts["berth"] = &clientcmdapi.Context{Cluster: "berth", AuthInfo: NodeUserPrefix + node}
	cfg.CurrentContext = "berth"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encoding the kubeconfig: %w", err)
	}
	return writeFileAtomic(path, data)
}

// writeFileAtomic replaces path with data, mode 0600, through a rename.
func writeFileAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
