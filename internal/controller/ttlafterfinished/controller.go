package ttlafterfinished

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"berth.dev/berth/internal/controller/worker"
)

// Config configures a Controller.
type Config struct {
	// Client deletes Jobs.
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// Clock is the time TTLs are measured against, and drives the
	// requeues at their expiry; nil means the real clock.
	Clock clock.WithTicker
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of concurrent syncs; 0 means 5.
	Workers int
}

// Controller deletes finished Jobs whose TTL has passed.
type Controller struct {
	client  kubernetes.Interface
	clock   clock.WithTicker
	log     *slog.Logger
	workers int

	jobs   batchlisters.JobLister
	synced []cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[cache.ObjectName]
}

// New registers the controller's Job informer on cfg.Informers and
// returns it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("ttlafterfinished: Client and Informers are required")
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
	inf := cfg.Informers.Batch().V1().Jobs()
	c := &Controller{
		client:  cfg.Client,
		clock:   cfg.Clock,
		log:     cfg.Logger.With("component", "ttl-after-finished-controller"),
		workers: cfg.Workers,
		jobs:    inf.Lister(),
		synced:  []cache.InformerSynced{inf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[cache.ObjectName](),
			workqueue.TypedRateLimitingQueueConfig[cache.ObjectName]{Name: "ttlafterfinished", Clock: cfg.Clock}),
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
	}); err != nil {
		return nil, fmt.Errorf("ttlafterfinished: adding job handler: %w", err)
	}
	return c, nil
}

// Run waits for the cache to sync and runs the workers until ctx ends.
// It returns when every worker has returned; a Controller runs once.
func (c *Controller) Run(ctx context.Context) error {
	if err := worker.Run(ctx, c.queue, c.workers, c.synced, c.sync, func(k cache.ObjectName, err error) {
		c.log.Log(ctx, worker.Level(err), "sync failed", "namespace", k.Namespace, "name", k.Name, "err", err)
	}); err != nil {
		return fmt.Errorf("ttlafterfinished: waiting for caches: %w", err)
	}
	return nil
}

func (c *Controller) enqueue(obj any) {
	j, ok := obj.(*batchv1.Job)
	if !ok || j.DeletionTimestamp != nil {
		return
	}
	if _, ok := expiry(j); ok {
		c.queue.Add(cache.ObjectName{Namespace: j.Namespace, Name: j.Name})
	}
}

// sync deletes the Job if its TTL has passed, or requeues it for when it
// will.
func (c *Controller) sync(ctx context.Context, k cache.ObjectName) error {
	j, err := c.jobs.Jobs(k.Namespace).Get(k.Name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting job: %w", err)
	}
	if !c.due(k, j) {
		return nil
	}
	// The cached Job may be stale: decide again on the current one.
	fresh, err := c.client.BatchV1().Jobs(k.Namespace).Get(ctx, k.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting job: %w", err)
	}
	if !c.due(k, fresh) {
		return nil
	}
	policy := metav1.DeletePropagationBackground
	err = c.client.BatchV1().Jobs(k.Namespace).Delete(ctx, k.Name, metav1.DeleteOptions{
		PropagationPolicy: &policy,
		Preconditions:     &metav1.Preconditions{UID: &fresh.UID, ResourceVersion: &fresh.ResourceVersion},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting expired job: %w", err)
	}
	c.log.Debug("deleted expired job", "namespace", k.Namespace, "name", k.Name)
	return nil
}

// due reports whether j is expired now; a finished Job with a TTL that is
// not yet expired is requeued for its expiry.
func (c *Controller) due(k cache.ObjectName, j *batchv1.Job) bool {
	if j.DeletionTimestamp != nil {
		return false
	}
	at, ok := expiry(j)
	if !ok {
		return false
	}
	if left := at.Sub(c.clock.Now()); left > 0 {
		c.queue.AddAfter(k, left)
		return false
	}
	return true
}

// expiry returns when a finished Job with a TTL expires: its TTL after
// the last transition of its Complete or Failed condition. ok is false
// for a Job without a TTL or not finished.
func expiry(j *batchv1.Job) (at time.Time, ok bool) {
	ttl := j.Spec.TTLSecondsAfterFinished
	if ttl == nil {
		return time.Time{}, false
	}
	for _, cond := range j.Status.Conditions {
		if (cond.Type == batchv1.JobComplete || cond.Type == batchv1.JobFailed) && cond.Status == corev1.ConditionTrue {
			finished := cond.LastTransitionTime.Time
			if finished.IsZero() {
				// Upstream refuses to guess; so does berth.
				return time.Time{}, false
			}
			return finished.Add(time.Duration(*ttl) * time.Second), true
		}
	}
	return time.Time{}, false
}
