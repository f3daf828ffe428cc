package disruption

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"berth.dev/berth/internal/controller/worker"
)

// staleConditionTimeout is how long a running pod keeps a DisruptionTarget
// condition that no deletion followed.
const staleConditionTimeout = 2 * time.Minute

// Config configures a Controller.
type Config struct {
	// Client writes PodDisruptionBudget and pod status.
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New. The controller
	// watches PodDisruptionBudgets and pods, and reads
	// ReplicationControllers, ReplicaSets, Deployments and StatefulSets.
	Informers informers.SharedInformerFactory
	// Scales and Mapper read the scale subresource of other controllers of
	// pods; nil leaves budgets over their pods, when relative to the
	// controllers' scale, failed.
	Scales scale.ScalesGetter
	Mapper apimeta.RESTMapper
	// Clock drives disruptedPods expiry and stale conditions; nil means
	// the real clock.
	Clock clock.WithTicker
	// Logger receives failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of concurrent budget syncs; 0 means 2.
	Workers int
}

// Controller keeps the status of PodDisruptionBudgets. See the package
// documentation.
type Controller struct {
	client  kubernetes.Interface
	scales  scale.ScalesGetter
	mapper  apimeta.RESTMapper
	clock   clock.WithTicker
	log     *slog.Logger
	workers int

	pdbs   policylisters.PodDisruptionBudgetLister
	pods   corelisters.PodLister
	rcs    corelisters.ReplicationControllerLister
	rss    appslisters.ReplicaSetLister
	deps   appslisters.DeploymentLister
	sets   appslisters.StatefulSetLister
	synced []cache.InformerSynced

	// queue takes budget keys; recheck holds them until a disruptedPods
	// entry expires; stale takes pod keys whose DisruptionTarget
	// condition may be stale.
	queue   workqueue.TypedRateLimitingInterface[string]
	recheck workqueue.TypedDelayingInterface[string]
	stale   workqueue.TypedRateLimitingInterface[string]
}

// New validates cfg, fills its defaults and registers the informers on
// cfg.Informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("disruption: Client and Informers are required")
	}
	if (cfg.Scales == nil) != (cfg.Mapper == nil) {
		return nil, errors.New("disruption: Scales and Mapper go together")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	f := cfg.Informers
	pdbInf, podInf := f.Policy().V1().PodDisruptionBudgets(), f.Core().V1().Pods()
	rcInf, rsInf := f.Core().V1().ReplicationControllers(), f.Apps().V1().ReplicaSets()
	depInf, ssInf := f.Apps().V1().Deployments(), f.Apps().V1().StatefulSets()
	c := &Controller{
		client: cfg.Client, scales: cfg.Scales, mapper: cfg.Mapper, clock: cfg.Clock,
		log: cfg.Logger.With("component", "disruption"), workers: cfg.Workers,
		pdbs: pdbInf.Lister(), pods: podInf.Lister(), rcs: rcInf.Lister(), rss: rsInf.Lister(), deps: depInf.Lister(), sets: ssInf.Lister(),
		synced: []cache.InformerSynced{pdbInf.Informer().HasSynced, podInf.Informer().HasSynced, rcInf.Informer().HasSynced,
			rsInf.Informer().HasSynced, depInf.Informer().HasSynced, ssInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		recheck: workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[string]{
			Name: "disruption-recheck", Clock: cfg.Clock,
		}),
		stale: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "disruption-stale-pods", Clock: cfg.Clock}),
	}
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	if _, err := pdbInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) }, DeleteFunc: enqueue,
	}); err != nil {
		return nil, fmt.Errorf("disruption: watching budgets: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.podChanged, UpdateFunc: func(_, obj any) { c.podChanged(obj) }, DeleteFunc: c.podChanged,
	}); err != nil {
		return nil, fmt.Errorf("disruption: watching pods: %w", err)
	}
	return c, nil
}

// Run waits for the caches, then syncs budgets and stale pod conditions
// until ctx ends, and returns when every worker has stopped.
func (c *Controller) Run(ctx context.Context) error {
	defer c.recheck.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		c.queue.ShutDown()
		c.stale.ShutDown()
		return fmt.Errorf("disruption: waiting for caches: %w", ctx.Err())
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = worker.Run(ctx, c.queue, c.workers, nil, c.sync, func(key string, err error) {
			c.log.Log(ctx, worker.Level(err), "sync failed", "budget", key, "err", err)
		})
	})
	wg.Go(func() {
		_ = worker.Run(ctx, c.stale, 1, nil, c.syncStale, func(key string, err error) {
			c.log.Log(ctx, worker.Level(err), "clearing a stale DisruptionTarget condition failed", "pod", key, "err", err)
		})
	})
	wg.Go(func() {
		for {
			key, quit := c.recheck.Get()
			if quit {
				return
			}
			c.queue.Add(key)
			c.recheck.Done(key)
		}
	})
	<-ctx.Done()
	c.recheck.ShutDown()
	wg.Wait()
	return nil
}

// podChanged queues the budgets that select the pod, and the pod itself
// when its DisruptionTarget condition may turn stale.
func (c *Controller) podChanged(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	for _, pdb := range c.budgetsFor(pod) {
		c.queue.Add(pdb.Namespace + "/" + pdb.Name)
	}
	if stale, after := staleCondition(pod, c.clock.Now()); stale {
		c.stale.AddAfter(pod.Namespace+"/"+pod.Name, after)
	}
}

// budgetsFor returns the budgets whose selector matches pod. As in
// policy/v1, an empty selector matches every pod of the namespace and a
// missing one none.
func (c *Controller) budgetsFor(pod *corev1.Pod) []*policyv1.PodDisruptionBudget {
	all, err := c.pdbs.PodDisruptionBudgets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*policyv1.PodDisruptionBudget
	for _, pdb := range all {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err == nil && sel.Matches(labels.Set(pod.Labels)) {
			out = append(out, pdb)
		}
	}
	return out
}

// sync writes a budget's status; when it cannot be computed (other than
// for a conflict) the budget allows no disruption, with the SyncFailed
// condition.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pdb, err := c.pdbs.PodDisruptionBudgets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	err = c.trySync(ctx, pdb)
	if err == nil || apierrors.IsConflict(err) {
		return err
	}
	c.log.Warn("budget status cannot be computed", "budget", key, "err", err)
	st := failedStatus(pdb, err, c.clock.Now())
	if equality.Semantic.DeepEqual(st, pdb.Status) {
		return nil
	}
	upd := pdb.DeepCopy()
	upd.Status = st
	_, err = c.client.PolicyV1().PodDisruptionBudgets(ns).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	return err
}

func (c *Controller) trySync(ctx context.Context, pdb *policyv1.PodDisruptionBudget) error {
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		return fmt.Errorf("selector: %w", err)
	}
	pods, err := c.pods.Pods(pdb.Namespace).List(sel)
	if err != nil {
		return err
	}
	expected, desired, unmanaged, err := expectations(pdb, pods, func(pods []*corev1.Pod) (int32, []string, error) {
		return c.scaleOf(ctx, pods)
	})
	if err != nil {
		return err
	}
	if len(unmanaged) > 0 {
		c.log.Warn("budget selects pods without a controller; set minAvailable to a number to count them",
			"budget", pdb.Namespace+"/"+pdb.Name, "pods", unmanaged)
	}
	now := c.clock.Now()
	dis, recheck := disrupted(pdb, pods, now)
	st, changed := status(pdb, healthy(pods, dis), desired, expected, dis, now)
	if changed {
		upd := pdb.DeepCopy()
		upd.Status = st
		if _, err := c.client.PolicyV1().PodDisruptionBudgets(pdb.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	if recheck != nil {
		c.recheck.AddAfter(pdb.Namespace+"/"+pdb.Name, recheck.Sub(now))
	}
	return nil
}

// scaleOf returns the summed scale of the controllers of pods, and the
// pods that have none; a controller that cannot be found is an error.
func (c *Controller) scaleOf(ctx context.Context, pods []*corev1.Pod) (int32, []string, error) {
	scales := map[types.UID]int32{}
	var unmanaged []string
	for _, pod := range pods {
		ref := metav1.GetControllerOf(pod)
		if ref == nil {
			unmanaged = append(unmanaged, pod.Name)
			continue
		}
		if _, ok := scales[ref.UID]; ok {
			continue
		}
		uid, n, found, err := c.controllerScale(ctx, ref, pod.Namespace)
		if err != nil {
			return 0, nil, err
		}
		if !found {
			return 0, nil, fmt.Errorf("found no controllers for pod %q", pod.Name)
		}
		scales[uid] = n
	}
	var sum int32
	for _, n := range scales {
		sum += n
	}
	return sum, unmanaged, nil
}

// controllerScale returns the UID and desired replicas of the controller
// ref names: from the cache for the workload kinds, through the scale
// subresource for others.
func (c *Controller) controllerScale(ctx context.Context, ref *metav1.OwnerReference, ns string) (types.UID, int32, bool, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return "", 0, false, err
	}
	apps := gv.Group == "apps" || gv.Group == "extensions"
	switch {
	case ref.Kind == "ReplicationController" && gv.Group == "":
		if rc, err := c.rcs.ReplicationControllers(ns).Get(ref.Name); err == nil && rc.UID == ref.UID {
			return rc.UID, ptr.Deref(rc.Spec.Replicas, 1), true, nil
		}
		return "", 0, false, nil
	case ref.Kind == "ReplicaSet" && apps:
		rs, err := c.rss.ReplicaSets(ns).Get(ref.Name)
		if err != nil || rs.UID != ref.UID {
			return "", 0, false, nil
		}
		if owner := metav1.GetControllerOf(rs); owner != nil && owner.Kind == "Deployment" {
			if d, err := c.deps.Deployments(ns).Get(owner.Name); err == nil && d.UID == owner.UID {
				return d.UID, ptr.Deref(d.Spec.Replicas, 1), true, nil
			}
		}
		return rs.UID, ptr.Deref(rs.Spec.Replicas, 1), true, nil
	case ref.Kind == "StatefulSet" && gv.Group == "apps":
		if ss, err := c.sets.StatefulSets(ns).Get(ref.Name); err == nil && ss.UID == ref.UID {
			return ss.UID, ptr.Deref(ss.Spec.Replicas, 1), true, nil
		}
		return "", 0, false, nil
	}
	if c.scales == nil {
		return "", 0, false, nil
	}
	mapping, err := c.mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: ref.Kind}, gv.Version)
	if err != nil {
		if r, ok := c.mapper.(interface{ Reset() }); ok {
			r.Reset() // a kind added since discovery was read
		}
		return "", 0, false, fmt.Errorf("mapping %s: %w", ref.Kind, err)
	}
	sc, err := c.scales.Scales(ns).Get(ctx, mapping.Resource.GroupResource(), ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "", 0, false, nil
	case err != nil:
		return "", 0, false, fmt.Errorf("reading the scale of %s %s: %w", ref.Kind, ref.Name, err)
	case sc.UID != ref.UID:
		return "", 0, false, nil
	}
	return sc.UID, sc.Spec.Replicas, true, nil
}

// staleCondition reports whether pod has a DisruptionTarget condition
// that turns stale if the pod is still not being deleted, and how long
// until then. Conditions the kubelet set and those of finished pods never
// turn stale.
func staleCondition(pod *corev1.Pod, now time.Time) (bool, time.Duration) {
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false, 0
	}
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.DisruptionTarget {
			if cond.Status != corev1.ConditionTrue || cond.Reason == corev1.PodReasonTerminationByKubelet {
				return false, 0
			}
			return true, max(staleConditionTimeout-now.Sub(cond.LastTransitionTime.Time), 0)
		}
	}
	return false, 0
}

// syncStale sets a stale DisruptionTarget condition to False.
func (c *Controller) syncStale(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if err != nil {
		return nil
	}
	now := c.clock.Now()
	stale, after := staleCondition(pod, now)
	if !stale {
		return nil
	}
	if after > 0 {
		c.stale.AddAfter(key, after)
		return nil
	}
	upd := pod.DeepCopy()
	for i := range upd.Status.Conditions {
		if upd.Status.Conditions[i].Type == corev1.DisruptionTarget {
			upd.Status.Conditions[i] = corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionFalse, LastTransitionTime: metav1.NewTime(now)}
		}
	}
	_, err = c.client.CoreV1().Pods(ns).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	return err
}
