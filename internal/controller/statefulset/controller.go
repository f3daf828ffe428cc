package statefulset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"berth.dev/berth/internal/controller/history"
	"berth.dev/berth/internal/controller/worker"
)

// Config configures a Controller.
type Config struct {
	// Client writes pods, PersistentVolumeClaims, ControllerRevisions and
	// StatefulSet status.
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// Clock decides pod availability (minReadySeconds); nil means the
	// real clock.
	Clock clock.PassiveClock
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of concurrent syncs; 0 means 5.
	Workers int
}

// Controller runs StatefulSets.
type Controller struct {
	client  kubernetes.Interface
	clock   clock.PassiveClock
	log     *slog.Logger
	workers int

	sets    appslisters.StatefulSetLister
	pods    corelisters.PodLister
	claims  corelisters.PersistentVolumeClaimLister
	history history.Store
	synced  []cache.InformerSynced
	// queue holds namespace/name keys of StatefulSets.
	queue workqueue.TypedRateLimitingInterface[string]
}

// New registers the controller's informers (StatefulSets, pods,
// ControllerRevisions, PersistentVolumeClaims) on cfg.Informers and
// returns it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("statefulset: Client and Informers are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	setInf := cfg.Informers.Apps().V1().StatefulSets()
	podInf := cfg.Informers.Core().V1().Pods()
	revInf := cfg.Informers.Apps().V1().ControllerRevisions()
	pvcInf := cfg.Informers.Core().V1().PersistentVolumeClaims()
	c := &Controller{
		client:  cfg.Client,
		clock:   cfg.Clock,
		log:     cfg.Logger.With("component", "statefulset-controller"),
		workers: cfg.Workers,
		sets:    setInf.Lister(),
		pods:    podInf.Lister(),
		claims:  pvcInf.Lister(),
		history: history.Store{Client: cfg.Client, Lister: revInf.Lister(), HashLabel: hashLabel},
		synced: []cache.InformerSynced{setInf.Informer().HasSynced, podInf.Informer().HasSynced,
			revInf.Informer().HasSynced, pvcInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
	}
	for _, reg := range []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{setInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueue,
			UpdateFunc: func(_, cur any) { c.enqueue(cur) },
			DeleteFunc: c.enqueue,
		}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addPod, UpdateFunc: c.updatePod, DeleteFunc: c.enqueueOwner}},
		{revInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueueOwner,
			UpdateFunc: func(_, cur any) { c.enqueueOwner(cur) },
			DeleteFunc: c.enqueueOwner,
		}},
		{pvcInf.Informer(), cache.ResourceEventHandlerFuncs{DeleteFunc: c.deleteClaim}},
	} {
		if _, err := reg.inf.AddEventHandler(reg.h); err != nil {
			return nil, fmt.Errorf("statefulset: adding event handler: %w", err)
		}
	}
	return c, nil
}

// Run waits for the caches to sync and runs the workers until ctx ends.
// It returns when every worker has returned; a Controller runs once.
func (c *Controller) Run(ctx context.Context) error {
	if err := worker.Run(ctx, c.queue, c.workers, c.synced, c.sync, func(k string, err error) {
		c.log.Log(ctx, worker.Level(err), "sync failed", "statefulset", k, "err", err)
	}); err != nil {
		return fmt.Errorf("statefulset: waiting for caches: %w", err)
	}
	return nil
}

func (c *Controller) enqueue(obj any) {
	if k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(k)
	}
}

func metaOf(obj any) metav1.Object {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, _ := obj.(metav1.Object)
	return m
}

// enqueueOwner enqueues the StatefulSet controlling obj.
func (c *Controller) enqueueOwner(obj any) {
	m := metaOf(obj)
	if m == nil {
		return
	}
	c.enqueueRef(m.GetNamespace(), metav1.GetControllerOfNoCopy(m))
}

// enqueueRef enqueues the StatefulSet ref names if it is in the cache
// with the referenced UID, and reports whether it is.
func (c *Controller) enqueueRef(namespace string, ref *metav1.OwnerReference) bool {
	if ref == nil || ref.Kind != setKind.Kind || ref.APIVersion != setKind.GroupVersion().String() {
		return false
	}
	set, err := c.sets.StatefulSets(namespace).Get(ref.Name)
	if err != nil || set.UID != ref.UID {
		return false
	}
	c.enqueue(set)
	return true
}

// enqueueMatching enqueues every StatefulSet that may adopt the orphan p.
func (c *Controller) enqueueMatching(p *corev1.Pod) {
	sets, err := c.sets.StatefulSets(p.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, set := range sets {
		sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(p.Labels)) && isMember(set, p) {
			c.enqueue(set)
		}
	}
}

func (c *Controller) addPod(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOfNoCopy(p); ref != nil {
		c.enqueueRef(p.Namespace, ref)
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
	oldRef, curRef := metav1.GetControllerOfNoCopy(old), metav1.GetControllerOfNoCopy(cur)
	if oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		c.enqueueRef(old.Namespace, oldRef)
	}
	if curRef != nil {
		c.enqueueRef(cur.Namespace, curRef)
		return
	}
	if !maps.Equal(old.Labels, cur.Labels) || oldRef != nil {
		c.enqueueMatching(cur)
	}
}

// deleteClaim wakes the StatefulSet of a pod whose claim is gone: a pod
// waiting for its stale claim to be deleted can now be created.
func (c *Controller) deleteClaim(obj any) {
	m := metaOf(obj)
	if m == nil {
		return
	}
	for _, ref := range m.GetOwnerReferences() {
		if ref.Kind == setKind.Kind && c.enqueueRef(m.GetNamespace(), &ref) {
			return
		}
	}
	sets, err := c.sets.StatefulSets(m.GetNamespace()).List(labels.Everything())
	if err != nil {
		return
	}
	for _, set := range sets {
		if len(set.Spec.VolumeClaimTemplates) > 0 {
			c.enqueue(set)
		}
	}
}
