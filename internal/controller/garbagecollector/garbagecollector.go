package garbagecollector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// errUnknownKind is the error for a reference to a kind discovery has not
// found; it is retried, as the kind may be served soon.
var errUnknownKind = errors.New("kind not served")

// Config configures a Controller.
type Config struct {
	// Metadata reads, watches, patches and deletes objects of every resource
	// as metadata. Required.
	Metadata metadata.Interface
	// Discovery lists the served resources; it must not cache, or resources
	// added later are never seen. Required.
	Discovery discovery.DiscoveryInterface
	// DiscoveryPeriod is how often resources are re-discovered, so that
	// resources added later (custom resources) are watched too; 0 means 30s.
	DiscoveryPeriod time.Duration
	// Logger receives the controller's logs; nil discards them.
	Logger *slog.Logger
	// Workers is how many objects are processed at once; 0 means 5.
	Workers int
}

// Controller is the garbage collector. Run is called once.
type Controller struct {
	metadata  metadata.Interface
	discovery discovery.DiscoveryInterface
	period    time.Duration
	log       *slog.Logger
	workers   int

	graph *graph
	queue workqueue.TypedRateLimitingInterface[types.UID]
	// kinds resolves ownerReferences; replaced whole on each discovery.
	kinds atomic.Pointer[map[schema.GroupVersionKind]kindInfo]
	// rediscover asks Run for a discovery before the next period, when a
	// reference names a kind not yet known.
	rediscover chan struct{}
}

// New validates cfg and returns a controller. It starts nothing: its
// informers are made and started by Run, as discovery finds resources.
func New(cfg Config) (*Controller, error) {
	if cfg.Metadata == nil {
		return nil, errors.New("garbagecollector: Config.Metadata is required")
	}
	if cfg.Discovery == nil {
		return nil, errors.New("garbagecollector: Config.Discovery is required")
	}
	if cfg.DiscoveryPeriod < 0 || cfg.Workers < 0 {
		return nil, errors.New("garbagecollector: Config.DiscoveryPeriod and Config.Workers must not be negative")
	}
	c := &Controller{
		metadata:   cfg.Metadata,
		discovery:  cfg.Discovery,
		period:     cfg.DiscoveryPeriod,
		log:        cfg.Logger,
		workers:    cfg.Workers,
		graph:      newGraph(),
		rediscover: make(chan struct{}, 1),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[types.UID](),
			workqueue.TypedRateLimitingQueueConfig[types.UID]{Name: "garbagecollector"}),
	}
	if c.period == 0 {
		c.period = 30 * time.Second
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "garbagecollector")
	if c.workers == 0 {
		c.workers = 5
	}
	c.kinds.Store(&map[schema.GroupVersionKind]kindInfo{})
	return c, nil
}

// syncTimeout bounds Run's wait for the first caches to fill.
const syncTimeout = 30 * time.Second

// Run discovers resources, watches them, waits for the first caches to
// fill (at most syncTimeout: a resource that cannot be listed must
// not stop collection, which confirms absent owners live anyway), and
// processes objects until ctx ends; it re-discovers resources every
// DiscoveryPeriod. It returns nil when ctx ends, after every goroutine it
// started has ended.
func (c *Controller) Run(ctx context.Context) error {
	monitors := map[schema.GroupVersionResource]*monitor{}
	defer func() {
		for _, m := range monitors {
			m.stop()
		}
	}()
	c.resync(ctx, monitors)
	synced := make([]cache.InformerSynced, 0, len(monitors))
	for _, m := range monitors {
		synced = append(synced, m.informer.HasSynced)
	}
	syncCtx, cancel := context.WithTimeout(ctx, syncTimeout)
	ok := cache.WaitForCacheSync(syncCtx.Done(), synced...)
	cancel()
	if ctx.Err() != nil {
		return nil
	}
	if !ok {
		var unsynced []string
		for gvr, m := range monitors {
			if !m.informer.HasSynced() {
				unsynced = append(unsynced, gvr.String())
			}
		}
		if len(unsynced) > 0 {
			c.log.Warn("not every resource could be listed in time; collecting anyway", "resources", unsynced)
		}
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.queue.ShutDown()
	for range c.workers {
		wg.Go(func() {
			for c.processNext(ctx) {
			}
		})
	}
	tick := time.NewTicker(c.period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			c.resync(ctx, monitors)
		case <-c.rediscover:
			c.resync(ctx, monitors)
		}
	}
}

// resync re-discovers resources, starts watching new ones and stops
// watching those no longer served. After a partial failure it only adds.
func (c *Controller) resync(ctx context.Context, monitors map[schema.GroupVersionResource]*monitor) {
	groups, lists, err := c.discovery.ServerGroupsAndResources()
	partial := discovery.IsGroupDiscoveryFailedError(err)
	if err != nil && !partial {
		c.log.Error("discovery failed", "err", err)
		return
	}
	if partial {
		c.log.Warn("discovery incomplete", "err", err)
	}
	kinds, watch := resourcesFrom(groups, lists)
	if partial {
		for k, v := range *c.kinds.Load() {
			if _, ok := kinds[k]; !ok {
				kinds[k] = v
			}
		}
	}
	c.kinds.Store(&kinds)
	for gvr := range watch {
		if monitors[gvr] != nil {
			continue
		}
		m, err := c.startMonitor(ctx, gvr)
		if err != nil {
			c.log.Error("watching resource failed", "resource", gvr, "err", err)
			continue
		}
		monitors[gvr] = m
		c.log.Debug("watching resource", "resource", gvr)
	}
	if partial {
		return
	}
	for gvr, m := range monitors {
		if watch[gvr] {
			continue
		}
		m.stop()
		delete(monitors, gvr)
		c.enqueue(c.graph.forgetResource(gvr))
		c.log.Debug("stopped watching resource", "resource", gvr)
	}
}

func (c *Controller) observe(gvr schema.GroupVersionResource, obj any) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	c.enqueue(c.graph.observe(node{
		ID:         objectID{Resource: gvr, Namespace: m.GetNamespace(), Name: m.GetName(), UID: m.GetUID()},
		Owners:     m.GetOwnerReferences(),
		Deleting:   m.GetDeletionTimestamp() != nil,
		Finalizers: m.GetFinalizers(),
	}))
}

func (c *Controller) forget(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	c.enqueue(c.graph.forget(m.GetUID()))
}

func (c *Controller) enqueue(uids []types.UID) {
	for _, u := range uids {
		c.queue.Add(u)
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	uid, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(uid)
	if err := c.sync(ctx, uid); err != nil {
		level := slog.LevelError
		if apierrors.IsConflict(err) || errors.Is(err, errUnknownKind) {
			level = slog.LevelDebug
		}
		c.log.Log(ctx, level, "sync failed", "uid", uid, "err", err)
		c.queue.AddRateLimited(uid)
		return true
	}
	c.queue.Forget(uid)
	return true
}

// sync brings the object with the UID, as the graph knows it, one step
// towards what its owners and finalizers call for.
func (c *Controller) sync(ctx context.Context, uid types.UID) error {
	n, ok := c.graph.node(uid)
	switch {
	case !ok:
		return nil
	case n.deletingOrphan():
		return c.orphan(ctx, n)
	case n.deletingForeground():
		return c.finishForeground(ctx, n)
	case n.Deleting || len(n.Owners) == 0:
		return nil
	}
	return c.collect(ctx, n)
}

// collect deletes n, or removes its references to absent or waiting owners,
// as planDependent decides from fresh reads of n and its owners.
func (c *Controller) collect(ctx context.Context, n node) error {
	live, err := c.get(ctx, n.ID)
	if err != nil || live == nil || live.DeletionTimestamp != nil {
		return err
	}
	states := make(map[types.UID]ownerState, len(live.OwnerReferences))
	for _, r := range live.OwnerReferences {
		s, err := c.ownerState(ctx, r, live.Namespace)
		if err != nil {
			return fmt.Errorf("checking owner %s %q of %s %s/%s: %w", r.Kind, r.Name, n.ID.Resource, n.ID.Namespace, n.ID.Name, err)
		}
		states[r.UID] = s
	}
	a := planDependent(live.OwnerReferences, states, live.Finalizers, c.graph.hasDependents(n.ID.UID))
	switch {
	case len(a.RemoveOwners) > 0:
		return c.removeOwnerRefs(ctx, n.ID, live, a.RemoveOwners)
	case a.Delete:
		if a.Propagation == metav1.DeletePropagationForeground && slices.ContainsFunc(c.graph.dependentsOf(n.ID.UID), node.deletingForeground) {
			// n and a dependent may wait for each other through a cycle of
			// references; n stops blocking its owners so the cycle can end.
			if refs, changed := unblocked(live.OwnerReferences); changed {
				return c.patchMetadata(ctx, n.ID, live.ResourceVersion, "ownerReferences", refs)
			}
		}
		c.log.Info("deleting dependent", "resource", n.ID.Resource, "namespace", n.ID.Namespace, "name", n.ID.Name, "propagation", a.Propagation)
		err := c.metadata.Resource(n.ID.Resource).Namespace(n.ID.Namespace).Delete(ctx, n.ID.Name, metav1.DeleteOptions{
			Preconditions:     metav1.NewUIDPreconditions(string(n.ID.UID)),
			PropagationPolicy: &a.Propagation,
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s %s/%s: %w", n.ID.Resource, n.ID.Namespace, n.ID.Name, err)
		}
	}
	return nil
}

// ownerState says what a reference from an object in namespace ns finds.
// The graph answers for owners it has observed where the reference points;
// any other owner is looked up live, so a stale cache never makes an owner
// absent.
func (c *Controller) ownerState(ctx context.Context, r metav1.OwnerReference, ns string) (ownerState, error) {
	gv, err := schema.ParseGroupVersion(r.APIVersion)
	if err != nil {
		return 0, err
	}
	k, ok := (*c.kinds.Load())[gv.WithKind(r.Kind)]
	if !ok {
		select {
		case c.rediscover <- struct{}{}:
		default:
		}
		return 0, fmt.Errorf("%w: %s", errUnknownKind, gv.WithKind(r.Kind))
	}
	if !k.Namespaced {
		ns = ""
	} else if ns == "" {
		// A cluster-scoped object cannot be owned by a namespaced one: the
		// reference cannot be resolved, and the object is never collected for it.
		return ownerSolid, nil
	}
	if o, ok := c.graph.node(r.UID); ok && o.ID.Namespace == ns && o.ID.Name == r.Name {
		if o.deletingForeground() {
			return ownerWaiting, nil
		}
		return ownerSolid, nil
	}
	o, err := c.metadata.Resource(k.Resource).Namespace(ns).Get(ctx, r.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return ownerAbsent, nil
	case err != nil:
		return 0, err
	case o.UID != r.UID:
		return ownerAbsent, nil
	case o.DeletionTimestamp != nil && slices.Contains(o.Finalizers, metav1.FinalizerDeleteDependents):
		return ownerWaiting, nil
	}
	return ownerSolid, nil
}

// finishForeground deletes the dependents of n, an owner being deleted in
// the foreground, and removes its finalizer once none blocks it.
func (c *Controller) finishForeground(ctx context.Context, n node) error {
	deps := c.graph.dependentsOf(n.ID.UID)
	for _, d := range deps {
		if !d.Deleting {
			c.queue.Add(d.ID.UID)
		}
	}
	if len(blocking(deps, n.ID.UID)) > 0 {
		return nil
	}
	return c.removeFinalizer(ctx, n.ID, metav1.FinalizerDeleteDependents)
}

// orphan removes the references to n, an owner being deleted with the
// orphan finalizer, from its dependents, then removes the finalizer.
func (c *Controller) orphan(ctx context.Context, n node) error {
	for _, d := range c.graph.dependentsOf(n.ID.UID) {
		live, err := c.get(ctx, d.ID)
		if err != nil {
			return err
		}
		if live == nil {
			continue
		}
		if err := c.removeOwnerRefs(ctx, d.ID, live, []types.UID{n.ID.UID}); err != nil {
			return err
		}
	}
	return c.removeFinalizer(ctx, n.ID, metav1.FinalizerOrphanDependents)
}

// get reads the object live; it returns nil when no object with id's UID
// exists.
func (c *Controller) get(ctx context.Context, id objectID) (*metav1.PartialObjectMetadata, error) {
	o, err := c.metadata.Resource(id.Resource).Namespace(id.Namespace).Get(ctx, id.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("getting %s %s/%s: %w", id.Resource, id.Namespace, id.Name, err)
	case o.UID != id.UID:
		return nil, nil
	}
	return o, nil
}

// removeOwnerRefs removes live's references to the owners, unless live
// changed since it was read.
func (c *Controller) removeOwnerRefs(ctx context.Context, id objectID, live *metav1.PartialObjectMetadata, owners []types.UID) error {
	refs, changed := withoutOwners(live.OwnerReferences, owners)
	if !changed {
		return nil
	}
	if len(refs) == 0 {
		refs = nil
	}
	c.log.Info("removing owner references", "resource", id.Resource, "namespace", id.Namespace, "name", id.Name, "owners", owners)
	return c.patchMetadata(ctx, id, live.ResourceVersion, "ownerReferences", refs)
}

// removeFinalizer removes the finalizer from the object, read live.
func (c *Controller) removeFinalizer(ctx context.Context, id objectID, finalizer string) error {
	live, err := c.get(ctx, id)
	if err != nil || live == nil || !slices.Contains(live.Finalizers, finalizer) {
		return err
	}
	rest := slices.DeleteFunc(slices.Clone(live.Finalizers), func(f string) bool { return f == finalizer })
	if len(rest) == 0 {
		rest = nil
	}
	c.log.Info("removing finalizer", "resource", id.Resource, "namespace", id.Namespace, "name", id.Name, "finalizer", finalizer)
	return c.patchMetadata(ctx, id, live.ResourceVersion, "finalizers", rest)
}

// patchMetadata sets one metadata field with a JSON merge patch that holds
// only if the object is still at resourceVersion.
func (c *Controller) patchMetadata(ctx context.Context, id objectID, resourceVersion, field string, value any) error {
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": resourceVersion,
		field:             value,
	}})
	if err != nil {
		return fmt.Errorf("encoding patch of %s: %w", field, err)
	}
	_, err = c.metadata.Resource(id.Resource).Namespace(id.Namespace).Patch(ctx, id.Name, types.MergePatchType, body, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("patching %s of %s %s/%s: %w", field, id.Resource, id.Namespace, id.Name, err)
	}
	return nil
}
