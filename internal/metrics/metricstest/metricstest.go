// Package metricstest starts, for tests, an in-process API server that
// serves resource metrics collected from simulated nodes: the whole
// pipeline of internal/metrics, as berth server and berth sim run it.
package metricstest

import (
	"context"
	"crypto/tls"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"berth.dev/berth/internal/apiserver"
	"berth.dev/berth/internal/apiserver/apiservertest"
	"berth.dev/berth/internal/auth"
	"berth.dev/berth/internal/metrics"
	"berth.dev/berth/internal/sim"
)

// Cluster is a running API server with simulated nodes serving metrics
// (named sim-0, sim-1, ...) and a Collector scraping them.
type Cluster struct {
	*apiservertest.Server
	// Client is an admin client.
	Client kubernetes.Interface
}

// laterSource answers from the Collector, built once the server it lists
// nodes from has started.
type laterSource struct {
	c atomic.Pointer[metrics.Collector]
}

func (l *laterSource) NodeMetrics(name string) (*metricsv1beta1.NodeMetrics, bool) {
	if c := l.c.Load(); c != nil {
		return c.NodeMetrics(name)
	}
	return nil, false
}

func (l *laterSource) PodMetrics(node, namespace, name string) (*metricsv1beta1.PodMetrics, bool) {
	if c := l.c.Load(); c != nil {
		return c.PodMetrics(node, namespace, name)
	}
	return nil, false
}

// Start starts the cluster with nodes simulated nodes, scraped every
// interval; it stops when t ends.
func Start(t testing.TB, nodes int, interval time.Duration) *Cluster {
	t.Helper()
	src := &laterSource{}
	srv := apiservertest.Start(t, func(c *apiserver.Config) { c.Metrics = src })
	client, err := kubernetes.NewForConfig(srv.Admin)
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	s, err := sim.New(sim.Config{Client: client, Informers: factory, Nodes: nodes, Metrics: srv.PKI})
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := srv.PKI.IssueClientCert("system:kube-apiserver-kubelet-client", []string{auth.SystemMasters}, 0)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	col, err := metrics.New(metrics.Config{Client: client, Interval: interval,
		TLS: &tls.Config{RootCAs: srv.PKI.CAPool(), Certificates: []tls.Certificate{cert}}})
	if err != nil {
		t.Fatal(err)
	}
	src.c.Store(col)
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	simDone, colDone := make(chan error, 1), make(chan error, 1)
	go func() { simDone <- s.Run(ctx) }()
	go func() { colDone <- col.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for _, ch := range []chan error{simDone, colDone} {
			if err := <-ch; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
		factory.Shutdown()
	})
	return &Cluster{Server: srv, Client: client}
}
