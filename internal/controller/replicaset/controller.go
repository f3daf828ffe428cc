package replicaset

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
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"berth.dev/berth/internal/controller/expectations"
	"berth.dev/berth/internal/controller/worker"
)

// Config configures a Controller.
type Config struct {
	// Client writes pods and ReplicaSet and ReplicationController status.
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// Clock decides pod availability (minReadySeconds) and expectation
	// expiry; nil means the real clock.
	Clock clock.PassiveClock
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of concurrent syncs; 0 means 5.
	Workers int
	// BurstReplicas caps the pods one sync creates or deletes; 0 means 500.
	BurstReplicas int
}

// Controller keeps the pods of ReplicaSets and ReplicationControllers.
type Controller struct {
	client kubernetes.Interface
	clock  clock.PassiveClock
	log    *slog.Logger
	burst  int

	workers int
	owners  map[kind]owner
	pods    corelisters.PodLister
	synced  []cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[key]
	exp     *expectations.Expectations[key]
}

// New registers the controller's informers (pods, ReplicaSets,
// ReplicationControllers) on cfg.Informers and returns it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("replicaset: Client and Informers are required")
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
	if cfg.BurstReplicas <= 0 {
		cfg.BurstReplicas = 500
	}
	podInf := cfg.Informers.Core().V1().Pods()
	rsInf := cfg.Informers.Apps().V1().ReplicaSets()
	rcInf := cfg.Informers.Core().V1().ReplicationControllers()
	c := &Controller{
		client:  cfg.Client,
		clock:   cfg.Clock,
		log:     cfg.Logger.With("component", "replicaset-controller"),
		burst:   cfg.BurstReplicas,
		workers: cfg.Workers,
		owners: map[kind]owner{
			kindReplicaSet:            replicaSets{client: cfg.Client, lister: rsInf.Lister()},
			kindReplicationController: replicationControllers{client: cfg.Client, lister: rcInf.Lister()},
		},
		pods:   podInf.Lister(),
		synced: []cache.InformerSynced{podInf.Informer().HasSynced, rsInf.Informer().HasSynced, rcInf.Informer().HasSynced},
		queue:  workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[key]()),
		exp:    expectations.New[key](cfg.Clock),
	}
	for _, reg := range []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{rsInf.Informer(), c.ownerHandler(kindReplicaSet)},
		{rcInf.Informer(), c.ownerHandler(kindReplicationController)},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addPod, UpdateFunc: c.updatePod, DeleteFunc: c.deletePod}},
	} {
		if _, err := reg.inf.AddEventHandler(reg.h); err != nil {
			return nil, fmt.Errorf("replicaset: adding event handler: %w", err)
		}
	}
	return c, nil
}

// Run waits for the caches, then syncs ReplicaSets and
// ReplicationControllers with the configured workers until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	if err := worker.Run(ctx, c.queue, c.workers, c.synced, c.sync, func(k key, err error) {
		c.log.Log(ctx, worker.Level(err), "sync failed", "kind", c.owners[k.kind].gvk().Kind, "namespace", k.namespace, "name", k.name, "err", err)
	}); err != nil {
		return fmt.Errorf("replicaset: waiting for caches: %w", err)
	}
	return nil
}

func (c *Controller) ownerHandler(kd kind) cache.ResourceEventHandler {
	enqueue := func(obj any) {
		if m, err := metaOf(obj); err == nil {
			c.queue.Add(key{kind: kd, namespace: m.GetNamespace(), name: m.GetName()})
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, cur any) { enqueue(cur) },
		DeleteFunc: func(obj any) {
			if m, err := metaOf(obj); err == nil {
				k := key{kind: kd, namespace: m.GetNamespace(), name: m.GetName()}
				c.exp.Forget(k)
				c.queue.Add(k)
			}
		},
	}
}

// metaOf returns the metadata of an informer object or tombstone.
func metaOf(obj any) (metav1.Object, error) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("unexpected object %T", obj)
	}
	return m, nil
}

// resolve returns the key of the pod's controller if it is a ReplicaSet or
// ReplicationController in the cache with the referenced UID.
func (c *Controller) resolve(namespace string, ref *metav1.OwnerReference) (key, bool) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return key{}, false
	}
	for kd, o := range c.owners {
		if o.gvk().GroupKind() != gv.WithKind(ref.Kind).GroupKind() {
			continue
		}
		rs, err := o.get(namespace, ref.Name)
		if err != nil || rs.UID != ref.UID {
			return key{}, false
		}
		return key{kind: kd, namespace: namespace, name: ref.Name}, true
	}
	return key{}, false
}

// enqueueMatching enqueues every owner whose selector matches the pod,
// which may adopt it.
func (c *Controller) enqueueMatching(p *corev1.Pod) {
	for kd, o := range c.owners {
		sets, err := o.list(p.Namespace)
		if err != nil {
			continue
		}
		for _, rs := range sets {
			sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
			if err != nil || sel.Empty() || !sel.Matches(labels.Set(p.Labels)) {
				continue
			}
			c.queue.Add(key{kind: kd, namespace: rs.Namespace, name: rs.Name})
		}
	}
}

func (c *Controller) addPod(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if p.DeletionTimestamp != nil {
		// A pod seen first while being deleted (e.g. after a relist).
		c.deletePod(p)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(p); ref != nil {
		if k, ok := c.resolve(p.Namespace, ref); ok {
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
	labelsChanged := !maps.Equal(old.Labels, cur.Labels)
	if cur.DeletionTimestamp != nil {
		// Deletion has begun: the pod no longer counts, so act now rather
		// than when it is finally removed.
		c.deletePod(cur)
		if labelsChanged {
			c.deletePod(old)
		}
		return
	}
	curRef, oldRef := metav1.GetControllerOfNoCopy(cur), metav1.GetControllerOfNoCopy(old)
	refChanged := !sameRef(curRef, oldRef)
	if refChanged && oldRef != nil {
		if k, ok := c.resolve(old.Namespace, oldRef); ok {
			c.queue.Add(k)
		}
	}
	if curRef != nil {
		if k, ok := c.resolve(cur.Namespace, curRef); ok {
			c.queue.Add(k)
		}
		return
	}
	if labelsChanged || refChanged {
		c.enqueueMatching(cur)
	}
}

func sameRef(a, b *metav1.OwnerReference) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.UID == b.UID
}

func (c *Controller) deletePod(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(p)
	if ref == nil {
		return
	}
	if k, ok := c.resolve(p.Namespace, ref); ok {
		c.exp.DeletionObserved(k, p.UID)
		c.queue.Add(k)
	}
}
