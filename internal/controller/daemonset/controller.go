package daemonset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"berth.dev/berth/internal/controller/expectations"
	"berth.dev/berth/internal/controller/history"
	"berth.dev/berth/internal/controller/worker"
)

var dsKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// Config configures a Controller.
type Config struct {
	// Client writes pods, ControllerRevisions and DaemonSet status.
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// Clock decides availability (minReadySeconds), expectation expiry
	// and the backoff of failed pods; nil means the real clock.
	Clock clock.WithTicker
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of concurrent syncs; 0 means 2, as upstream.
	Workers int
	// BurstReplicas caps the pods one sync creates or deletes; 0 means
	// 250, as upstream.
	BurstReplicas int
}

// Controller runs DaemonSets.
type Controller struct {
	client  kubernetes.Interface
	clock   clock.WithTicker
	log     *slog.Logger
	workers int
	burst   int

	sets    appslisters.DaemonSetLister
	pods    corelisters.PodLister
	nodes   corelisters.NodeLister
	history history.Store
	synced  []cache.InformerSynced
	// queue holds namespace/name keys of DaemonSets.
	queue workqueue.TypedRateLimitingInterface[string]
	exp   *expectations.Expectations[string]
	// failedBackoff spaces the replacement of failed pods, per DaemonSet
	// and node; it has its own lock.
	failedBackoff *flowcontrol.Backoff
}

// New registers the controller's informers (DaemonSets, pods, nodes,
// ControllerRevisions) on cfg.Informers and returns it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("daemonset: Client and Informers are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.BurstReplicas <= 0 {
		cfg.BurstReplicas = 250
	}
	dsInf := cfg.Informers.Apps().V1().DaemonSets()
	podInf := cfg.Informers.Core().V1().Pods()
	nodeInf := cfg.Informers.Core().V1().Nodes()
	revInf := cfg.Informers.Apps().V1().ControllerRevisions()
	backoff := flowcontrol.NewBackOff(time.Second, 15*time.Minute)
	backoff.Clock = cfg.Clock
	c := &Controller{
		client:  cfg.Client,
		clock:   cfg.Clock,
		log:     cfg.Logger.With("component", "daemonset-controller"),
		workers: cfg.Workers,
		burst:   cfg.BurstReplicas,
		sets:    dsInf.Lister(),
		pods:    podInf.Lister(),
		nodes:   nodeInf.Lister(),
		history: history.Store{Client: cfg.Client, Lister: revInf.Lister(), HashLabel: hashLabel},
		synced: []cache.InformerSynced{dsInf.Informer().HasSynced, podInf.Informer().HasSynced,
			nodeInf.Informer().HasSynced, revInf.Informer().HasSynced},
		queue:         workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		exp:           expectations.New[string](cfg.Clock),
		failedBackoff: backoff,
	}
	for _, reg := range []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{dsInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueue,
			UpdateFunc: func(_, cur any) { c.enqueue(cur) },
			DeleteFunc: c.deleteSet,
		}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addPod, UpdateFunc: c.updatePod, DeleteFunc: c.deletePod}},
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { c.enqueueAll() },
			UpdateFunc: c.updateNode,
			DeleteFunc: func(any) { c.enqueueAll() },
		}},
		{revInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueueOwner,
			UpdateFunc: func(_, cur any) { c.enqueueOwner(cur) },
			DeleteFunc: c.enqueueOwner,
		}},
	} {
		if _, err := reg.inf.AddEventHandler(reg.h); err != nil {
			return nil, fmt.Errorf("daemonset: adding event handler: %w", err)
		}
	}
	return c, nil
}

// backoffGCInterval is how often expired failed-pod backoffs are dropped.
const backoffGCInterval = time.Minute

// Run waits for the caches to sync and runs the workers until ctx ends.
// It returns when every goroutine it started has returned; a Controller
// runs once.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		t := c.clock.NewTicker(backoffGCInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
				c.failedBackoff.GC()
			}
		}
	})
	if err := worker.Run(ctx, c.queue, c.workers, c.synced, c.sync, func(k string, err error) {
		c.log.Log(ctx, worker.Level(err), "sync failed", "daemonset", k, "err", err)
	}); err != nil {
		return fmt.Errorf("daemonset: waiting for caches: %w", err)
	}
	return nil
}

func (c *Controller) enqueue(obj any) {
	if k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(k)
	}
}

func (c *Controller) deleteSet(obj any) {
	if k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.exp.Forget(k)
		c.queue.Add(k)
	}
}

// enqueueAll enqueues every DaemonSet: a node came or went.
func (c *Controller) enqueueAll() {
	sets, err := c.sets.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range sets {
		c.enqueue(ds)
	}
}

// updateNode enqueues every DaemonSet when what decides placement, the
// node's labels or taints, changed; status heartbeats are ignored.
func (c *Controller) updateNode(oldObj, curObj any) {
	old, ok1 := oldObj.(*corev1.Node)
	cur, ok2 := curObj.(*corev1.Node)
	if !ok1 || !ok2 {
		return
	}
	if maps.Equal(old.Labels, cur.Labels) && apiequality.Semantic.DeepEqual(old.Spec.Taints, cur.Spec.Taints) {
		return
	}
	c.enqueueAll()
}

func metaOf(obj any) metav1.Object {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, _ := obj.(metav1.Object)
	return m
}

// owner returns the key of the DaemonSet ref names, if it is in the cache
// with the referenced UID.
func (c *Controller) owner(namespace string, ref *metav1.OwnerReference) (string, bool) {
	if ref == nil || ref.Kind != dsKind.Kind || ref.APIVersion != dsKind.GroupVersion().String() {
		return "", false
	}
	ds, err := c.sets.DaemonSets(namespace).Get(ref.Name)
	if err != nil || ds.UID != ref.UID {
		return "", false
	}
	return namespace + "/" + ref.Name, true
}

func (c *Controller) enqueueOwner(obj any) {
	m := metaOf(obj)
	if m == nil {
		return
	}
	if k, ok := c.owner(m.GetNamespace(), metav1.GetControllerOfNoCopy(m)); ok {
		c.queue.Add(k)
	}
}

// enqueueMatching enqueues every DaemonSet that may adopt the orphan p.
func (c *Controller) enqueueMatching(p *corev1.Pod) {
	sets, err := c.sets.DaemonSets(p.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range sets {
		sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(p.Labels)) {
			c.enqueue(ds)
		}
	}
}

func (c *Controller) addPod(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if p.DeletionTimestamp != nil {
		c.deletePod(p)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(p); ref != nil {
		if k, ok := c.owner(p.Namespace, ref); ok {
			c.exp.CreationsObserved(k, 1)
			c.queue.Add(k)
		}
		return
	}
	c.enqueueMatching(p)
}

func (c *Controller) updatePod(oldObj, curObj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	cur, ok2 := curObj.(*corev1.Pod)
	if !ok1 || !ok2 || old.ResourceVersion == cur.ResourceVersion {
		return
	}
	if cur.DeletionTimestamp != nil {
		c.deletePod(cur)
		return
	}
	oldRef, curRef := metav1.GetControllerOfNoCopy(old), metav1.GetControllerOfNoCopy(cur)
	if oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		if k, ok := c.owner(old.Namespace, oldRef); ok {
			c.queue.Add(k)
		}
	}
	if curRef != nil {
		if k, ok := c.owner(cur.Namespace, curRef); ok {
			c.queue.Add(k)
		}
		return
	}
	if !maps.Equal(old.Labels, cur.Labels) || oldRef != nil {
		c.enqueueMatching(cur)
	}
}

func (c *Controller) deletePod(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if k, ok := c.owner(p.Namespace, metav1.GetControllerOfNoCopy(p)); ok {
		c.exp.DeletionObserved(k, p.UID)
		c.queue.Add(k)
	}
}

// nodeList returns the cached nodes in name order.
func (c *Controller) nodeList() ([]*corev1.Node, error) {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	slices.SortFunc(nodes, func(a, b *corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	return nodes, nil
}
