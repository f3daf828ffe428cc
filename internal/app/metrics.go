package app

import (
	"crypto/tls"
	"log/slog"
	"time"

	"k8s.io/client-go/kubernetes"

	"berth.dev/berth/internal/auth"
	"berth.dev/berth/internal/auth/pki"
	"berth.dev/berth/internal/metrics"
)

// metricsClientUser is the identity the metrics collector lists nodes as:
// in system:masters, as upstream's kube-apiserver kubelet client.
const metricsClientUser = "system:kube-apiserver-kubelet-client"

// newMetricsCollector builds the collector of nodes' resource metrics:
// it lists nodes through the API at serverURL as metricsClientUser and
// scrapes them with nodeTLS, the API server's identity towards nodes (the
// one their streaming servers accept).
func newMetricsCollector(keys *pki.PKI, serverURL string, nodeTLS *tls.Config, interval time.Duration, log *slog.Logger) (*metrics.Collector, error) {
	cfg, err := loopbackConfig(keys, serverURL, metricsClientUser, auth.SystemMasters)
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return metrics.New(metrics.Config{Client: client, TLS: nodeTLS, Interval: interval, Logger: log})
}
