package app

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/kubernetes"

	"berth.dev/berth/internal/auth"
	"berth.dev/berth/internal/auth/pki"
	"berth.dev/berth/internal/metrics"
)

// metricsClientUser is the identity the API server scrapes nodes with and
// lists them as: in system:masters, as upstream's kube-apiserver kubelet
// client.
const metricsClientUser = "system:kube-apiserver-kubelet-client"

// newMetricsCollector builds the collector of nodes' resource metrics:
// it lists nodes through the API at serverURL and scrapes them over TLS
// verified against the cluster CA, with one client certificate of its own
// for both.
func newMetricsCollector(keys *pki.PKI, serverURL string, interval time.Duration, log *slog.Logger) (*metrics.Collector, error) {
	cfg, err := loopbackConfig(keys, serverURL, metricsClientUser, auth.SystemMasters)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(cfg.TLSClientConfig.CertData, cfg.TLSClientConfig.KeyData)
	if err != nil {
		return nil, fmt.Errorf("loading the %s certificate: %w", metricsClientUser, err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return metrics.New(metrics.Config{
		Client:   client,
		TLS:      &tls.Config{RootCAs: keys.CAPool(), Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Interval: interval,
		Logger:   log,
	})
}
