package resourcequota

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"berth.dev/berth/internal/controller/worker"
	"berth.dev/berth/internal/quota"
)

// DefaultResync is how often every quota is recounted.
const DefaultResync = 5 * time.Minute

// Config configures a Controller.
type Config struct {
	// Client writes quota status.
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// Metadata and Discovery, when both set, count "count/<resource>.<group>"
	// of resources without an informer here (Deployments, custom
	// resources...); without them those counts stay zero.
	Metadata  metadata.Interface
	Discovery discovery.DiscoveryInterface
	// Clock drives the full resync and ends deleted pods' grace periods;
	// nil means the real clock.
	Clock clock.WithTicker
	// Resync is the period of the full recount; 0 means DefaultResync.
	Resync time.Duration
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of concurrent syncs; 0 means 5.
	Workers int
}

// Controller keeps every ResourceQuota's status current.
type Controller struct {
	client  kubernetes.Interface
	meta    metadata.Interface
	mapper  *restmapper.DeferredDiscoveryRESTMapper
	clock   clock.WithTicker
	resync  time.Duration
	log     *slog.Logger
	workers int

	quotas corelisters.ResourceQuotaLister
	// listers list the objects of the resources watched here by namespace.
	listers map[schema.GroupResource]func(namespace string) ([]runtime.Object, error)
	synced  []cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[cache.ObjectName]
}

// New registers the controller's informers on cfg.Informers and returns it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("resourcequota: Client and Informers are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Resync <= 0 {
		cfg.Resync = DefaultResync
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	c := &Controller{
		client:  cfg.Client,
		clock:   cfg.Clock,
		resync:  cfg.Resync,
		log:     cfg.Logger.With("component", "resourcequota-controller"),
		workers: cfg.Workers,
		listers: map[schema.GroupResource]func(string) ([]runtime.Object, error){},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[cache.ObjectName](),
			workqueue.TypedRateLimitingQueueConfig[cache.ObjectName]{Name: "resourcequota", Clock: cfg.Clock}),
	}
	if cfg.Metadata != nil && cfg.Discovery != nil {
		c.meta = cfg.Metadata
		c.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cfg.Discovery))
	}
	core := cfg.Informers.Core().V1()
	qi := core.ResourceQuotas()
	c.quotas = qi.Lister()
	if _, err := qi.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue,
		// Status changes are this controller's and the admission plugin's
		// own: only a new spec asks for a recount.
		UpdateFunc: func(old, cur any) {
			o, n := old.(*corev1.ResourceQuota), cur.(*corev1.ResourceQuota)
			if !quota.Equals(o.Spec.Hard, n.Spec.Hard) {
				c.enqueue(cur)
			}
		},
		DeleteFunc: func(obj any) { c.replenish(quota.CountName(schema.GroupResource{Resource: "resourcequotas"}), obj) },
	}); err != nil {
		return nil, fmt.Errorf("resourcequota: adding quota handler: %w", err)
	}
	c.synced = append(c.synced, qi.Informer().HasSynced)
	c.listers[schema.GroupResource{Resource: "resourcequotas"}] = listerOf(c.quotas.ResourceQuotas)

	watch := func(gr schema.GroupResource, inf cache.SharedIndexInformer, list func(string) ([]runtime.Object, error), changed func(old, cur any) bool) error {
		h := cache.ResourceEventHandlerFuncs{DeleteFunc: func(obj any) { c.replenish(quota.CountName(gr), obj) }}
		if changed != nil {
			h.UpdateFunc = func(old, cur any) {
				if changed(old, cur) {
					c.replenish(quota.CountName(gr), cur)
				}
			}
		}
		if _, err := inf.AddEventHandler(h); err != nil {
			return fmt.Errorf("resourcequota: adding %s handler: %w", gr, err)
		}
		c.synced = append(c.synced, inf.HasSynced)
		c.listers[gr] = list
		return nil
	}
	pods := core.Pods()
	services := core.Services()
	claims := core.PersistentVolumeClaims()
	secrets, configMaps, rcs := core.Secrets(), core.ConfigMaps(), core.ReplicationControllers()
	for _, w := range []struct {
		gr      schema.GroupResource
		inf     cache.SharedIndexInformer
		list    func(string) ([]runtime.Object, error)
		changed func(old, cur any) bool
	}{
		{quota.Pods, pods.Informer(), listerOf(pods.Lister().Pods), func(old, cur any) bool {
			// A pod that ends stops charging compute resources.
			now := c.clock.Now()
			return quota.Charged(old.(*corev1.Pod), now) && !quota.Charged(cur.(*corev1.Pod), now)
		}},
		{quota.Services, services.Informer(), listerOf(services.Lister().Services), func(old, cur any) bool {
			return old.(*corev1.Service).Spec.Type != cur.(*corev1.Service).Spec.Type
		}},
		{quota.Claims, claims.Informer(), listerOf(claims.Lister().PersistentVolumeClaims), func(old, cur any) bool {
			o, n := old.(*corev1.PersistentVolumeClaim), cur.(*corev1.PersistentVolumeClaim)
			return !quota.Equals(o.Spec.Resources.Requests, n.Spec.Resources.Requests) || !quota.Equals(o.Status.AllocatedResources, n.Status.AllocatedResources)
		}},
		{schema.GroupResource{Resource: "secrets"}, secrets.Informer(), listerOf(secrets.Lister().Secrets), nil},
		{schema.GroupResource{Resource: "configmaps"}, configMaps.Informer(), listerOf(configMaps.Lister().ConfigMaps), nil},
		{schema.GroupResource{Resource: "replicationcontrollers"}, rcs.Informer(), listerOf(rcs.Lister().ReplicationControllers), nil},
	} {
		if err := watch(w.gr, w.inf, w.list, w.changed); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// listerOf adapts a typed namespace lister to a list of objects.
func listerOf[T runtime.Object, L interface {
	List(labels.Selector) ([]T, error)
}](byNamespace func(string) L) func(string) ([]runtime.Object, error) {
	return func(ns string) ([]runtime.Object, error) {
		items, err := byNamespace(ns).List(labels.Everything())
		if err != nil {
			return nil, err
		}
		out := make([]runtime.Object, len(items))
		for i, o := range items {
			out[i] = o
		}
		return out, nil
	}
}

// Run waits for the caches, then recounts quotas as they and the objects
// they count change, and every quota each resync period, until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := c.clock.NewTicker(c.resync) // before any sync, so a test's clock step finds it
	wg.Go(func() {
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
				c.enqueueAll()
			}
		}
	})
	if err := worker.Run(ctx, c.queue, c.workers, c.synced, c.sync, func(k cache.ObjectName, err error) {
		c.log.Log(ctx, worker.Level(err), "sync failed", "namespace", k.Namespace, "name", k.Name, "err", err)
	}); err != nil {
		return fmt.Errorf("resourcequota: waiting for caches: %w", err)
	}
	return nil
}

func (c *Controller) enqueue(obj any) {
	if q, ok := obj.(*corev1.ResourceQuota); ok {
		c.queue.Add(cache.ObjectName{Namespace: q.Namespace, Name: q.Name})
	}
}

func (c *Controller) enqueueAll() {
	qs, err := c.quotas.List(labels.Everything())
	if err != nil {
		return
	}
	for _, q := range qs {
		c.enqueue(q)
	}
}

// replenish enqueues the quotas of obj's namespace that limit anything
// objects counted by countName charge, after obj went away or charges
// less.
func (c *Controller) replenish(countName corev1.ResourceName, obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	gr, _ := quota.ParseCountName(countName)
	qs, err := c.quotas.ResourceQuotas(m.GetNamespace()).List(labels.Everything())
	if err != nil {
		return
	}
	for _, q := range qs {
		if len(quota.MatchingResources(gr, quota.Names(q.Status.Hard))) > 0 || len(quota.MatchingResources(gr, quota.Names(q.Spec.Hard))) > 0 {
			c.enqueue(q)
		}
	}
}

// sync sets the quota's status.hard to its spec.hard and status.used to
// what the namespace's objects use now.
func (c *Controller) sync(ctx context.Context, k cache.ObjectName) error {
	q, err := c.quotas.ResourceQuotas(k.Namespace).Get(k.Name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting quota: %w", err)
	}
	used, err := c.usage(ctx, q)
	if err != nil {
		return err
	}
	if q.Status.Hard != nil && q.Status.Used != nil && quota.Equals(q.Spec.Hard, q.Status.Hard) && quota.Equals(used, q.Status.Used) {
		return nil
	}
	upd := q.DeepCopy()
	upd.Status = corev1.ResourceQuotaStatus{Hard: quota.Add(nil, q.Spec.Hard), Used: used}
	if _, err := c.client.CoreV1().ResourceQuotas(k.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("updating quota status: %w", err)
	}
	return nil
}

// usage counts, for each resource q limits, what its namespace's objects
// in its scopes use; names no object kind charges keep their previous
// value.
func (c *Controller) usage(ctx context.Context, q *corev1.ResourceQuota) (corev1.ResourceList, error) {
	names := quota.Names(q.Spec.Hard)
	reqs := quota.Selectors(q)
	now := c.clock.Now()
	used := quota.Add(nil, q.Status.Used)
	grs := map[schema.GroupResource]bool{}
	for gr := range c.listers {
		grs[gr] = true
	}
	for _, n := range names {
		if gr, ok := quota.ParseCountName(n); ok {
			grs[gr] = true
		}
	}
	for gr := range grs {
		if len(quota.MatchingResources(gr, names)) == 0 {
			continue
		}
		objs, err := c.list(ctx, gr, q.Namespace)
		if err != nil {
			return nil, err
		}
		total, err := quota.Total(gr, objs, names, reqs, now)
		if err != nil {
			return nil, fmt.Errorf("counting %s: %w", gr, err)
		}
		for n, v := range total {
			used[n] = v
		}
	}
	return quota.Mask(used, names), nil
}

// list returns gr's objects in namespace: from the informers for the
// resources watched here, else through the metadata API.
func (c *Controller) list(ctx context.Context, gr schema.GroupResource, namespace string) ([]runtime.Object, error) {
	if l, ok := c.listers[gr]; ok {
		return l(namespace)
	}
	if c.meta == nil {
		return nil, nil
	}
	gvr, err := c.mapper.ResourceFor(gr.WithVersion(""))
	if meta.IsNoMatchError(err) {
		c.mapper.Reset()
		gvr, err = c.mapper.ResourceFor(gr.WithVersion(""))
	}
	if meta.IsNoMatchError(err) {
		return nil, nil // not served (yet): nothing to count
	}
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", gr, err)
	}
	list, err := c.meta.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", gr, err)
	}
	out := make([]runtime.Object, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}
