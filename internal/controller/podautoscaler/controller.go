package podautoscaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	autoscalinglisters "k8s.io/client-go/listers/autoscaling/v2"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	metricsapi "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsv1beta1 "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
	"k8s.io/utils/clock"

	"berth.dev/berth/internal/controller/worker"
)

// Config configures a Controller.
type Config struct {
	// Client writes HPA status and Events.
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// Metrics reads PodMetrics from the resource metrics API.
	Metrics metricsv1beta1.PodMetricsesGetter
	// Scales reads and writes the targets' scale subresource; Mapper
	// resolves their kinds.
	Scales scale.ScalesGetter
	Mapper apimeta.RESTMapper
	// SyncPeriod is how often each HPA is reconciled; 0 means 15 s.
	SyncPeriod time.Duration
	// DownscaleStabilization is the scale-down stabilization window of
	// HPAs that set none; 0 means 5 min.
	DownscaleStabilization time.Duration
	// CPUInitialization is how long after a pod starts its CPU samples may
	// be from its initialization; 0 means 5 min. InitialReadinessDelay is
	// how long after start a never-ready pod counts as initializing; 0
	// means 30 s.
	CPUInitialization, InitialReadinessDelay time.Duration
	// Tolerance is the usage ratio distance from 1 that changes nothing;
	// 0 means 0.1.
	Tolerance float64
	// Clock is the time of scale events, windows and readiness; nil means
	// the real clock.
	Clock clock.WithTicker
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of concurrent syncs; 0 means 5.
	Workers int
}

// Controller scales the targets of HorizontalPodAutoscalers.
type Controller struct {
	cfg         Config
	log         *slog.Logger
	hpas        autoscalinglisters.HorizontalPodAutoscalerLister
	pods        corelisters.PodLister
	synced      []cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[cache.ObjectName]
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder

	mu sync.Mutex // guards histories
	// histories are each HPA's recent recommendations and scale events.
	histories map[cache.ObjectName]*history
}

// New registers the controller's informers (HPAs and pods) on
// cfg.Informers and returns it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil || cfg.Metrics == nil || cfg.Scales == nil || cfg.Mapper == nil {
		return nil, errors.New("podautoscaler: Client, Informers, Metrics, Scales and Mapper are required")
	}
	if cfg.SyncPeriod <= 0 {
		cfg.SyncPeriod = 15 * time.Second
	}
	if cfg.DownscaleStabilization <= 0 {
		cfg.DownscaleStabilization = 5 * time.Minute
	}
	if cfg.CPUInitialization <= 0 {
		cfg.CPUInitialization = 5 * time.Minute
	}
	if cfg.InitialReadinessDelay <= 0 {
		cfg.InitialReadinessDelay = 30 * time.Second
	}
	if cfg.Tolerance <= 0 {
		cfg.Tolerance = 0.1
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	hpaInf := cfg.Informers.Autoscaling().V2().HorizontalPodAutoscalers()
	podInf := cfg.Informers.Core().V1().Pods()
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "horizontal-pod-autoscaler"),
		hpas:   hpaInf.Lister(),
		pods:   podInf.Lister(),
		synced: []cache.InformerSynced{hpaInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[cache.ObjectName](),
			workqueue.TypedRateLimitingQueueConfig[cache.ObjectName]{Name: "horizontalpodautoscaler", Clock: cfg.Clock}),
		broadcaster: broadcaster,
		recorder:    broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "horizontal-pod-autoscaler"}),
		histories:   map[cache.ObjectName]*history{},
	}
	enqueue := func(obj any) {
		if k, err := cache.DeletionHandlingObjectToName(obj); err == nil {
			c.queue.Add(k)
		}
	}
	if _, err := hpaInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue,
		UpdateFunc: func(old, cur any) {
			// Status writes are the controller's own; only spec changes
			// call for a sync before the next period.
			if o, n := old.(*autoscalingv2.HorizontalPodAutoscaler), cur.(*autoscalingv2.HorizontalPodAutoscaler); !equality.Semantic.DeepEqual(o.Spec, n.Spec) {
				enqueue(cur)
			}
		},
		DeleteFunc: enqueue,
	}); err != nil {
		return nil, fmt.Errorf("podautoscaler: adding hpa handler: %w", err)
	}
	return c, nil
}

// Run records Events, waits for the caches to sync and runs the workers
// until ctx ends. It returns when every worker has returned.
func (c *Controller) Run(ctx context.Context) error {
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.cfg.Client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()
	if err := worker.Run(ctx, c.queue, c.cfg.Workers, c.synced, c.sync, func(k cache.ObjectName, err error) {
		c.log.Log(ctx, worker.Level(err), "sync failed", "namespace", k.Namespace, "name", k.Name, "err", err)
	}); err != nil {
		return fmt.Errorf("podautoscaler: waiting for caches: %w", err)
	}
	return nil
}

// sync reconciles one HPA and schedules its next reconciliation.
func (c *Controller) sync(ctx context.Context, key cache.ObjectName) error {
	cached, err := c.hpas.HorizontalPodAutoscalers(key.Namespace).Get(key.Name)
	if apierrors.IsNotFound(err) {
		c.mu.Lock()
		delete(c.histories, key)
		c.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	c.queue.AddAfter(key, c.cfg.SyncPeriod)
	c.mu.Lock()
	h := c.histories[key]
	if h == nil {
		h = &history{}
		c.histories[key] = h
	}
	c.mu.Unlock()
	hpa := cached.DeepCopy()
	reconcileErr := c.reconcile(ctx, hpa, h)
	if !equality.Semantic.DeepEqual(cached.Status, hpa.Status) {
		if _, err := c.cfg.Client.AutoscalingV2().HorizontalPodAutoscalers(hpa.Namespace).UpdateStatus(ctx, hpa, metav1.UpdateOptions{}); err != nil {
			c.recorder.Event(hpa, corev1.EventTypeWarning, "FailedUpdateStatus", err.Error())
			return errors.Join(reconcileErr, fmt.Errorf("updating the status of HPA %s: %w", key, err))
		}
	}
	return reconcileErr
}

// reconcile computes and applies the HPA's desired replicas, setting its
// status (written by sync). h is the HPA's history; one worker at a time
// handles a key, so it is not shared while reconcile runs.
func (c *Controller) reconcile(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler, h *history) error {
	now := c.cfg.Clock.Now()
	ref := hpa.Spec.ScaleTargetRef
	sc, gr, err := c.getScale(ctx, hpa.Namespace, ref)
	if err != nil {
		c.recorder.Event(hpa, corev1.EventTypeWarning, "FailedGetScale", err.Error())
		setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedGetScale", now, "the HPA controller was unable to get the target's current scale: %v", err)
		setStatus(hpa, hpa.Status.CurrentReplicas, hpa.Status.DesiredReplicas, hpa.Status.CurrentMetrics, false, now)
		return fmt.Errorf("getting the scale of %s %s: %w", ref.Kind, ref.Name, err)
	}
	setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale", now, "the HPA controller was able to get the target's current scale")
	current := sc.Spec.Replicas
	minReplicas := int32(1)
	if hpa.Spec.MinReplicas != nil {
		minReplicas = *hpa.Spec.MinReplicas
	}
	var (
		desired  int32
		reason   string
		statuses []autoscalingv2.MetricStatus
	)
	switch {
	case current == 0 && minReplicas != 0:
		setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", now, "scaling is disabled since the replica count of the target is zero")
	case current > hpa.Spec.MaxReplicas:
		desired, reason = hpa.Spec.MaxReplicas, "Current number of replicas above Spec.MaxReplicas"
	case current < minReplicas:
		desired, reason = minReplicas, "Current number of replicas below Spec.MinReplicas"
	default:
		proposal, metric, sts, err := c.computeReplicas(ctx, hpa, sc, current, now)
		statuses = sts
		if err != nil && proposal == -1 {
			setStatus(hpa, current, hpa.Status.DesiredReplicas, statuses, false, now)
			c.recorder.Event(hpa, corev1.EventTypeWarning, "FailedComputeMetricsReplicas", err.Error())
			return fmt.Errorf("computing replicas: %w", err)
		}
		desired = proposal
		switch {
		case desired > current:
			reason = metric + " above target"
		case desired < current:
			reason = "All metrics below target"
		}
		desired = c.normalize(hpa, h, current, desired, minReplicas, now)
	}
	rescale := desired != current && !(current == 0 && minReplicas != 0)
	if !rescale {
		if current == 0 && minReplicas != 0 {
			desired = 0
		}
		setStatus(hpa, current, desired, statuses, false, now)
		return nil
	}
	sc.Spec.Replicas = desired
	if _, err := c.cfg.Scales.Scales(hpa.Namespace).Update(ctx, gr, sc, metav1.UpdateOptions{}); err != nil {
		c.recorder.Eventf(hpa, corev1.EventTypeWarning, "FailedRescale", "New size: %d; reason: %s; error: %v", desired, reason, err)
		setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedUpdateScale", now, "the HPA controller was unable to update the target scale: %v", err)
		setStatus(hpa, current, hpa.Status.DesiredReplicas, statuses, false, now)
		return fmt.Errorf("updating the scale of %s %s: %w", ref.Kind, ref.Name, err)
	}
	setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale", now, "the HPA controller was able to update the target scale to %d", desired)
	c.recorder.Eventf(hpa, corev1.EventTypeNormal, "SuccessfulRescale", "New size: %d; reason: %s", desired, reason)
	if hpa.Spec.Behavior != nil {
		h.record(defaultBehavior(hpa.Spec.Behavior, c.cfg.DownscaleStabilization), current, desired, now)
	}
	setStatus(hpa, current, desired, statuses, true, now)
	return nil
}

// normalize stabilizes and limits a proposal, setting the AbleToScale and
// ScalingLimited conditions, with the HPA's behavior or, without one, as
// upstream does for HPAs without behavior.
func (c *Controller) normalize(hpa *autoscalingv2.HorizontalPodAutoscaler, h *history, current, desired, minReplicas int32, now time.Time) int32 {
	l := limits{current: current, min: minReplicas, max: hpa.Spec.MaxReplicas}
	var stabilized, limited int32
	var reason, message, limitReason, limitMessage string
	if hpa.Spec.Behavior == nil {
		stabilized, reason, message = stabilizeLegacy(h, c.cfg.DownscaleStabilization, desired, now)
		limited, limitReason, limitMessage = limitLegacy(l, stabilized)
	} else {
		b := defaultBehavior(hpa.Spec.Behavior, c.cfg.DownscaleStabilization)
		stabilized, reason, message = stabilize(h, b, current, desired, now)
		limited, limitReason, limitMessage = limitRate(h, b, l, stabilized, now)
	}
	setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, reason, now, "%s", message)
	status := corev1.ConditionFalse
	if limited != stabilized {
		status = corev1.ConditionTrue
	}
	setCondition(hpa, autoscalingv2.ScalingLimited, status, limitReason, now, "%s", limitMessage)
	return limited
}

// getScale reads the target's scale through the first of its kind's
// resources that serves one.
func (c *Controller) getScale(ctx context.Context, namespace string, ref autoscalingv2.CrossVersionObjectReference) (*autoscalingv1.Scale, schema.GroupResource, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil, schema.GroupResource{}, err
	}
	mappings, err := c.cfg.Mapper.RESTMappings(schema.GroupKind{Group: gv.Group, Kind: ref.Kind})
	if err != nil {
		return nil, schema.GroupResource{}, err
	}
	var errs []error
	for _, m := range mappings {
		gr := m.Resource.GroupResource()
		sc, err := c.cfg.Scales.Scales(namespace).Get(ctx, gr, ref.Name, metav1.GetOptions{})
		if err == nil {
			return sc, gr, nil
		}
		errs = append(errs, err)
	}
	return nil, schema.GroupResource{}, errors.Join(errs...)
}

// computeReplicas is the highest replica count the HPA's metrics ask
// for, the name of the metric asking it, and the metrics' statuses. It
// returns -1 and an error when every metric failed, or some did and the
// others would scale down, as upstream; it sets ScalingActive.
func (c *Controller) computeReplicas(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler, sc *autoscalingv1.Scale, current int32, now time.Time) (int32, string, []autoscalingv2.MetricStatus, error) {
	if sc.Status.Selector == "" {
		c.recorder.Event(hpa, corev1.EventTypeWarning, "SelectorRequired", "selector is required")
		setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionFalse, "InvalidSelector", now, "the HPA target's scale is missing a selector")
		return -1, "", nil, errors.New("selector is required")
	}
	selector, err := labels.Parse(sc.Status.Selector)
	if err != nil {
		c.recorder.Event(hpa, corev1.EventTypeWarning, "InvalidSelector", err.Error())
		setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionFalse, "InvalidSelector", now, "the HPA target's scale has an invalid selector: %v", err)
		return -1, "", nil, fmt.Errorf("parsing the scale's selector: %w", err)
	}
	pods, err := c.pods.Pods(hpa.Namespace).List(selector)
	if err != nil {
		return -1, "", nil, err
	}
	var items []metricsapi.PodMetrics
	var metricsErr error
	replicas, name := int32(-1), ""
	statuses := make([]autoscalingv2.MetricStatus, len(hpa.Spec.Metrics))
	invalid := 0
	var firstErr error
	fail := func(reason string, err error) {
		invalid++
		if firstErr == nil {
			firstErr = err
		}
		c.recorder.Event(hpa, corev1.EventTypeWarning, reason, err.Error())
		setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionFalse, reason, now, "the HPA was unable to compute the replica count: %v", err)
	}
	for i, spec := range hpa.Spec.Metrics {
		var (
			res       corev1.ResourceName
			container string
			target    autoscalingv2.MetricTarget
			kind      = "resource"
		)
		switch {
		case spec.Type == autoscalingv2.ResourceMetricSourceType && spec.Resource != nil:
			res, target = spec.Resource.Name, spec.Resource.Target
		case spec.Type == autoscalingv2.ContainerResourceMetricSourceType && spec.ContainerResource != nil:
			res, container, target, kind = spec.ContainerResource.Name, spec.ContainerResource.Container, spec.ContainerResource.Target, "container resource"
		default:
			fail("InvalidMetricSourceType", fmt.Errorf("unsupported metric source type %q", spec.Type))
			continue
		}
		reason := "FailedGetResourceMetric"
		if container != "" {
			reason = "FailedGetContainerResourceMetric"
		}
		if items == nil && metricsErr == nil {
			items, metricsErr = c.podMetrics(ctx, hpa.Namespace, selector)
		}
		if metricsErr != nil {
			fail(reason, metricsErr)
			continue
		}
		s := snapshot{pods: pods, metrics: usageOf(items, res, container), resource: res, container: container, now: now,
			tolerance: c.cfg.Tolerance, cpuInitialization: c.cfg.CPUInitialization, readinessDelay: c.cfg.InitialReadinessDelay}
		var proposal int32
		var value autoscalingv2.MetricValueStatus
		var metricName string
		switch {
		case target.AverageValue != nil:
			p, avg, err := averageValueReplicas(current, target.AverageValue.MilliValue(), s)
			if err != nil {
				fail(reason, fmt.Errorf("failed to get %s usage: %w", res, err))
				continue
			}
			proposal, metricName, value = p, fmt.Sprintf("%s %s", res, kind), autoscalingv2.MetricValueStatus{AverageValue: milli(avg)}
		case target.AverageUtilization != nil:
			p, percent, avg, err := resourceReplicas(current, *target.AverageUtilization, s)
			if err != nil {
				fail(reason, fmt.Errorf("failed to get %s utilization: %w", res, err))
				continue
			}
			proposal, metricName = p, fmt.Sprintf("%s %s utilization (percentage of request)", res, kind)
			value = autoscalingv2.MetricValueStatus{AverageUtilization: &percent, AverageValue: milli(avg)}
		default:
			fail(reason, fmt.Errorf("invalid resource metric source: neither an average utilization target nor an average value target was set"))
			continue
		}
		statuses[i] = autoscalingv2.MetricStatus{Type: spec.Type}
		if container != "" {
			statuses[i].ContainerResource = &autoscalingv2.ContainerResourceMetricStatus{Name: res, Container: container, Current: value}
		} else {
			statuses[i].Resource = &autoscalingv2.ResourceMetricStatus{Name: res, Current: value}
		}
		if replicas == -1 || proposal > replicas {
			replicas, name = proposal, metricName
		}
	}
	if invalid == len(hpa.Spec.Metrics) || invalid > 0 && replicas < current {
		return -1, "", statuses, fmt.Errorf("invalid metrics (%d invalid out of %d), first error is: %w", invalid, len(hpa.Spec.Metrics), firstErr)
	}
	setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound", now, "the HPA was able to successfully calculate a replica count from %s", name)
	return replicas, name, statuses, nil
}

func milli(v int64) *resource.Quantity { return resource.NewMilliQuantity(v, resource.DecimalSI) }

// podMetrics reads the pods' metrics.
func (c *Controller) podMetrics(ctx context.Context, namespace string, selector labels.Selector) ([]metricsapi.PodMetrics, error) {
	list, err := c.cfg.Metrics.PodMetricses(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return nil, fmt.Errorf("unable to fetch metrics from resource metrics API: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, errors.New("no metrics returned from resource metrics API")
	}
	return list.Items, nil
}

// usageOf is each pod's usage of res in milli-units: summed over its
// containers, or the named container's. A pod missing the resource in a
// container it counts, or missing the named container, has none, as with
// upstream's metrics client.
func usageOf(items []metricsapi.PodMetrics, res corev1.ResourceName, container string) map[string]podMetric {
	out := map[string]podMetric{}
	for _, m := range items {
		var sum int64
		counted, complete := 0, true
		for _, ctr := range m.Containers {
			if container != "" && ctr.Name != container {
				continue
			}
			q, ok := ctr.Usage[res]
			if !ok {
				complete = false
				break
			}
			sum += q.MilliValue()
			counted++
		}
		if complete && counted > 0 {
			out[m.Name] = podMetric{Value: sum, Timestamp: m.Timestamp.Time, Window: m.Window.Duration}
		}
	}
	return out
}

// setStatus sets the HPA's replica counts and metrics, and its last scale
// time when it rescaled.
func setStatus(hpa *autoscalingv2.HorizontalPodAutoscaler, current, desired int32, metrics []autoscalingv2.MetricStatus, rescaled bool, now time.Time) {
	hpa.Status.CurrentReplicas, hpa.Status.DesiredReplicas, hpa.Status.CurrentMetrics = current, desired, metrics
	if rescaled {
		t := metav1.NewTime(now)
		hpa.Status.LastScaleTime = &t
	}
}

// setCondition sets a condition, moving its transition time only when its
// status changes.
func setCondition(hpa *autoscalingv2.HorizontalPodAutoscaler, typ autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus, reason string, now time.Time, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	for i := range hpa.Status.Conditions {
		cond := &hpa.Status.Conditions[i]
		if cond.Type != typ {
			continue
		}
		if cond.Status != status {
			cond.LastTransitionTime = metav1.NewTime(now)
		}
		cond.Status, cond.Reason, cond.Message = status, reason, msg
		return
	}
	hpa.Status.Conditions = append(hpa.Status.Conditions, autoscalingv2.HorizontalPodAutoscalerCondition{
		Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(now)})
}
