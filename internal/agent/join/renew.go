package join

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Renewer keeps the node's certificate in a data directory fresh.
type Renewer struct {
	cfg    Config
	client kubernetes.Interface
	jitter func() float64
}

// NewRenewer returns a Renewer for the certificate Ensure wrote in
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
	return &Renewer{cfg: cfg, client: client, jitter: rand.Float64}, nil
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
		cert, err := loadCert(CertPath(r.cfg.DataDir))
		if err != nil {
			return err
		}
		wait := RenewAt(cert.NotBefore, cert.NotAfter, r.jitter()).Sub(r.cfg.Now())
		r.cfg.Logger.Debug("certificate renewal scheduled", "in", wait, "expires", cert.NotAfter)
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
			r.cfg.Logger.Error("certificate renewal failed", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Minute):
			}
		}
	}
}

// Renew requests a new certificate with the node's current one and
// replaces the certificate file.
func (r *Renewer) Renew(ctx context.Context) error {
	certPEM, keyPEM, err := RequestCertificate(ctx, r.client, r.cfg.NodeName, r.cfg.PollInterval)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(CertPath(r.cfg.DataDir), append(certPEM, keyPEM...)); err != nil {
		return err
	}
	r.cfg.Logger.Info("node certificate renewed", "node", r.cfg.NodeName)
	return nil
}
