package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"

	"berth.dev/berth/internal/scheduler/framework"
	"berth.dev/berth/internal/scheduler/plugins"
)

// DefaultSchedulerName is the scheduler name pods get by default.
const DefaultSchedulerName = v1.DefaultSchedulerName

// Config configures a Scheduler.
type Config struct {
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// SchedulerName selects the pods to schedule (spec.schedulerName) and
	// is the source of the scheduler's events; empty means
	// DefaultSchedulerName.
	SchedulerName string
	// Plugins tunes the in-tree plugins; New fills its listers from
	// Informers.
	Plugins plugins.Options
	// Pick chooses among n equally good nodes, returning an index in
	// [0, n); nil picks at random, as upstream.
	Pick func(n int) int
	// PercentageOfNodesToScore bounds the search in large clusters (see
	// framework.Framework); 0 means upstream's adaptive default.
	PercentageOfNodesToScore int32
	// UnschedulableTimeout is the longest an unschedulable pod waits
	// before it is retried even if nothing changed; 0 means 60s.
	UnschedulableTimeout time.Duration
	// VolumeBindTimeout bounds the wait for a pod's claims to be bound
	// (provisioned) before the pod is; 0 means 600s, as upstream.
	VolumeBindTimeout time.Duration
	// Clock drives the queue's timers; nil means the real clock.
	Clock clock.WithTicker
	// Logger; nil discards.
	Logger *slog.Logger
}

// Scheduler assigns pending pods to nodes. Create it with New and run it
// with Run, once.
type Scheduler struct {
	client    kubernetes.Interface
	name      string
	framework *framework.Framework
	clock     clock.WithTicker
	log       *slog.Logger

	podLister         corelisters.PodLister
	synced            []toolscache.InformerSynced
	nodeLister        corelisters.NodeLister
	claimLister       corelisters.PersistentVolumeClaimLister
	volumes           *plugins.VolumeBinding
	volumeBindTimeout time.Duration
	pdbLister         policylisters.PodDisruptionBudgetLister

	nomMu sync.Mutex // guards nominated
	// nominated holds the pending pods nominated to a node by preemption,
	// by UID, with status.nominatedNodeName set.
	nominated   map[types.UID]*framework.PodInfo
	queue       *schedulingQueue
	cache       *cache
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	bindings    sync.WaitGroup // in-flight binding goroutines
	flushEvery  time.Duration
}

// New validates cfg, fills defaults and registers the scheduler's event
// handlers on the pod and node informers.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("scheduler: Client and Informers are required")
	}
	if cfg.SchedulerName == "" {
		cfg.SchedulerName = DefaultSchedulerName
	}
	if cfg.UnschedulableTimeout == 0 {
		cfg.UnschedulableTimeout = 60 * time.Second
	}
	if cfg.VolumeBindTimeout == 0 {
		cfg.VolumeBindTimeout = 600 * time.Second
	}
	if cfg.UnschedulableTimeout < 0 {
		return nil, fmt.Errorf("scheduler: negative UnschedulableTimeout %v", cfg.UnschedulableTimeout)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Pick == nil {
		cfg.Pick = rand.IntN
	}
	if cfg.PercentageOfNodesToScore < 0 || cfg.PercentageOfNodesToScore > 100 {
		return nil, fmt.Errorf("scheduler: PercentageOfNodesToScore %d is outside [0, 100]", cfg.PercentageOfNodesToScore)
	}
	core, apps, storage := cfg.Informers.Core().V1(), cfg.Informers.Apps().V1(), cfg.Informers.Storage().V1()
	opts := cfg.Plugins
	opts.Volumes = plugins.VolumeBinding{
		Claims:         core.PersistentVolumeClaims().Lister(),
		Volumes:        core.PersistentVolumes().Lister(),
		StorageClasses: storage.StorageClasses().Lister(),
	}
	opts.Namespaces = core.Namespaces().Lister()
	opts.Spread = plugins.PodTopologySpread{
		Services:               core.Services().Lister(),
		ReplicationControllers: core.ReplicationControllers().Lister(),
		ReplicaSets:            apps.ReplicaSets().Lister(),
		StatefulSets:           apps.StatefulSets().Lister(),
	}
	fw, err := plugins.NewInTreeRegistry(opts)
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	fw.Pick = cfg.Pick
	fw.PercentageOfNodesToScore = cfg.PercentageOfNodesToScore
	s := &Scheduler{
		client:     cfg.Client,
		name:       cfg.SchedulerName,
		framework:  fw,
		clock:      cfg.Clock,
		log:        cfg.Logger.With("component", "scheduler"),
		queue:      newSchedulingQueue(cfg.Clock, cfg.UnschedulableTimeout),
		cache:      newCache(),
		flushEvery: time.Second,

		nodeLister:        core.Nodes().Lister(),
		claimLister:       opts.Volumes.Claims,
		volumeBindTimeout: cfg.VolumeBindTimeout,
		pdbLister:         cfg.Informers.Policy().V1().PodDisruptionBudgets().Lister(),
		nominated:         map[types.UID]*framework.PodInfo{},
	}
	s.volumes = &opts.Volumes
	pods := cfg.Informers.Core().V1().Pods()
	nodes := cfg.Informers.Core().V1().Nodes()
	s.podLister = pods.Lister()
	for _, inf := range []toolscache.SharedIndexInformer{pods.Informer(), nodes.Informer(), core.Namespaces().Informer(),
		core.Services().Informer(), core.ReplicationControllers().Informer(), apps.ReplicaSets().Informer(), apps.StatefulSets().Informer(),
		core.PersistentVolumeClaims().Informer(), core.PersistentVolumes().Informer(), storage.StorageClasses().Informer(),
		cfg.Informers.Policy().V1().PodDisruptionBudgets().Informer()} {
		s.synced = append(s.synced, inf.HasSynced)
	}
	// New or changed claims, volumes and classes can make parked pods fit.
	volumeChanged := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { s.queue.MoveAllToActive() },
		UpdateFunc: func(any, any) { s.queue.MoveAllToActive() },
	}
	for _, inf := range []toolscache.SharedIndexInformer{core.PersistentVolumeClaims().Informer(), core.PersistentVolumes().Informer(), storage.StorageClasses().Informer()} {
		if _, err := inf.AddEventHandler(volumeChanged); err != nil {
			return nil, fmt.Errorf("scheduler: adding volume handler: %w", err)
		}
	}
	if _, err := pods.Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    s.onPod,
		UpdateFunc: func(_, obj any) { s.onPod(obj) },
		DeleteFunc: s.onPodDelete,
	}); err != nil {
		return nil, fmt.Errorf("scheduler: adding pod handler: %w", err)
	}
	if _, err := nodes.Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.onNode(nil, obj) },
		UpdateFunc: s.onNode,
		DeleteFunc: s.onNodeDelete,
	}); err != nil {
		return nil, fmt.Errorf("scheduler: adding node handler: %w", err)
	}
	return s, nil
}

// waitsForPods reports whether a plugin that looks at the placed pods
// (whose additions can make the pod fit) rejected a node.
func waitsForPods(e *framework.FitError) bool {
	for _, st := range e.NodeStatuses {
		if p := st.Plugin(); p == "InterPodAffinity" || p == "PodTopologySpread" {
			return true
		}
	}
	return false
}

// pending reports whether pod waits for this scheduler: unassigned, ours,
// not finished or being deleted, and without scheduling gates (removing
// the last gate is an update that queues the pod).
func (s *Scheduler) pending(pod *v1.Pod) bool {
	name := pod.Spec.SchedulerName
	if name == "" {
		name = DefaultSchedulerName
	}
	return pod.Spec.NodeName == "" && name == s.name && pod.DeletionTimestamp == nil && !terminal(pod) &&
		len(pod.Spec.SchedulingGates) == 0
}

func terminal(pod *v1.Pod) bool {
	return pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed
}

// onPod routes a pod add or update: pending pods to the queue, assigned
// running pods to the cache.
func (s *Scheduler) onPod(obj any) {
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	// A nomination lives while the pod is pending; the informer may still
	// show a pod the scheduler has just nominated without the node.
	switch {
	case !s.pending(pod):
		s.forgetNomination(pod.UID)
	case pod.Status.NominatedNodeName != "":
		s.nominate(pod, pod.Status.NominatedNodeName)
	}
	switch {
	case pod.Spec.NodeName != "" && !terminal(pod):
		// A newly placed pod can satisfy a parked pod's pod affinity or
		// topology spread, so parked pods are retried.
		s.queue.Delete(pod)
		if s.cache.SetPod(pod) {
			s.queue.MovePodWaitersToActive()
		}
	case pod.Spec.NodeName != "":
		if s.cache.DeletePod(pod.UID) {
			s.queue.MoveAllToActive()
		}
	case s.pending(pod):
		s.queue.Update(pod)
	default:
		s.queue.Delete(pod)
	}
}

func (s *Scheduler) onPodDelete(obj any) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	s.queue.Delete(pod)
	s.forgetNomination(pod.UID)
	// The pod may be assumed though the informer never saw it bound.
	if s.cache.DeletePod(pod.UID) {
		s.queue.MoveAllToActive()
	}
}

// onNode records a node added or updated, and retries parked pods when
// it changed in a way that can make a pod fit (not on status heartbeats).
func (s *Scheduler) onNode(oldObj, obj any) {
	node, ok := obj.(*v1.Node)
	if !ok {
		return
	}
	s.cache.SetNode(node)
	if old, ok := oldObj.(*v1.Node); ok && !schedulingChanged(old, node) {
		return
	}
	s.queue.MoveAllToActive()
}

// schedulingChanged reports whether a node changed in what the plugins
// look at.
func schedulingChanged(old, node *v1.Node) bool {
	ready := func(n *v1.Node) v1.ConditionStatus {
		for _, c := range n.Status.Conditions {
			if c.Type == v1.NodeReady {
				return c.Status
			}
		}
		return ""
	}
	return old.Spec.Unschedulable != node.Spec.Unschedulable ||
		!equality.Semantic.DeepEqual(old.Labels, node.Labels) ||
		!equality.Semantic.DeepEqual(old.Spec.Taints, node.Spec.Taints) ||
		!equality.Semantic.DeepEqual(old.Status.Allocatable, node.Status.Allocatable) ||
		ready(old) != ready(node)
}

func (s *Scheduler) onNodeDelete(obj any) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if node, ok := obj.(*v1.Node); ok {
		s.cache.DeleteNode(node.Name)
	}
}

// Run waits for the informers' caches, then schedules pods until ctx
// ends. It returns when every binding it started has finished.
func (s *Scheduler) Run(ctx context.Context) error {
	s.broadcaster = record.NewBroadcaster(record.WithContext(ctx))
	s.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: s.client.CoreV1().Events("")})
	defer s.broadcaster.Shutdown()
	s.recorder = s.broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: s.name})

	if !toolscache.WaitForCacheSync(ctx.Done(), s.synced...) {
		return nil
	}
	s.log.Info("scheduler started", "schedulerName", s.name)
	var wg sync.WaitGroup
	wg.Go(func() {
		<-ctx.Done()
		s.queue.Close()
	})
	wg.Go(func() {
		t := s.clock.NewTicker(s.flushEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
				s.queue.Flush()
			}
		}
	})
	for {
		pod, cycle, ok := s.queue.Pop()
		if !ok {
			break
		}
		s.scheduleOne(ctx, pod, cycle)
	}
	wg.Wait()
	s.bindings.Wait()
	return nil
}

// scheduleOne runs one scheduling cycle for pod and starts its binding.
func (s *Scheduler) scheduleOne(ctx context.Context, queued *v1.Pod, cycle int64) {
	pod, err := s.podLister.Pods(queued.Namespace).Get(queued.Name)
	if err != nil || pod.UID != queued.UID || !s.pending(pod) || s.cache.Has(pod.UID) {
		s.queue.Done(queued)
		return
	}
	log := s.log.With("pod", podKey(pod))
	if node := s.nominatedNode(pod.UID); node != "" && pod.Status.NominatedNodeName != node {
		pod = pod.DeepCopy()
		pod.Status.NominatedNodeName = node
	}
	res, err := s.framework.Schedule(ctx, pod, s.snapshot())
	if err != nil {
		var fitErr *framework.FitError
		if errors.As(err, &fitErr) {
			log.Debug("pod is unschedulable", "reason", fitErr.Error())
			nominated := ""
			if p := fitErr.Preemption; p != nil {
				if err := s.preempt(ctx, pod, p); err != nil {
					log.Error("preemption failed", "node", p.NodeName, "err", err)
				} else {
					log.Debug("preempting", "node", p.NodeName, "victims", len(p.Victims))
					nominated = p.NodeName
					s.nominate(pod, nominated)
				}
			}
			s.queue.AddUnschedulable(pod, cycle, waitsForPods(fitErr))
			s.recordFailure(ctx, pod, v1.PodReasonUnschedulable, fitErr.Error(), nominated)
			return
		}
		log.Error("scheduling failed", "err", err)
		s.queue.AddBackoff(pod)
		s.recordFailure(ctx, pod, v1.PodReasonSchedulerError, err.Error(), "")
		return
	}
	assumed := pod.DeepCopy()
	assumed.Spec.NodeName = res.NodeName
	if err := s.cache.Assume(assumed); err != nil {
		log.Error("assuming pod failed", "err", err)
		s.queue.AddBackoff(pod)
		return
	}
	s.bindings.Go(func() { s.bind(ctx, pod, res.NodeName, log) })
}

// bind binds the pod's volumes (bindVolumes), then pod to node through
// pods/binding, ending the pod's time in flight. On failure the assumed
// pod is forgotten and the pod requeued with backoff.
func (s *Scheduler) bind(ctx context.Context, pod *v1.Pod, node string, log *slog.Logger) {
	if err := s.bindVolumes(ctx, pod, node); err != nil {
		s.cache.Forget(pod.UID)
		if ctx.Err() != nil {
			return
		}
		log.Error("binding volumes failed", "node", node, "err", err)
		s.queue.AddBackoff(pod)
		s.recordFailure(ctx, pod, v1.PodReasonSchedulerError, fmt.Sprintf("running PreBind plugin %q: %v", "VolumeBinding", err), "")
		return
	}
	binding := &v1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     v1.ObjectReference{Kind: "Node", Name: node},
	}
	err := s.client.CoreV1().Pods(pod.Namespace).Bind(ctx, binding, metav1.CreateOptions{})
	if err == nil {
		s.queue.Done(pod)
		log.Debug("pod bound", "node", node)
		s.recorder.Eventf(pod, v1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
		return
	}
	s.cache.Forget(pod.UID)
	if ctx.Err() != nil {
		return
	}
	log.Error("binding failed", "node", node, "err", err)
	if apierrors.IsConflict(err) {
		// Already bound (by someone else): the informer will tell.
		s.queue.Done(pod)
		return
	}
	s.queue.AddBackoff(pod)
	s.recordFailure(ctx, pod, v1.PodReasonSchedulerError, fmt.Sprintf("Binding rejected: %v", err), "")
}

// recordFailure emits a FailedScheduling event and sets the pod's
// PodScheduled condition to False with reason and message, and its
// status.nominatedNodeName to nominated unless that is empty.
func (s *Scheduler) recordFailure(ctx context.Context, pod *v1.Pod, reason, message, nominated string) {
	s.recorder.Event(pod, v1.EventTypeWarning, "FailedScheduling", message)
	cond := v1.PodCondition{Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: reason, Message: message}
	pods := s.client.CoreV1().Pods(pod.Namespace)
	cur, err := s.podLister.Pods(pod.Namespace).Get(pod.Name)
	if err != nil {
		cur = nil
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if cur == nil {
			var err error
			if cur, err = pods.Get(ctx, pod.Name, metav1.GetOptions{}); err != nil {
				return err
			}
		}
		if cur.UID != pod.UID || cur.Spec.NodeName != "" {
			return nil
		}
		updated := cur.DeepCopy()
		changed := setCondition(&updated.Status, cond, s.clock.Now())
		if nominated != "" && updated.Status.NominatedNodeName != nominated {
			updated.Status.NominatedNodeName, changed = nominated, true
		}
		if !changed {
			return nil
		}
		_, err := pods.UpdateStatus(ctx, updated, metav1.UpdateOptions{})
		// On a conflict the cache is behind: read from the server next.
		cur = nil
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		s.log.Error("updating pod condition failed", "pod", podKey(pod), "err", err)
	}
}

// setCondition sets cond in status, keeping LastTransitionTime when the
// status does not change; it reports whether anything changed.
func setCondition(status *v1.PodStatus, cond v1.PodCondition, now time.Time) bool {
	cond.LastTransitionTime = metav1.NewTime(now)
	for i := range status.Conditions {
		c := &status.Conditions[i]
		if c.Type != cond.Type {
			continue
		}
		if c.Status == cond.Status && c.Reason == cond.Reason && c.Message == cond.Message {
			return false
		}
		if c.Status == cond.Status {
			cond.LastTransitionTime = c.LastTransitionTime
		}
		*c = cond
		return true
	}
	status.Conditions = append(status.Conditions, cond)
	return true
}
