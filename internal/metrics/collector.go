package metrics

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// ResourcePath is where a node serves its resource metrics.
const ResourcePath = "/metrics/resource"

// Config configures a Collector.
type Config struct {
	// Client lists the nodes to scrape.
	Client kubernetes.Interface
	// TLS is the client side of the scrapes: RootCAs the cluster CA and
	// Certificates the API server's client identity. Required.
	TLS *tls.Config
	// Interval is the time between scrapes; 0 means 15 s.
	Interval time.Duration
	// Timeout bounds one node's scrape; 0 means Interval.
	Timeout time.Duration
	// Parallel is how many nodes are scraped at once; 0 means 16.
	Parallel int
	// Logger receives failed scrapes; nil discards.
	Logger *slog.Logger
}

// Collector scrapes nodes' resource metrics and answers with usage over
// the last window. Its methods are safe for concurrent use.
type Collector struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger

	mu sync.RWMutex // guards nodes
	// nodes holds each node's last two scrapes and the usage computed
	// from them; a node that left or failed its scrape is dropped.
	nodes map[string]*nodeState
}

// nodeState is one node's scrapes and what they give.
type nodeState struct {
	last Scrape
	node *metricsv1beta1.NodeMetrics // nil until two scrapes
	pods map[string]*metricsv1beta1.PodMetrics
}

// New validates cfg and builds a Collector.
func New(cfg Config) (*Collector, error) {
	if cfg.Client == nil || cfg.TLS == nil {
		return nil, errors.New("metrics: Client and TLS are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 15 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = cfg.Interval
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tr := &http.Transport{TLSClientConfig: cfg.TLS.Clone(), MaxIdleConnsPerHost: 1, ForceAttemptHTTP2: true}
	return &Collector{
		cfg:    cfg,
		client: &http.Client{Transport: tr, Timeout: cfg.Timeout},
		log:    cfg.Logger.With("component", "metrics"),
		nodes:  map[string]*nodeState{},
	}, nil
}

// Run scrapes every Interval until ctx ends.
func (c *Collector) Run(ctx context.Context) error {
	defer c.client.CloseIdleConnections()
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		c.collect(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// collect scrapes every Ready node once and replaces the state.
func (c *Collector) collect(ctx context.Context) {
	list, err := c.cfg.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		if ctx.Err() == nil {
			c.log.Error("listing nodes failed", "err", err)
		}
		return
	}
	type result struct {
		name   string
		scrape Scrape
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex // guards results
		results []result
		sem     = make(chan struct{}, c.cfg.Parallel)
	)
	for i := range list.Items {
		n := &list.Items[i]
		url, ok := scrapeURL(n)
		if !ok {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			s, err := c.scrape(ctx, url)
			if err != nil {
				c.log.Info("scraping node failed", "node", n.Name, "err", err)
				return
			}
			mu.Lock()
			results = append(results, result{n.Name, s})
			mu.Unlock()
		}()
	}
	wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	next := make(map[string]*nodeState, len(results))
	for _, r := range results {
		next[r.name] = advance(c.nodes[r.name], r.name, r.scrape)
	}
	c.nodes = next
}

// scrapeURL is where a Ready node serves its resource metrics, from its
// InternalIP and kubelet port.
func scrapeURL(n *corev1.Node) (string, bool) {
	ready := false
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	port := n.Status.DaemonEndpoints.KubeletEndpoint.Port
	if !ready || port <= 0 {
		return "", false
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return "https://" + net.JoinHostPort(a.Address, strconv.Itoa(int(port))) + ResourcePath, true
		}
	}
	return "", false
}

func (c *Collector) scrape(ctx context.Context, url string) (Scrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Scrape{}, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := c.client.Do(req)
	if err != nil {
		return Scrape{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Scrape{}, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return ParseText(resp.Body)
}

// advance computes a node's usage from its previous scrape and s, as
// metrics-server: CPU is the counter's rate between the two points, so a
// point needs an earlier one whose counter is not larger (a restart
// resets it) and whose time is earlier; memory is the latest working set.
// A pod has metrics only when every container it reports has.
func advance(prev *nodeState, name string, s Scrape) *nodeState {
	st := &nodeState{last: s, pods: map[string]*metricsv1beta1.PodMetrics{}}
	if prev == nil {
		return st
	}
	if u, window, ok := usage(prev.last.Node, s.Node); ok {
		st.node = &metricsv1beta1.NodeMetrics{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Timestamp:  metav1.NewTime(s.Node.Time), Window: metav1.Duration{Duration: window}, Usage: u,
		}
	}
	before := map[string]Point{}
	for _, c := range prev.last.Containers {
		before[c.Namespace+"/"+c.Pod+"/"+c.Container] = c.Point
	}
	incomplete := map[string]bool{}
	for _, c := range s.Containers {
		key := c.Namespace + "/" + c.Pod
		old, seen := before[key+"/"+c.Container]
		u, window, ok := usage(old, c.Point)
		if !seen || !ok {
			incomplete[key] = true
			continue
		}
		pm := st.pods[key]
		if pm == nil {
			pm = &metricsv1beta1.PodMetrics{
				ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: c.Pod},
				Timestamp:  metav1.NewTime(c.Time), Window: metav1.Duration{Duration: window},
			}
			st.pods[key] = pm
		}
		pm.Containers = append(pm.Containers, metricsv1beta1.ContainerMetrics{Name: c.Container, Usage: u})
	}
	for key := range incomplete {
		delete(st.pods, key)
	}
	return st
}

// usage is the resource usage between two points of one counter.
func usage(prev, cur Point) (corev1.ResourceList, time.Duration, bool) {
	window := cur.Time.Sub(prev.Time)
	if prev.Time.IsZero() || window <= 0 || cur.CPUSeconds < prev.CPUSeconds {
		return nil, 0, false
	}
	cores := (cur.CPUSeconds - prev.CPUSeconds) / window.Seconds()
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewScaledQuantity(int64(cores*1e9), resource.Nano),
		corev1.ResourceMemory: *resource.NewQuantity(int64(cur.MemoryBytes), resource.BinarySI),
	}, window, true
}

// NodeMetrics returns the usage of node name over the last window; the
// caller fills the object's metadata.
func (c *Collector) NodeMetrics(name string) (*metricsv1beta1.NodeMetrics, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st := c.nodes[name]
	if st == nil || st.node == nil {
		return nil, false
	}
	return st.node.DeepCopy(), true
}

// PodMetrics returns the usage of a pod's containers over the last
// window, from the node it runs on; the caller fills the metadata.
func (c *Collector) PodMetrics(node, namespace, name string) (*metricsv1beta1.PodMetrics, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st := c.nodes[node]
	if st == nil {
		return nil, false
	}
	pm := st.pods[namespace+"/"+name]
	if pm == nil {
		return nil, false
	}
	return pm.DeepCopy(), true
}
