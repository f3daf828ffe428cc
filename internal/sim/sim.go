package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Annotations a pod may carry to end on its own.
const (
	// ExitCodeAnnotation makes a pod with restartPolicy Never or OnFailure
	// end with this exit code: Succeeded for "0", Failed otherwise.
	// Restarts are not simulated.
	ExitCodeAnnotation = "sim.berth.dev/exit-code"
	// RunSecondsAnnotation is how long such a pod runs before it ends;
	// absent means it ends as soon as it runs.
	RunSecondsAnnotation = "sim.berth.dev/run-seconds"
)

const (
	leaseNamespace = corev1.NamespaceNodeLease
	// statusReportInterval is how often an unchanged node status is
	// reported, as the kubelet's nodeStatusReportFrequency.
	statusReportInterval = 5 * time.Minute
	// maxNodes keeps every node's pod /24 inside 10.0.0.0/8.
	maxNodes      = (256 - 42) * 256
	nodeNameIndex = "sim.berth.dev/nodeName"
)

// Config configures a Sim.
type Config struct {
	// Client writes nodes, leases and pod status.
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New. The Sim
	// watches pods and nodes through it.
	Informers informers.SharedInformerFactory
	// Nodes is how many nodes to simulate, at least 1.
	Nodes int
	// NamePrefix prefixes the node names, which end in 0..Nodes-1;
	// empty means "sim-".
	NamePrefix string
	// Capacity is each node's capacity and allocatable; nil means
	// cpu 32, memory 256Gi, pods 110.
	Capacity corev1.ResourceList
	// LeaseDuration is the duration written in each node's Lease, which
	// is renewed every quarter of it; 0 means 40s.
	LeaseDuration time.Duration
	// PodStartDelay is how long a pod stays Pending after the node
	// accepts it (measured from status.startTime, which has second
	// precision); 0 starts pods at once.
	PodStartDelay time.Duration
	// Clock drives heartbeats, renewals and delays; nil means the real
	// clock.
	Clock clock.WithTicker
	// Logger receives errors of individual syncs; nil discards.
	Logger *slog.Logger
	// Metrics, when set, makes every node serve its resource metrics at
	// https://127.0.0.1:<port>/metrics/resource on a loopback port of its
	// own (its InternalIP is 127.0.0.1 and its
	// daemonEndpoints.kubeletEndpoint.Port that port), with a serving
	// certificate Metrics issues, to clients with a certificate of its CA.
	// Usage comes from CPUUsageAnnotation and MemoryUsageAnnotation.
	Metrics Certificates
	// Workers is the number of node status workers; 0 means 4. Lease
	// renewals and pods get eight times as many: their syncs are many,
	// small and bound by the server's latency, and a late renewal makes a
	// node look dead.
	Workers int
}

// Sim plays the kubelets of a set of simulated nodes. Its methods are
// safe for concurrent use.
type Sim struct {
	client        kubernetes.Interface
	pods          corelisters.PodLister
	podIndexer    cache.Indexer
	nodeLister    corelisters.NodeLister
	synced        []cache.InformerSynced
	capacity      corev1.ResourceList
	leaseDuration time.Duration
	startDelay    time.Duration
	clock         clock.WithTicker
	log           *slog.Logger
	workers       int
	certs         Certificates // nil: nodes serve no metrics

	nodeQueue  workqueue.TypedRateLimitingInterface[string]
	leaseQueue workqueue.TypedRateLimitingInterface[string]
	podQueue   workqueue.TypedRateLimitingInterface[string]

	// nodes is fixed at New; the fields of each node say what guards them.
	nodes map[string]*node
	// names lists the nodes in index order.
	names []string
}

// node is one simulated node.
type node struct {
	name     string
	index    int
	internal netip.Addr
	podCIDR  netip.Prefix

	// mu guards the fields below.
	mu     sync.Mutex
	killed bool
	// lease is the Lease last written, nil when it must be read first.
	lease *coordinationv1.Lease
	// podIPs maps the pod addresses in use to their pods.
	podIPs map[netip.Addr]types.UID
	usage  usage

	// port is where the node serves its metrics (0: nowhere), set in Run
	// before any worker starts.
	port int
}

// New validates cfg, fills its defaults and registers the Sim's informers.
func New(cfg Config) (*Sim, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("sim: Client and Informers are required")
	}
	if cfg.Nodes < 1 || cfg.Nodes > maxNodes {
		return nil, fmt.Errorf("sim: Nodes must be between 1 and %d, not %d", maxNodes, cfg.Nodes)
	}
	if cfg.LeaseDuration != 0 && cfg.LeaseDuration < time.Second || cfg.PodStartDelay < 0 {
		return nil, errors.New("sim: LeaseDuration must be at least 1s and PodStartDelay not negative")
	}
	if cfg.NamePrefix == "" {
		cfg.NamePrefix = "sim-"
	}
	if cfg.Capacity == nil {
		cfg.Capacity = corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("32"),
			corev1.ResourceMemory: resource.MustParse("256Gi"),
			corev1.ResourcePods:   resource.MustParse("110"),
		}
	}
	if cfg.LeaseDuration == 0 {
		cfg.LeaseDuration = 40 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	newQueue := func(name string) workqueue.TypedRateLimitingInterface[string] {
		return workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: name, Clock: cfg.Clock})
	}
	s := &Sim{
		client:        cfg.Client,
		capacity:      cfg.Capacity,
		leaseDuration: cfg.LeaseDuration,
		startDelay:    cfg.PodStartDelay,
		clock:         cfg.Clock,
		log:           cfg.Logger.With("component", "sim"),
		workers:       cfg.Workers,
		certs:         cfg.Metrics,
		nodeQueue:     newQueue("sim-node"),
		leaseQueue:    newQueue("sim-lease"),
		podQueue:      newQueue("sim-pod"),
		nodes:         make(map[string]*node, cfg.Nodes),
	}
	for i := range cfg.Nodes {
		name := fmt.Sprintf("%s%d", cfg.NamePrefix, i)
		// Node i's pods take the i-th /24 counted from 10.42.0.0.
		cidr := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(42 + i/256), byte(i % 256), 0}), 24)
		n := &node{
			name: name, index: i, podCIDR: cidr,
			internal: netip.AddrFrom4([4]byte{192, 0, 2, byte(i%254 + 1)}),
			podIPs:   map[netip.Addr]types.UID{},
		}
		if cfg.Metrics != nil {
			n.internal = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
		s.nodes[name] = n
		s.names = append(s.names, name)
	}

	podInformer := cfg.Informers.Core().V1().Pods()
	if err := podInformer.Informer().AddIndexers(cache.Indexers{nodeNameIndex: indexByNodeName}); err != nil {
		return nil, fmt.Errorf("sim: adding the pod index: %w", err)
	}
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.enqueuePod,
		UpdateFunc: func(_, obj any) { s.enqueuePod(obj) },
		DeleteFunc: s.podDeleted,
	}); err != nil {
		return nil, fmt.Errorf("sim: watching pods: %w", err)
	}
	nodeInformer := cfg.Informers.Core().V1().Nodes()
	if _, err := nodeInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.enqueueNode,
		UpdateFunc: func(_, obj any) { s.enqueueNode(obj) },
		DeleteFunc: s.enqueueNode,
	}); err != nil {
		return nil, fmt.Errorf("sim: watching nodes: %w", err)
	}
	s.pods = podInformer.Lister()
	s.podIndexer = podInformer.Informer().GetIndexer()
	s.nodeLister = nodeInformer.Lister()
	s.synced = []cache.InformerSynced{podInformer.Informer().HasSynced, nodeInformer.Informer().HasSynced}
	return s, nil
}

func indexByNodeName(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return nil, nil
	}
	return []string{pod.Spec.NodeName}, nil
}

// NodeNames returns the names of the simulated nodes in index order.
func (s *Sim) NodeNames() []string { return append([]string(nil), s.names...) }

// Kill makes the named node stop renewing its Lease, reporting status and
// updating its pods, as if its kubelet had died. It reports whether the
// node is one of the Sim's.
func (s *Sim) Kill(name string) bool {
	n, ok := s.nodes[name]
	if !ok {
		return false
	}
	n.mu.Lock()
	n.killed = true
	n.mu.Unlock()
	return true
}

// Revive undoes Kill: the node renews its Lease, reports status and
// updates its pods again. It reports whether the node is one of the Sim's.
func (s *Sim) Revive(name string) bool {
	n, ok := s.nodes[name]
	if !ok {
		return false
	}
	n.mu.Lock()
	n.killed = false
	n.mu.Unlock()
	s.nodeQueue.Add(name)
	s.leaseQueue.Add(name)
	objs, _ := s.podIndexer.ByIndex(nodeNameIndex, name)
	for _, obj := range objs {
		s.enqueuePod(obj)
	}
	return true
}

func (n *node) isKilled() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.killed
}

// Run ensures the node-lease namespace exists, waits for the caches, and
// runs the workers until ctx ends. It returns when all of them have ended.
func (s *Sim) Run(ctx context.Context) error {
	defer s.nodeQueue.ShutDown()
	defer s.leaseQueue.ShutDown()
	defer s.podQueue.ShutDown()

	_, err := s.client.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: leaseNamespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", leaseNamespace, err)
	}
	if !cache.WaitForCacheSync(ctx.Done(), s.synced...) {
		return nil // ctx ended
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.certs != nil {
		if err := s.serveMetrics(ctx, &wg); err != nil {
			return fmt.Errorf("serving metrics: %w", err)
		}
	}
	renew := s.renewInterval()
	for _, name := range s.names {
		s.nodeQueue.Add(name)
		// Spread the first renewals over the interval so they never come
		// in one burst.
		s.leaseQueue.AddAfter(name, rand.N(renew))
	}

	for _, q := range []struct {
		name    string
		queue   workqueue.TypedRateLimitingInterface[string]
		sync    func(context.Context, string) error
		workers int
	}{
		{"node", s.nodeQueue, s.syncNode, s.workers},
		{"lease", s.leaseQueue, s.syncLease, min(8*s.workers, len(s.names))},
		{"pod", s.podQueue, s.syncPod, 8 * s.workers},
	} {
		log := s.log.With("queue", q.name)
		for range q.workers {
			wg.Go(func() { work(ctx, log, q.queue, q.sync) })
		}
	}
	<-ctx.Done()
	s.nodeQueue.ShutDown()
	s.leaseQueue.ShutDown()
	s.podQueue.ShutDown()
	wg.Wait()
	return nil
}

// work drains q through sync until q shuts down; failed keys are retried
// with backoff.
func work(ctx context.Context, log *slog.Logger, q workqueue.TypedRateLimitingInterface[string], sync func(context.Context, string) error) {
	for {
		key, quit := q.Get()
		if quit {
			return
		}
		if err := sync(ctx, key); err != nil {
			if ctx.Err() == nil {
				log.Error("sync failed", "key", key, "err", err)
			}
			q.AddRateLimited(key)
		} else {
			q.Forget(key)
		}
		q.Done(key)
	}
}

// renewInterval is how often a Lease is renewed: a quarter of its
// duration, as the kubelet does.
func (s *Sim) renewInterval() time.Duration { return s.leaseDuration / 4 }

// jitter returns d stretched by up to 10%, so renewals that once
// coincided drift apart.
func jitter(d time.Duration) time.Duration {
	return d + rand.N(d/10+1)
}
