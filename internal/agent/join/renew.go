package join

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Renewer keeps one of the node's certificates in its data directory
// fresh: the client certificate (NewRenewer) or the streaming server's
// serving certificate (NewServing).
type Renewer struct {
	cfg    Config
	client kubernetes.Interface
	path   string
	req    Request
	jitter func() float64
	// cert is the certificate in path, as last loaded or written.
	cert atomic.Pointer[tls.Certificate]
}

// NewRenewer returns a Renewer for the client certificate Ensure wrote in
// cfg.DataDir; it authenticates with that certificate (cfg.Token is not
// used).
func NewRenewer(cfg Config) (*Renewer, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", KubeconfigPath(cfg.DataDir))
	if err != nil {
		return nil, fmt.Errorf("loading the agent kubeconfig: %w", err)
	}
	rc.UserAgent = "berth-agent/renewal"
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	r := &Renewer{cfg: cfg, client: client, path: CertPath(cfg.DataDir), req: Request{NodeName: cfg.NodeName}, jitter: rand.Float64}
	pair, err := loadPair(r.path)
	if err != nil {
		return nil, err
	}
	r.cert.Store(pair)
	return r, nil
}

// NewServing returns the Renewer of the node's serving certificate for
// dnsNames and ips, requested with client (the node's own credentials)
// from the kubernetes.io/kubelet-serving signer. It waits for one to be
// issued unless cfg.DataDir already holds one, still valid, for exactly
// those names. cfg.Server and cfg.Token are not used.
func NewServing(ctx context.Context, cfg Config, client kubernetes.Interface, dnsNames []string, ips []net.IP) (*Renewer, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(ServingCertPath(cfg.DataDir)), 0o700); err != nil {
		return nil, err
	}
	r := &Renewer{cfg: cfg, client: client, path: ServingCertPath(cfg.DataDir),
		req: Request{NodeName: cfg.NodeName, DNSNames: dnsNames, IPs: ips}, jitter: rand.Float64}
	if pair, err := loadPair(r.path); err == nil && cfg.Now().Before(pair.Leaf.NotAfter) && r.names(pair) {
		r.cert.Store(pair)
		return r, nil
	}
	if err := r.Renew(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// names reports whether pair names exactly the requested DNS names and IPs.
func (r *Renewer) names(pair *tls.Certificate) bool {
	return slices.Equal(pair.Leaf.DNSNames, r.req.DNSNames) &&
		slices.EqualFunc(pair.Leaf.IPAddresses, r.req.IPs, func(a, b net.IP) bool { return a.Equal(b) })
}

// GetCertificate returns the current certificate, for a tls.Config.
func (r *Renewer) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// RenewAt is when a certificate valid from notBefore to notAfter is
// renewed: at 70% of its lifetime plus jitter (0 to 1) times 20%.
func RenewAt(notBefore, notAfter time.Time, jitter float64) time.Time {
	life := notAfter.Sub(notBefore)
	return notBefore.Add(life/10*7 + time.Duration(float64(life/5)*jitter))
}

// Run renews the certificate when due, until ctx ends; a failed renewal
// is retried after a minute (or sooner, before the certificate expires).
func (r *Renewer) Run(ctx context.Context) error {
	for {
		cert := r.cert.Load().Leaf
		wait := RenewAt(cert.NotBefore, cert.NotAfter, r.jitter()).Sub(r.cfg.Now())
		r.cfg.Logger.Debug("certificate renewal scheduled", "file", r.path, "in", wait, "expires", cert.NotAfter)
		t := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if err := r.Renew(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.cfg.Logger.Error("certificate renewal failed", "file", r.path, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Minute):
			}
		}
	}
}

// Renew requests a new certificate with the node's credentials and
// replaces the certificate file.
func (r *Renewer) Renew(ctx context.Context) error {
	certPEM, keyPEM, err := RequestCertificate(ctx, r.client, r.req, r.cfg.PollInterval)
	if err != nil {
		return err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(r.path, append(certPEM, keyPEM...)); err != nil {
		return err
	}
	r.cert.Store(&pair)
	r.cfg.Logger.Info("node certificate issued", "node", r.cfg.NodeName, "file", r.path)
	return nil
}
