package nodeipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"berth.dev/berth/internal/controller/worker"
)

// Config configures a Controller.
type Config struct {
	// Client patches Nodes. Required.
	Client kubernetes.Interface
	// Informers is the shared factory New registers its Node informer on;
	// the caller starts it after New. Required.
	Informers informers.SharedInformerFactory
	// ClusterCIDR is where pod ranges come from; zero means 10.42.0.0/16.
	ClusterCIDR netip.Prefix
	// NodeMaskSize is the prefix length of one Node's range; 0 means 24.
	NodeMaskSize int
	// Logger receives allocations and failures; nil discards.
	Logger *slog.Logger
}

// Controller assigns pod ranges to Nodes.
type Controller struct {
	client  kubernetes.Interface
	lister  corelisters.NodeLister
	cluster netip.Prefix
	bits    int
	synced  []cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string]
	log     *slog.Logger

	mu sync.Mutex
	// pending are ranges handed out whose Node the cache may not show
	// with them yet, by node name.
	pending map[string]netip.Prefix
}

// New validates cfg and registers the Node informer on cfg.Informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("nodeipam: Client and Informers are required")
	}
	if !cfg.ClusterCIDR.IsValid() {
		cfg.ClusterCIDR = netip.MustParsePrefix("10.42.0.0/16")
	}
	cfg.ClusterCIDR = cfg.ClusterCIDR.Masked()
	if cfg.NodeMaskSize == 0 {
		cfg.NodeMaskSize = 24
		if cfg.ClusterCIDR.Addr().Is6() {
			cfg.NodeMaskSize = 64
		}
	}
	if cfg.NodeMaskSize < cfg.ClusterCIDR.Bits() || cfg.NodeMaskSize > cfg.ClusterCIDR.Addr().BitLen() {
		return nil, fmt.Errorf("nodeipam: node mask size %d does not fit in %s", cfg.NodeMaskSize, cfg.ClusterCIDR)
	}
	if cfg.NodeMaskSize-cfg.ClusterCIDR.Bits() > 20 {
		return nil, fmt.Errorf("nodeipam: %s holds more than 2^20 ranges of /%d", cfg.ClusterCIDR, cfg.NodeMaskSize)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	inf := cfg.Informers.Core().V1().Nodes()
	c := &Controller{
		client: cfg.Client, lister: inf.Lister(), cluster: cfg.ClusterCIDR, bits: cfg.NodeMaskSize,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "nodeipam"}),
		log:     cfg.Logger.With("controller", "nodeipam"),
		pending: map[string]netip.Prefix{},
	}
	reg, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueue(obj) },
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	})
	if err != nil {
		return nil, fmt.Errorf("nodeipam: adding Node handler: %w", err)
	}
	c.synced = []cache.InformerSynced{reg.HasSynced}
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	if n, ok := obj.(*corev1.Node); ok && n.Spec.PodCIDR == "" {
		c.queue.Add(n.Name)
	}
}

// Run allocates with one worker until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return worker.Run(ctx, c.queue, 1, c.synced, c.sync, func(name string, err error) {
		c.log.Log(ctx, worker.Level(err), "allocating a pod range failed", "node", name, "err", err)
	})
}

func (c *Controller) sync(ctx context.Context, name string) error {
	node, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		c.mu.Lock()
		delete(c.pending, name)
		c.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	if node.Spec.PodCIDR != "" {
		c.mu.Lock()
		delete(c.pending, name)
		c.mu.Unlock()
		return nil
	}
	nodes, err := c.lister.List(labels.Everything())
	if err != nil {
		return err
	}
	c.mu.Lock()
	r, ok := c.pending[name]
	if !ok {
		r, err = free(c.cluster, c.bits, c.inUse(nodes))
		if err != nil {
			c.mu.Unlock()
			return err
		}
		c.pending[name] = r
	}
	c.mu.Unlock()
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": r.String(), "podCIDRs": []string{r.String()}}})
	if err != nil {
		return err
	}
	if _, err := c.client.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("setting %s's pod range %s: %w", name, r, err)
	}
	c.log.Info("pod range allocated", "node", name, "podCIDR", r)
	return nil
}

// inUse returns the ranges Nodes hold and the pending ones; c.mu is held.
func (c *Controller) inUse(nodes []*corev1.Node) map[netip.Prefix]bool {
	used := map[netip.Prefix]bool{}
	for _, n := range nodes {
		for _, s := range append([]string{n.Spec.PodCIDR}, n.Spec.PodCIDRs...) {
			if p, err := netip.ParsePrefix(s); err == nil {
				used[p.Masked()] = true
			}
		}
	}
	for _, p := range c.pending {
		used[p] = true
	}
	return used
}

// free returns the lowest range of cluster with prefix length bits not in
// used.
func free(cluster netip.Prefix, bits int, used map[netip.Prefix]bool) (netip.Prefix, error) {
	count := 1 << (bits - cluster.Bits())
	addr := cluster.Addr()
	for i := 0; i < count; i++ {
		p := netip.PrefixFrom(nth(addr, i, addr.BitLen()-bits), bits)
		if !used[p] {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free /%d left in %s", bits, cluster)
}

// nth returns base plus i ranges of 2^shift addresses.
func nth(base netip.Addr, i, shift int) netip.Addr {
	n := new(big.Int).SetBytes(base.AsSlice())
	n.Add(n, new(big.Int).Lsh(big.NewInt(int64(i)), uint(shift)))
	b := n.FillBytes(make([]byte, len(base.AsSlice())))
	a, _ := netip.AddrFromSlice(b)
	return a
}
