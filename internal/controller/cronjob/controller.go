package cronjob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"berth.dev/berth/internal/controller/worker"
)

// Config configures a Controller.
type Config struct {
	// Client writes Jobs, CronJob status and Events.
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// Clock is the time schedules are read against, and drives the
	// requeues at the next schedule times; nil means the real clock.
	Clock clock.WithTicker
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of concurrent syncs; 0 means 5.
	Workers int
}

// Controller starts the Jobs of batch/v1 CronJobs.
type Controller struct {
	client  kubernetes.Interface
	clock   clock.WithTicker
	log     *slog.Logger
	workers int

	cronJobs    batchlisters.CronJobLister
	jobs        batchlisters.JobLister
	synced      []cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[cache.ObjectName]
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
}

var cronJobGroupKind = schema.GroupKind{Group: batchv1.GroupName, Kind: "CronJob"}

// New registers the controller's informers (CronJobs and Jobs) on
// cfg.Informers and returns it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("cronjob: Client and Informers are required")
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
	cjInf := cfg.Informers.Batch().V1().CronJobs()
	jobInf := cfg.Informers.Batch().V1().Jobs()
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		client:   cfg.Client,
		clock:    cfg.Clock,
		log:      cfg.Logger.With("component", "cronjob-controller"),
		workers:  cfg.Workers,
		cronJobs: cjInf.Lister(),
		jobs:     jobInf.Lister(),
		synced:   []cache.InformerSynced{cjInf.Informer().HasSynced, jobInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[cache.ObjectName](),
			workqueue.TypedRateLimitingQueueConfig[cache.ObjectName]{Name: "cronjob", Clock: cfg.Clock}),
		broadcaster: broadcaster,
		recorder:    broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "cronjob-controller"}),
	}
	enqueue := func(obj any) {
		if k, err := cache.DeletionHandlingObjectToName(obj); err == nil {
			c.queue.Add(k)
		}
	}
	if _, err := cjInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, cur any) { enqueue(cur) },
		DeleteFunc: enqueue,
	}); err != nil {
		return nil, fmt.Errorf("cronjob: adding cronjob handler: %w", err)
	}
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.jobEvent,
		UpdateFunc: func(_, cur any) { c.jobEvent(cur) },
		DeleteFunc: c.jobEvent,
	}); err != nil {
		return nil, fmt.Errorf("cronjob: adding job handler: %w", err)
	}
	return c, nil
}

// Run records Events, waits for the caches to sync and runs the workers
// until ctx ends. It returns when every worker has returned; a Controller
// runs once.
func (c *Controller) Run(ctx context.Context) error {
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()
	if err := worker.Run(ctx, c.queue, c.workers, c.synced, c.sync, func(k cache.ObjectName, err error) {
		c.log.Log(ctx, worker.Level(err), "sync failed", "namespace", k.Namespace, "name", k.Name, "err", err)
	}); err != nil {
		return fmt.Errorf("cronjob: waiting for caches: %w", err)
	}
	return nil
}

// jobEvent enqueues the CronJob controlling a Job.
func (c *Controller) jobEvent(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	j, ok := obj.(*batchv1.Job)
	if !ok {
		return
	}
	if ref := controllerRef(j); ref != nil {
		c.queue.Add(cache.ObjectName{Namespace: j.Namespace, Name: ref.Name})
	}
}

// controllerRef returns the Job's controller reference if a CronJob is it.
func controllerRef(j *batchv1.Job) *metav1.OwnerReference {
	ref := metav1.GetControllerOfNoCopy(j)
	if ref == nil {
		return nil
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil || gv.WithKind(ref.Kind).GroupKind() != cronJobGroupKind {
		return nil
	}
	return ref
}

// sync carries out decide's plan for one CronJob and requeues it for its
// next schedule time.
func (c *Controller) sync(ctx context.Context, k cache.ObjectName) error {
	cj, err := c.cronJobs.CronJobs(k.Namespace).Get(k.Name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting cronjob: %w", err)
	}
	all, err := c.jobs.Jobs(k.Namespace).List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing jobs: %w", err)
	}
	var jobs []*batchv1.Job
	seen := map[types.UID]bool{}
	for _, j := range all {
		if ref := controllerRef(j); ref != nil && ref.UID == cj.UID {
			jobs = append(jobs, j)
			seen[j.UID] = true
		}
	}
	// An active Job missing from the cache may only be new to it: ask the
	// server before dropping it.
	gone := map[types.UID]bool{}
	for _, ref := range cj.Status.Active {
		if seen[ref.UID] {
			continue
		}
		j, err := c.client.BatchV1().Jobs(k.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err) || err == nil && j.UID != ref.UID:
			gone[ref.UID] = true
		case err != nil:
			return fmt.Errorf("getting job %s: %w", ref.Name, err)
		}
	}

	p := decide(cj, jobs, gone, c.clock.Now())
	for _, e := range p.events {
		c.recorder.Event(cj, e.typ, e.reason, e.msg)
	}
	st := p.status
	err = c.replace(ctx, cj, p, &st)
	if err == nil && p.create != nil {
		err = c.create(ctx, cj, p, &st)
	}
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, j := range p.trim {
		if err := c.deleteJob(ctx, cj, j.Name, j.UID); err != nil {
			errs = append(errs, err)
		}
	}
	if !equality.Semantic.DeepEqual(cj.Status, st) {
		cur := cj.DeepCopy()
		cur.Status = st
		if _, err := c.client.BatchV1().CronJobs(cur.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("updating status: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if !p.wake.IsZero() {
		c.queue.AddAfter(k, p.wake.Sub(c.clock.Now()))
	}
	return nil
}

// replace deletes the active Jobs concurrencyPolicy Replace replaces,
// removing each from st once it is gone.
func (c *Controller) replace(ctx context.Context, cj *batchv1.CronJob, p plan, st *batchv1.CronJobStatus) error {
	for _, ref := range p.replace {
		if err := c.deleteJob(ctx, cj, ref.Name, ref.UID); err != nil {
			return fmt.Errorf("replacing: %w", err)
		}
		removeActive(st, ref.UID)
	}
	return nil
}

// create creates the planned Job and records it in st. A Job of that
// name that already exists and that cj controls is recorded as if
// created; one that cj does not control is left alone.
func (c *Controller) create(ctx context.Context, cj *batchv1.CronJob, p plan, st *batchv1.CronJobStatus) error {
	j, err := c.client.BatchV1().Jobs(cj.Namespace).Create(ctx, p.create, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		if j, err = c.client.BatchV1().Jobs(cj.Namespace).Get(ctx, p.create.Name, metav1.GetOptions{}); err != nil {
			return fmt.Errorf("getting existing job %s: %w", p.create.Name, err)
		}
		if !metav1.IsControlledBy(j, cj) || inActive(st, j.UID) {
			return nil
		}
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return fmt.Errorf("creating job: %w", err)
	case err != nil:
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
		return fmt.Errorf("creating job: %w", err)
	default:
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %v", j.Name)
	}
	st.Active = append(st.Active, corev1.ObjectReference{
		Kind: "Job", APIVersion: batchv1.SchemeGroupVersion.String(),
		Namespace: j.Namespace, Name: j.Name, UID: j.UID, ResourceVersion: j.ResourceVersion,
	})
	st.LastScheduleTime = &metav1.Time{Time: p.scheduled}
	return nil
}

// deleteJob deletes one of cj's Jobs with background propagation (its
// pods go through the garbage collector); one already gone counts as
// deleted.
func (c *Controller) deleteJob(ctx context.Context, cj *batchv1.CronJob, name string, uid types.UID) error {
	policy := metav1.DeletePropagationBackground
	err := c.client.BatchV1().Jobs(cj.Namespace).Delete(ctx, name, metav1.DeleteOptions{
		PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: &uid},
	})
	switch {
	case err == nil:
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %v", name)
	case apierrors.IsNotFound(err):
	default:
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedDelete", "Deleted job: %v", err)
		return fmt.Errorf("deleting job %s: %w", name, err)
	}
	return nil
}
