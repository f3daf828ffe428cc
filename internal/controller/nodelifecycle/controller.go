package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"berth.dev/berth/internal/controller/worker"
)

// Config configures a Controller. Zero durations and rates mean upstream's
// defaults.
type Config struct {
	// Client writes node status and taints, pod status, and deletes pods.
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New. The controller
	// watches nodes, Leases and pods through it.
	Informers informers.SharedInformerFactory
	// Clock drives the monitor, the rate limits and tolerationSeconds;
	// nil means the real clock.
	Clock clock.WithTicker
	// Logger receives failures and decisions; nil discards.
	Logger *slog.Logger
	// Workers is the number of concurrent syncs of each work queue (node
	// NoSchedule taints, pod evictions); 0 means 4.
	Workers int

	// GracePeriod is how long a node may go without renewing its Lease or
	// its Ready heartbeat before it is Unknown (node-monitor-grace-period);
	// 0 means 40s.
	GracePeriod time.Duration
	// StartupGracePeriod replaces GracePeriod for a node that never
	// reported Ready (node-startup-grace-period); 0 means 60s.
	StartupGracePeriod time.Duration
	// MonitorPeriod is how often node health is checked
	// (node-monitor-period); 0 means 5s.
	MonitorPeriod time.Duration
	// EvictionRate is how many nodes a second per zone get a NoExecute
	// taint (node-eviction-rate); 0 means 0.1.
	EvictionRate float64
	// SecondaryEvictionRate replaces EvictionRate in a partially disrupted
	// zone of a large cluster (secondary-node-eviction-rate); 0 means 0.01.
	SecondaryEvictionRate float64
	// LargeClusterThreshold is the number of nodes above which a zone is
	// large enough to keep tainting at SecondaryEvictionRate while
	// partially disrupted (large-cluster-size-threshold); 0 means 50.
	LargeClusterThreshold int
	// UnhealthyZoneThreshold is the share of not-Ready nodes from which a
	// zone is partially disrupted (unhealthy-zone-threshold); 0 means 0.55.
	UnhealthyZoneThreshold float64
}

// taintPassPeriod is how often the zones' NoExecute taint queues are
// drained, as upstream's NodeEvictionRateLimiterPeriod.
const taintPassPeriod = 100 * time.Millisecond

// podNodeIndex indexes pods by the node they are bound to.
const podNodeIndex = "nodelifecycle.berth.dev/nodeName"

// Controller monitors node health, taints nodes and evicts pods from
// NoExecute-tainted nodes. See the package documentation.
type Controller struct {
	client  kubernetes.Interface
	clock   clock.WithTicker
	log     *slog.Logger
	workers int

	grace, startup, period time.Duration
	rates                  rates
	unhealthyThreshold     float64

	nodes      corelisters.NodeLister
	leases     coordinationlisters.LeaseLister
	pods       corelisters.PodLister
	podIndexer cache.Indexer
	synced     []cache.InformerSynced

	// noSchedule takes node names whose NoSchedule taints to sync.
	noSchedule workqueue.TypedRateLimitingInterface[string]
	// evictions takes pod keys to sync, some after a delay on clock.
	evictions workqueue.TypedRateLimitingInterface[string]

	// evMu guards evictAt.
	evMu sync.Mutex
	// evictAt is when each pod exposed to NoExecute taints it tolerates
	// for a while is to be deleted.
	evictAt map[string]time.Time

	// mon is the monitor's state, used only by the monitor goroutine.
	mon monitorState
}

// New validates cfg, fills its defaults and registers the controller's
// informers (nodes, Leases, pods) on cfg.Informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("nodelifecycle: Client and Informers are required")
	}
	if cfg.GracePeriod < 0 || cfg.StartupGracePeriod < 0 || cfg.MonitorPeriod < 0 || cfg.EvictionRate < 0 ||
		cfg.SecondaryEvictionRate < 0 || cfg.LargeClusterThreshold < 0 || cfg.UnhealthyZoneThreshold < 0 || cfg.UnhealthyZoneThreshold > 1 {
		return nil, errors.New("nodelifecycle: periods, rates and thresholds must not be negative, and UnhealthyZoneThreshold at most 1")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	orDefault := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	orDefault(&cfg.GracePeriod, 40*time.Second)
	orDefault(&cfg.StartupGracePeriod, 60*time.Second)
	orDefault(&cfg.MonitorPeriod, 5*time.Second)
	if cfg.EvictionRate == 0 {
		cfg.EvictionRate = 0.1
	}
	if cfg.SecondaryEvictionRate == 0 {
		cfg.SecondaryEvictionRate = 0.01
	}
	if cfg.LargeClusterThreshold == 0 {
		cfg.LargeClusterThreshold = 50
	}
	if cfg.UnhealthyZoneThreshold == 0 {
		cfg.UnhealthyZoneThreshold = 0.55
	}

	nodeInf := cfg.Informers.Core().V1().Nodes()
	leaseInf := cfg.Informers.Coordination().V1().Leases()
	podInf := cfg.Informers.Core().V1().Pods()
	c := &Controller{
		client: cfg.Client, clock: cfg.Clock, log: cfg.Logger.With("component", "nodelifecycle"), workers: cfg.Workers,
		grace: cfg.GracePeriod, startup: cfg.StartupGracePeriod, period: cfg.MonitorPeriod,
		rates:              rates{primary: cfg.EvictionRate, secondary: cfg.SecondaryEvictionRate, largeCluster: cfg.LargeClusterThreshold},
		unhealthyThreshold: cfg.UnhealthyZoneThreshold,
		nodes:              nodeInf.Lister(),
		leases:             leaseInf.Lister(),
		pods:               podInf.Lister(),
		podIndexer:         podInf.Informer().GetIndexer(),
		synced:             []cache.InformerSynced{nodeInf.Informer().HasSynced, leaseInf.Informer().HasSynced, podInf.Informer().HasSynced},
		noSchedule:         workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		evictions: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "nodelifecycle-evictions", Clock: cfg.Clock}),
		evictAt: map[string]time.Time{},
		mon:     newMonitorState(),
	}
	if err := podInf.Informer().AddIndexers(cache.Indexers{podNodeIndex: func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}}); err != nil {
		return nil, fmt.Errorf("nodelifecycle: adding the pod index: %w", err)
	}
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.nodeChanged(nil, obj) },
		UpdateFunc: c.nodeChanged,
		DeleteFunc: func(obj any) { c.nodeChanged(nil, obj) },
	}); err != nil {
		return nil, fmt.Errorf("nodelifecycle: watching nodes: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podChanged,
		UpdateFunc: func(_, obj any) { c.podChanged(obj) },
		DeleteFunc: c.podChanged,
	}); err != nil {
		return nil, fmt.Errorf("nodelifecycle: watching pods: %w", err)
	}
	return c, nil
}

// Run waits for the caches, then runs the monitor, the NoSchedule taint
// workers and the eviction workers until ctx ends, and returns when all
// of them have stopped.
func (c *Controller) Run(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		c.noSchedule.ShutDown()
		c.evictions.ShutDown()
		return fmt.Errorf("nodelifecycle: waiting for caches: %w", ctx.Err())
	}
	var wg sync.WaitGroup
	for _, q := range []struct {
		queue workqueue.TypedRateLimitingInterface[string]
		sync  func(context.Context, string) error
		what  string
	}{
		{c.noSchedule, c.syncNoSchedule, "node"},
		{c.evictions, c.syncEviction, "pod"},
	} {
		wg.Go(func() {
			_ = worker.Run(ctx, q.queue, c.workers, nil, q.sync, func(key string, err error) {
				c.log.Log(ctx, worker.Level(err), "sync failed", q.what, key, "err", err)
			})
		})
	}
	wg.Go(func() { c.runMonitor(ctx) })
	wg.Wait()
	return nil
}

// nodeChanged queues the node's NoSchedule taints for a sync and, when
// its NoExecute taints changed, its pods for an eviction check.
func (c *Controller) nodeChanged(old, obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	c.noSchedule.Add(node.Name)
	if prev, ok := old.(*corev1.Node); ok && slicesEqualTaints(noExecuteTaints(prev.Spec.Taints), noExecuteTaints(node.Spec.Taints)) {
		return
	}
	objs, _ := c.podIndexer.ByIndex(podNodeIndex, node.Name)
	for _, o := range objs {
		c.podChanged(o)
	}
}

// podChanged queues a bound pod for an eviction check when its node has
// NoExecute taints (or is gone) or its eviction is scheduled.
func (c *Controller) podChanged(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok || p.Spec.NodeName == "" {
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(p)
	if err != nil {
		return
	}
	if node, err := c.nodes.Get(p.Spec.NodeName); err == nil && len(noExecuteTaints(node.Spec.Taints)) == 0 && !c.evictionScheduled(key) {
		return
	}
	c.evictions.Add(key)
}

// syncNoSchedule gives the node the NoSchedule taints its conditions and
// cordon call for and removes those they no longer do.
func (c *Controller) syncNoSchedule(ctx context.Context, name string) error {
	node, err := c.nodes.Get(name)
	if err != nil {
		return nil // deleted; its taints went with it
	}
	add, remove := noScheduleDiff(node)
	if len(add) == 0 && len(remove) == 0 {
		return nil
	}
	return swapTaints(ctx, c.client, node, add, remove, c.clock.Now())
}
