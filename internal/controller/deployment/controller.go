package deployment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	appsv1 "k8s.io/api/apps/v1"
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

	"berth.dev/berth/internal/controller/worker"
)

var deploymentKind = appsv1.SchemeGroupVersion.WithKind("Deployment")

// Config configures a Controller.
type Config struct {
	// Client writes ReplicaSets and Deployment annotations and status.
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// Clock times conditions and the progress deadline; nil means the real
	// clock.
	Clock clock.PassiveClock
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of concurrent syncs; 0 means 5.
	Workers int
}

// Controller rolls Deployments out through ReplicaSets.
type Controller struct {
	client  kubernetes.Interface
	clock   clock.PassiveClock
	log     *slog.Logger
	workers int

	deployments appslisters.DeploymentLister
	sets        appslisters.ReplicaSetLister
	pods        corelisters.PodLister
	synced      []cache.InformerSynced
	// queue holds namespace/name keys of Deployments.
	queue workqueue.TypedRateLimitingInterface[string]
}

// New registers the controller's informers (Deployments, ReplicaSets,
// pods) on cfg.Informers and returns it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("deployment: Client and Informers are required")
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
	dInf := cfg.Informers.Apps().V1().Deployments()
	rsInf := cfg.Informers.Apps().V1().ReplicaSets()
	podInf := cfg.Informers.Core().V1().Pods()
	c := &Controller{
		client:      cfg.Client,
		clock:       cfg.Clock,
		log:         cfg.Logger.With("component", "deployment-controller"),
		workers:     cfg.Workers,
		deployments: dInf.Lister(),
		sets:        rsInf.Lister(),
		pods:        podInf.Lister(),
		synced:      []cache.InformerSynced{dInf.Informer().HasSynced, rsInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue:       workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
	}
	for _, reg := range []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{dInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueue,
			UpdateFunc: func(_, cur any) { c.enqueue(cur) },
			DeleteFunc: c.enqueue,
		}},
		{rsInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addSet, UpdateFunc: c.updateSet, DeleteFunc: c.deleteSet}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{DeleteFunc: c.deletePod}},
	} {
		if _, err := reg.inf.AddEventHandler(reg.h); err != nil {
			return nil, fmt.Errorf("deployment: adding event handler: %w", err)
		}
	}
	return c, nil
}

// Run waits for the caches to sync and runs the workers until ctx ends.
// It returns when every worker has returned; a Controller runs once.
func (c *Controller) Run(ctx context.Context) error {
	if err := worker.Run(ctx, c.queue, c.workers, c.synced, c.sync, func(k string, err error) {
		c.log.Log(ctx, worker.Level(err), "sync failed", "deployment", k, "err", err)
	}); err != nil {
		return fmt.Errorf("deployment: waiting for caches: %w", err)
	}
	return nil
}

func (c *Controller) enqueue(obj any) {
	if k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(k)
	}
}

// owner returns the Deployment controlling rs, if it is in the cache with
// the referenced UID.
func (c *Controller) owner(namespace string, ref *metav1.OwnerReference) *appsv1.Deployment {
	if ref == nil || ref.Kind != deploymentKind.Kind || ref.APIVersion != deploymentKind.GroupVersion().String() {
		return nil
	}
	d, err := c.deployments.Deployments(namespace).Get(ref.Name)
	if err != nil || d.UID != ref.UID {
		return nil
	}
	return d
}

// enqueueMatching enqueues every Deployment whose selector matches the
// orphan ReplicaSet, which may adopt it.
func (c *Controller) enqueueMatching(rs *appsv1.ReplicaSet) {
	ds, err := c.deployments.Deployments(rs.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, d := range ds {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(rs.Labels)) {
			continue
		}
		c.enqueue(d)
	}
}

func (c *Controller) addSet(obj any) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		if d := c.owner(rs.Namespace, ref); d != nil {
			c.enqueue(d)
		}
		return
	}
	c.enqueueMatching(rs)
}

func (c *Controller) updateSet(oldObj, curObj any) {
	old, ok1 := oldObj.(*appsv1.ReplicaSet)
	cur, ok2 := curObj.(*appsv1.ReplicaSet)
	if !ok1 || !ok2 || old.ResourceVersion == cur.ResourceVersion {
		return
	}
	oldRef, curRef := metav1.GetControllerOfNoCopy(old), metav1.GetControllerOfNoCopy(cur)
	if oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		if d := c.owner(old.Namespace, oldRef); d != nil {
			c.enqueue(d)
		}
	}
	if curRef != nil {
		if d := c.owner(cur.Namespace, curRef); d != nil {
			c.enqueue(d)
		}
		return
	}
	c.enqueueMatching(cur)
}

func (c *Controller) deleteSet(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	if d := c.owner(rs.Namespace, metav1.GetControllerOfNoCopy(rs)); d != nil {
		c.enqueue(d)
	}
}

// deletePod wakes the Deployment of the pod's ReplicaSet: a Recreate
// rollout waits for the old pods to be gone.
func (c *Controller) deletePod(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(p)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return
	}
	rs, err := c.sets.ReplicaSets(p.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	if d := c.owner(rs.Namespace, metav1.GetControllerOfNoCopy(rs)); d != nil && !isRolling(d) {
		c.enqueue(d)
	}
}
