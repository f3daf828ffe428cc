package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"berth.dev/berth/internal/controller/expectations"
	"berth.dev/berth/internal/controller/worker"
)

// Config configures a Controller.
type Config struct {
	// Client writes pods and Job status.
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// Clock gives the time for status, deadlines, backoff and expectation
	// expiry; nil means the real clock.
	Clock clock.PassiveClock
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of concurrent syncs; 0 means 5.
	Workers int
	// BackoffBase is the delay before recreating pods after the first
	// failure since the last success; it doubles with each further
	// failure. 0 means 10s, upstream's.
	BackoffBase time.Duration
	// BackoffMax caps that delay; 0 means 6 minutes, upstream's.
	BackoffMax time.Duration
}

// Controller runs the pods of batch/v1 Jobs.
type Controller struct {
	client  kubernetes.Interface
	clock   clock.PassiveClock
	log     *slog.Logger
	workers int
	backoff backoff

	jobs   batchlisters.JobLister
	pods   corelisters.PodLister
	synced []cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[cache.ObjectName]
	exp    *expectations.Expectations[cache.ObjectName]
}

var jobGroupKind = schema.GroupKind{Group: batchv1.GroupName, Kind: "Job"}

// New registers the controller's informers (Jobs and pods) on
// cfg.Informers and returns it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("job: Client and Informers are required")
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
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = 10 * time.Second
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 6 * time.Minute
	}
	jobInf := cfg.Informers.Batch().V1().Jobs()
	podInf := cfg.Informers.Core().V1().Pods()
	c := &Controller{
		client:  cfg.Client,
		clock:   cfg.Clock,
		log:     cfg.Logger.With("component", "job-controller"),
		workers: cfg.Workers,
		backoff: backoff{base: cfg.BackoffBase, max: cfg.BackoffMax},
		jobs:    jobInf.Lister(),
		pods:    podInf.Lister(),
		synced:  []cache.InformerSynced{jobInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue:   workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[cache.ObjectName]()),
		exp:     expectations.New[cache.ObjectName](cfg.Clock),
	}
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueJob,
		UpdateFunc: func(_, cur any) { c.enqueueJob(cur) },
		DeleteFunc: func(obj any) {
			if k, err := cache.DeletionHandlingObjectToName(obj); err == nil {
				c.exp.Forget(k)
				c.queue.Add(k)
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("job: adding job handler: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.podEvent(obj, true, false) },
		UpdateFunc: func(_, cur any) { c.podEvent(cur, false, false) },
		DeleteFunc: func(obj any) { c.podEvent(obj, false, true) },
	}); err != nil {
		return nil, fmt.Errorf("job: adding pod handler: %w", err)
	}
	return c, nil
}

// Run waits for the caches to sync and runs the workers until ctx ends.
// It returns when every worker has returned; a Controller runs once.
func (c *Controller) Run(ctx context.Context) error {
	if err := worker.Run(ctx, c.queue, c.workers, c.synced, c.sync, func(k cache.ObjectName, err error) {
		c.log.Log(ctx, worker.Level(err), "sync failed", "namespace", k.Namespace, "name", k.Name, "err", err)
	}); err != nil {
		return fmt.Errorf("job: waiting for caches: %w", err)
	}
	return nil
}

func (c *Controller) enqueueJob(obj any) {
	if k, err := cache.ObjectToName(obj); err == nil {
		c.queue.Add(k)
	}
}

// podEvent enqueues the Job controlling a pod and records what the
// informer observed for expectations: its addition, or its deletion (a
// deletion timestamp counts).
func (c *Controller) podEvent(obj any, added, deleted bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(p)
	if ref == nil {
		if !deleted && p.DeletionTimestamp == nil {
			c.enqueueAdopters(p)
		}
		return
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil || gv.WithKind(ref.Kind).GroupKind() != jobGroupKind {
		return
	}
	k := cache.ObjectName{Namespace: p.Namespace, Name: ref.Name}
	switch {
	case deleted || p.DeletionTimestamp != nil:
		c.exp.DeletionObserved(k, p.UID)
	case added:
		c.exp.CreationsObserved(k, 1)
	}
	c.queue.Add(k)
}

// enqueueAdopters enqueues the Jobs whose selector matches an orphan pod.
func (c *Controller) enqueueAdopters(p *corev1.Pod) {
	jobs, err := c.jobs.Jobs(p.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, j := range jobs {
		if j.DeletionTimestamp == nil && len(orphans(j, []*corev1.Pod{p})) > 0 {
			c.queue.Add(cache.ObjectName{Namespace: j.Namespace, Name: j.Name})
		}
	}
}

// sync brings one Job's pods and status to what decide plans.
func (c *Controller) sync(ctx context.Context, k cache.ObjectName) error {
	job, err := c.jobs.Jobs(k.Namespace).Get(k.Name)
	if apierrors.IsNotFound(err) {
		c.exp.Forget(k)
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting job: %w", err)
	}
	if job.DeletionTimestamp != nil || !c.exp.Satisfied(k) {
		// Pod events resume the work once the cache shows our writes.
		return nil
	}
	all, err := c.pods.Pods(k.Namespace).List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	var pods []*corev1.Pod
	for _, p := range all {
		if ref := metav1.GetControllerOfNoCopy(p); ref != nil && ref.UID == job.UID {
			pods = append(pods, p)
		}
	}
	var errs []error
	if gone := strays(job, pods); len(gone) > 0 {
		if err := c.release(ctx, job, gone); err != nil {
			errs = append(errs, err)
		}
		pods = slices.DeleteFunc(pods, func(p *corev1.Pod) bool { return slices.Contains(gone, p) })
	}
	if orphaned := orphans(job, all); len(orphaned) > 0 {
		adopted, err := c.adopt(ctx, job, orphaned)
		if err != nil {
			errs = append(errs, err)
		}
		pods = append(pods, adopted...)
	}
	p := decide(job, pods, c.clock.Now(), c.backoff)

	if len(p.delete) > 0 {
		c.exp.Expect(k, 0, p.delete)
		for _, pod := range p.delete {
			err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
			if err == nil {
				continue
			}
			// Refused, or already gone (its event may have passed): no
			// event is left to wait for.
			c.exp.DeletionObserved(k, pod.UID)
			if !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("deleting pod %s: %w", pod.Name, err))
			}
		}
	}
	if len(p.create) > 0 {
		c.exp.Expect(k, len(p.create), nil)
		for _, idx := range p.create {
			pod := newPod(job, idx)
			if n, ok := p.indexFailures[idx]; ok {
				recordIndexFailures(pod, n)
			}
			if _, err := c.client.CoreV1().Pods(job.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				c.exp.CreationsObserved(k, 1) // a refused pod will never be seen
				errs = append(errs, fmt.Errorf("creating pod: %w", err))
			}
		}
	}
	if !equality.Semantic.DeepEqual(job.Status, p.status) {
		j := job.DeepCopy()
		j.Status = p.status
		if _, err := c.client.BatchV1().Jobs(j.Namespace).UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("updating status: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if p.requeue > 0 {
		c.queue.AddAfter(k, p.requeue)
	}
	return nil
}
