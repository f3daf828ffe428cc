package namespace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"berth.dev/berth/internal/controller/worker"
)

// defaultWorkers is upstream's --concurrent-namespace-syncs default.
const defaultWorkers = 10

// Config configures a Controller.
type Config struct {
	// Client reads and writes Namespaces (status and finalize). Required.
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New. Required.
	Informers informers.SharedInformerFactory
	// Metadata lists and deletes the objects in a namespace, of any
	// resource. Required.
	Metadata metadata.Interface
	// Discovery finds the namespaced resources. Nil means
	// Client.Discovery(). A CachedDiscoveryInterface is invalidated on
	// every sync so that resources added since (CRDs) are seen.
	Discovery discovery.DiscoveryInterface
	// Clock gives the time of conditions and of deletion estimates. Nil
	// means the real clock.
	Clock clock.PassiveClock
	// Logger receives the controller's logs. Nil discards them.
	Logger *slog.Logger
	// Workers is how many namespaces are synced at once; 0 means 10.
	Workers int
}

// Controller empties and releases namespaces being deleted. It is safe
// for concurrent use; Run may be called once.
type Controller struct {
	client    kubernetes.Interface
	metadata  metadata.Interface
	discovery discovery.DiscoveryInterface
	clock     clock.PassiveClock
	log       *slog.Logger
	workers   int

	lister corelisters.NamespaceLister
	synced cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]
}

// New validates cfg, fills its defaults and registers the controller's
// Namespace informer on cfg.Informers.
func New(cfg Config) (*Controller, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("namespace controller: Client is required")
	case cfg.Informers == nil:
		return nil, errors.New("namespace controller: Informers is required")
	case cfg.Metadata == nil:
		return nil, errors.New("namespace controller: Metadata is required")
	case cfg.Workers < 0:
		return nil, fmt.Errorf("namespace controller: Workers %d is negative", cfg.Workers)
	}
	c := &Controller{
		client:    cfg.Client,
		metadata:  cfg.Metadata,
		discovery: cfg.Discovery,
		clock:     cfg.Clock,
		log:       cfg.Logger,
		workers:   cfg.Workers,
		// Retries back off from 5ms to at most a minute, as upstream's.
		queue: workqueue.NewTypedRateLimitingQueue(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, time.Minute)),
	}
	if c.discovery == nil {
		c.discovery = cfg.Client.Discovery()
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c.log = c.log.With("component", "namespace-controller")
	if c.workers == 0 {
		c.workers = defaultWorkers
	}
	inf := cfg.Informers.Core().V1().Namespaces()
	// A terminating namespace stays queued (after a delay or a backoff)
	// until it is released, so no resync is needed.
	_, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	})
	if err != nil {
		return nil, fmt.Errorf("namespace controller: adding event handler: %w", err)
	}
	c.lister = inf.Lister()
	c.synced = inf.Informer().HasSynced
	return c, nil
}

// enqueue queues a namespace that is being deleted.
func (c *Controller) enqueue(obj any) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok || ns.DeletionTimestamp == nil {
		return
	}
	c.queue.Add(ns.Name)
}

// Run waits for the Namespace cache, then syncs namespaces with the
// configured number of workers until ctx ends. It returns when all of its
// workers have stopped.
func (c *Controller) Run(ctx context.Context) error {
	worker.Run(ctx, c.queue, c.workers, []cache.InformerSynced{c.synced}, c.syncOrWait, func(name string, err error) {
		c.log.Error("sync failed", "namespace", name, "err", err)
	})
	return nil
}

// syncOrWait syncs a namespace; one whose content is still going away is
// looked at again after about half the estimate, as upstream: waiting is
// expected, not a failure.
func (c *Controller) syncOrWait(ctx context.Context, name string) error {
	err := c.sync(ctx, name)
	var remaining *remainingError
	if errors.As(err, &remaining) {
		c.queue.AddAfter(name, time.Duration(remaining.estimate/2+1)*time.Second)
		c.log.Debug("namespace content remaining", "namespace", name, "estimateSeconds", remaining.estimate)
		return nil
	}
	return err
}

// remainingError says a namespace's content is still going away and is
// expected to be gone in about estimate seconds.
type remainingError struct {
	estimate int64
}

func (e *remainingError) Error() string {
	return fmt.Sprintf("some content remains in the namespace, estimate %d seconds before it is removed", e.estimate)
}

// sync advances the deletion of namespace name: Terminating phase, content
// deleted, conditions recorded, and the kubernetes finalizer removed once
// the namespace is empty. It does nothing for a namespace not being deleted
// or already released by this controller.
func (c *Controller) sync(ctx context.Context, name string) error {
	cached, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting namespace %q from cache: %w", name, err)
	}
	if cached.DeletionTimestamp == nil || !slices.Contains(cached.Spec.Finalizers, corev1.FinalizerKubernetes) {
		return nil
	}
	ns := cached.DeepCopy()
	if ns.Status.Phase != corev1.NamespaceTerminating {
		ns.Status.Phase = corev1.NamespaceTerminating
		if ns, err = c.client.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("marking namespace %q terminating: %w", name, err)
		}
	}

	report := c.deleteContent(ctx, ns.Name, c.clock.Now())
	if mergeConditions(&ns.Status, report.conditions(metav1.NewTime(c.clock.Now()))) {
		updated, err := c.client.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			// The conditions only inform; a failure to write them must
			// not hold up the deletion itself.
			c.log.Warn("updating namespace deletion conditions failed", "namespace", name, "err", err)
		default:
			ns = updated
		}
	}
	if err := report.err(); err != nil {
		return fmt.Errorf("deleting the content of namespace %q: %w", name, err)
	}
	if len(report.remaining) > 0 {
		return &remainingError{estimate: report.estimate}
	}

	ns.Spec.Finalizers = slices.DeleteFunc(ns.Spec.Finalizers, func(f corev1.FinalizerName) bool {
		return f == corev1.FinalizerKubernetes
	})
	_, err = c.client.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finalizing namespace %q: %w", name, err)
	}
	c.log.Info("namespace emptied and finalized", "namespace", name)
	return nil
}
