package sim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"berth.dev/berth/internal/metrics"
)

// Annotations that set a running pod's simulated resource usage, shared
// evenly by its containers; absent or unparsable means none.
const (
	// CPUUsageAnnotation is the pod's CPU usage as a quantity of cores
	// ("250m").
	CPUUsageAnnotation = "sim.berth.dev/cpu-usage"
	// MemoryUsageAnnotation is the pod's memory working set as a quantity
	// of bytes ("64Mi").
	MemoryUsageAnnotation = "sim.berth.dev/memory-usage"
)

// Certificates issues the nodes' serving certificates and verifies their
// clients; *pki.PKI is one.
type Certificates interface {
	IssueServingCert(cn string, dnsNames []string, ips []net.IP, ttl time.Duration) (certPEM, keyPEM []byte, err error)
	CAPool() *x509.CertPool
}

// usage is one node's simulated counters. Its owner node's mu guards it.
type usage struct {
	at time.Time
	// cpu is each container's cumulative CPU seconds, by pod UID and
	// container name.
	cpu     map[string]float64
	nodeCPU float64
}

// serveMetrics starts one HTTPS server per node on a loopback port of its
// own, serving metrics.ResourcePath, and records the port. The servers
// stop when ctx ends; wg waits for them.
func (s *Sim) serveMetrics(ctx context.Context, wg *sync.WaitGroup) error {
	for _, name := range s.names {
		n := s.nodes[name]
		certPEM, keyPEM, err := s.certs.IssueServingCert(n.name, []string{n.name}, []net.IP{net.IPv4(127, 0, 0, 1)}, 0)
		if err != nil {
			return err
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return fmt.Errorf("node %s: %w", n.name, err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("node %s: listening: %w", n.name, err)
		}
		n.port = ln.Addr().(*net.TCPAddr).Port
		mux := http.NewServeMux()
		mux.HandleFunc("GET "+metrics.ResourcePath, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", metrics.TextContentType)
			if err := metrics.WriteText(w, s.scrape(n, s.clock.Now())); err != nil {
				s.log.Error("writing metrics failed", "node", n.name, "err", err)
			}
		})
		srv := &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			TLSConfig: &tls.Config{
				Certificates: []tls.Certificate{cert},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    s.certs.CAPool(),
				MinVersion:   tls.VersionTLS12,
			},
		}
		wg.Go(func() {
			if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("metrics server failed", "node", n.name, "err", err)
			}
		})
		wg.Go(func() {
			<-ctx.Done()
			_ = srv.Close()
		})
	}
	return nil
}

// scrape advances n's counters to now at the usage its running pods are
// annotated with, and returns them.
func (s *Sim) scrape(n *node, now time.Time) metrics.Scrape {
	// The wire has millisecond timestamps: count to the same instant, so
	// rates computed from them are the annotated ones.
	now = now.Truncate(time.Millisecond)
	objs, _ := s.podIndexer.ByIndex(nodeNameIndex, n.name)
	n.mu.Lock()
	defer n.mu.Unlock()
	var elapsed float64
	if !n.usage.at.IsZero() && now.After(n.usage.at) {
		elapsed = now.Sub(n.usage.at).Seconds()
	}
	cpu := map[string]float64{}
	out := metrics.Scrape{}
	var nodeCores float64
	var nodeMemory uint64
	for _, obj := range objs {
		pod, ok := obj.(*corev1.Pod)
		if !ok || pod.Status.Phase != corev1.PodRunning || len(pod.Spec.Containers) == 0 {
			continue
		}
		cpuQ, memQ := annotatedQuantity(pod, CPUUsageAnnotation), annotatedQuantity(pod, MemoryUsageAnnotation)
		cores, mem := cpuQ.AsApproximateFloat64(), memQ.Value()
		share := float64(len(pod.Spec.Containers))
		nodeCores += cores
		nodeMemory += uint64(mem)
		for _, c := range pod.Spec.Containers {
			key := string(pod.UID) + "/" + c.Name
			cpu[key] = n.usage.cpu[key] + cores/share*elapsed
			out.Containers = append(out.Containers, metrics.ContainerPoint{
				Namespace: pod.Namespace, Pod: pod.Name, Container: c.Name,
				Point: metrics.Point{CPUSeconds: cpu[key], MemoryBytes: uint64(mem) / uint64(share), Time: now},
			})
		}
	}
	n.usage.nodeCPU += nodeCores * elapsed
	n.usage.cpu, n.usage.at = cpu, now
	out.Node = metrics.Point{CPUSeconds: n.usage.nodeCPU, MemoryBytes: nodeMemory, Time: now}
	return out
}

// annotatedQuantity is the pod's non-negative quantity annotation, zero
// when absent or invalid.
func annotatedQuantity(pod *corev1.Pod, key string) resource.Quantity {
	q, err := resource.ParseQuantity(pod.Annotations[key])
	if err != nil || q.Sign() < 0 {
		return resource.Quantity{}
	}
	return q
}
