package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"berth.dev/berth/internal/controller/worker"
)

// Config configures a Controller.
type Config struct {
	// Client writes EndpointSlices and Endpoints.
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of concurrent syncs; 0 means 5.
	Workers int
	// MaxEndpointsPerSlice caps the endpoints of one slice; 0 means 100.
	MaxEndpointsPerSlice int
}

// Controller keeps the EndpointSlices and Endpoints of selector Services.
type Controller struct {
	client  kubernetes.Interface
	log     *slog.Logger
	workers int
	max     int

	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	nodes     corelisters.NodeLister
	slices    discoverylisters.EndpointSliceLister
	endpoints corelisters.EndpointsLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
}

// New registers the controller's informers (Services, pods, nodes,
// EndpointSlices, Endpoints) on cfg.Informers and returns it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("endpointslice: Client and Informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	if cfg.MaxEndpointsPerSlice <= 0 {
		cfg.MaxEndpointsPerSlice = 100
	}
	svcInf := cfg.Informers.Core().V1().Services()
	podInf := cfg.Informers.Core().V1().Pods()
	nodeInf := cfg.Informers.Core().V1().Nodes()
	sliceInf := cfg.Informers.Discovery().V1().EndpointSlices()
	epInf := cfg.Informers.Core().V1().Endpoints()
	c := &Controller{
		client:    cfg.Client,
		log:       cfg.Logger.With("component", "endpointslice-controller"),
		workers:   cfg.Workers,
		max:       cfg.MaxEndpointsPerSlice,
		services:  svcInf.Lister(),
		pods:      podInf.Lister(),
		nodes:     nodeInf.Lister(),
		slices:    sliceInf.Lister(),
		endpoints: epInf.Lister(),
		synced: []cache.InformerSynced{
			svcInf.Informer().HasSynced, podInf.Informer().HasSynced, nodeInf.Informer().HasSynced,
			sliceInf.Informer().HasSynced, epInf.Informer().HasSynced,
		},
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
	}
	for _, reg := range []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{svcInf.Informer(), c.handler(c.enqueueObject)},
		{epInf.Informer(), c.handler(c.enqueueObject)},
		{sliceInf.Informer(), c.handler(c.enqueueSliceService)},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueuePodServices,
			UpdateFunc: c.updatePod,
			DeleteFunc: c.enqueuePodServices,
		}},
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{UpdateFunc: c.updateNode}},
	} {
		if _, err := reg.inf.AddEventHandler(reg.h); err != nil {
			return nil, fmt.Errorf("endpointslice: adding event handler: %w", err)
		}
	}
	return c, nil
}

// Run waits for the caches to sync and runs the workers until ctx ends.
// It returns when every worker has returned; a Controller runs once.
func (c *Controller) Run(ctx context.Context) error {
	if err := worker.Run(ctx, c.queue, c.workers, c.synced, c.sync, func(k string, err error) {
		c.log.Log(ctx, worker.Level(err), "sync failed", "service", k, "err", err)
	}); err != nil {
		return fmt.Errorf("endpointslice: waiting for caches: %w", err)
	}
	return nil
}

// handler calls enqueue with the object of every event, tombstones unwrapped.
func (c *Controller) handler(enqueue func(obj any)) cache.ResourceEventHandler {
	unwrap := func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		enqueue(obj)
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    unwrap,
		UpdateFunc: func(_, cur any) { unwrap(cur) },
		DeleteFunc: unwrap,
	}
}

// enqueueObject enqueues the Service of the same namespace and name.
func (c *Controller) enqueueObject(obj any) {
	if k, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(k)
	}
}

// enqueueSliceService enqueues the Service of a slice this controller manages.
func (c *Controller) enqueueSliceService(obj any) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelManagedBy] != managedBy || s.Labels[discoveryv1.LabelServiceName] == "" {
		return
	}
	c.queue.Add(s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName])
}

// enqueuePodServices enqueues every selector Service of the pod's
// namespace that matches its labels.
func (c *Controller) enqueuePodServices(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	svcs, err := c.services.Services(p.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range svcs {
		if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(p.Labels)) {
			c.queue.Add(s.Namespace + "/" + s.Name)
		}
	}
}

func (c *Controller) updatePod(oldObj, curObj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	cur, ok2 := curObj.(*corev1.Pod)
	if !ok1 || !ok2 || old.ResourceVersion == cur.ResourceVersion {
		return
	}
	c.enqueuePodServices(cur)
	if !labels.Equals(old.Labels, cur.Labels) {
		c.enqueuePodServices(old)
	}
}

// updateNode enqueues every Service when a node's zone changes, since
// endpoints carry their node's zone.
func (c *Controller) updateNode(oldObj, curObj any) {
	old, ok1 := oldObj.(*corev1.Node)
	cur, ok2 := curObj.(*corev1.Node)
	if !ok1 || !ok2 || old.Labels[corev1.LabelTopologyZone] == cur.Labels[corev1.LabelTopologyZone] {
		return
	}
	svcs, err := c.services.List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range svcs {
		c.queue.Add(s.Namespace + "/" + s.Name)
	}
}
