package registry

import (
	"encoding/json"
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Conversion makes a resource a second version of another one: its objects
// are stored as Storage's, converted on the way in and out, as upstream
// stores events.k8s.io Events as core Events.
type Conversion struct {
	Storage     schema.GroupVersionResource
	ToStorage   func(runtime.Object) (runtime.Object, error)
	FromStorage func(runtime.Object) (runtime.Object, error)
}

var (
	coreEvents = schema.GroupVersionResource{Version: "v1", Resource: "events"}
	hpaV2      = autoscalingv2.SchemeGroupVersion.WithResource("horizontalpodautoscalers")
)

func eventsConversion() *Conversion {
	return &Conversion{
		Storage: coreEvents,
		ToStorage: func(obj runtime.Object) (runtime.Object, error) {
			in, ok := obj.(*eventsv1.Event)
			if !ok {
				return nil, fmt.Errorf("want *eventsv1.Event, got %T", obj)
			}
			return eventToCore(in), nil
		},
		FromStorage: func(obj runtime.Object) (runtime.Object, error) {
			in, ok := obj.(*corev1.Event)
			if !ok {
				return nil, fmt.Errorf("want *corev1.Event, got %T", obj)
			}
			return eventFromCore(in), nil
		},
	}
}

// eventToCore maps events.k8s.io/v1 fields onto core/v1 ones as upstream.
func eventToCore(in *eventsv1.Event) *corev1.Event {
	out := &corev1.Event{
		ObjectMeta:          *in.ObjectMeta.DeepCopy(),
		InvolvedObject:      in.Regarding,
		Reason:              in.Reason,
		Message:             in.Note,
		Source:              in.DeprecatedSource,
		FirstTimestamp:      in.DeprecatedFirstTimestamp,
		LastTimestamp:       in.DeprecatedLastTimestamp,
		Count:               in.DeprecatedCount,
		Type:                in.Type,
		EventTime:           in.EventTime,
		Action:              in.Action,
		ReportingController: in.ReportingController,
		ReportingInstance:   in.ReportingInstance,
	}
	if in.Related != nil {
		r := *in.Related
		out.Related = &r
	}
	if in.Series != nil {
		out.Series = &corev1.EventSeries{Count: in.Series.Count, LastObservedTime: in.Series.LastObservedTime}
	}
	out.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Event"))
	return out
}

func eventFromCore(in *corev1.Event) *eventsv1.Event {
	out := &eventsv1.Event{
		ObjectMeta:               *in.ObjectMeta.DeepCopy(),
		EventTime:                in.EventTime,
		ReportingController:      in.ReportingController,
		ReportingInstance:        in.ReportingInstance,
		Action:                   in.Action,
		Reason:                   in.Reason,
		Regarding:                in.InvolvedObject,
		Note:                     in.Message,
		Type:                     in.Type,
		DeprecatedSource:         in.Source,
		DeprecatedFirstTimestamp: in.FirstTimestamp,
		DeprecatedLastTimestamp:  in.LastTimestamp,
		DeprecatedCount:          in.Count,
	}
	if in.Related != nil {
		r := *in.Related
		out.Related = &r
	}
	if in.Series != nil {
		out.Series = &eventsv1.EventSeries{Count: in.Series.Count, LastObservedTime: in.Series.LastObservedTime}
	}
	out.SetGroupVersionKind(eventsv1.SchemeGroupVersion.WithKind("Event"))
	return out
}

// Annotations in which autoscaling/v1 keeps what only v2 can say, as upstream.
const (
	hpaMetricsAnnotation        = "autoscaling.alpha.kubernetes.io/metrics"
	hpaCurrentMetricsAnnotation = "autoscaling.alpha.kubernetes.io/current-metrics"
	hpaConditionsAnnotation     = "autoscaling.alpha.kubernetes.io/conditions"
	hpaBehaviorAnnotation       = "autoscaling.alpha.kubernetes.io/behavior"
)

func hpaConversion() *Conversion {
	return &Conversion{
		Storage: hpaV2,
		ToStorage: func(obj runtime.Object) (runtime.Object, error) {
			in, ok := obj.(*autoscalingv1.HorizontalPodAutoscaler)
			if !ok {
				return nil, fmt.Errorf("want *autoscalingv1.HorizontalPodAutoscaler, got %T", obj)
			}
			return hpaToV2(in)
		},
		FromStorage: func(obj runtime.Object) (runtime.Object, error) {
			in, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
			if !ok {
				return nil, fmt.Errorf("want *autoscalingv2.HorizontalPodAutoscaler, got %T", obj)
			}
			return hpaToV1(in)
		},
	}
}

func isCPUUtilization(m autoscalingv2.MetricSpec) bool {
	return m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
		m.Resource.Target.Type == autoscalingv2.UtilizationMetricType && m.Resource.Target.AverageUtilization != nil
}

// hpaToV1 keeps the CPU utilization target in v1's fields and everything
// else v2 holds in annotations, so that a v1 round trip loses nothing.
func hpaToV1(in *autoscalingv2.HorizontalPodAutoscaler) (*autoscalingv1.HorizontalPodAutoscaler, error) {
	out := &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: *in.ObjectMeta.DeepCopy()}
	out.Spec = autoscalingv1.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv1.CrossVersionObjectReference(in.Spec.ScaleTargetRef),
		MinReplicas:    in.Spec.MinReplicas,
		MaxReplicas:    in.Spec.MaxReplicas,
	}
	var others []autoscalingv2.MetricSpec
	for _, m := range in.Spec.Metrics {
		if out.Spec.TargetCPUUtilizationPercentage == nil && isCPUUtilization(m) {
			v := *m.Resource.Target.AverageUtilization
			out.Spec.TargetCPUUtilizationPercentage = &v
			continue
		}
		others = append(others, m)
	}
	out.Status = autoscalingv1.HorizontalPodAutoscalerStatus{
		ObservedGeneration: in.Status.ObservedGeneration,
		LastScaleTime:      in.Status.LastScaleTime,
		CurrentReplicas:    in.Status.CurrentReplicas,
		DesiredReplicas:    in.Status.DesiredReplicas,
	}
	var otherCurrent []autoscalingv2.MetricStatus
	for _, m := range in.Status.CurrentMetrics {
		if out.Status.CurrentCPUUtilizationPercentage == nil && m.Type == autoscalingv2.ResourceMetricSourceType &&
			m.Resource != nil && m.Resource.Name == corev1.ResourceCPU && m.Resource.Current.AverageUtilization != nil {
			v := *m.Resource.Current.AverageUtilization
			out.Status.CurrentCPUUtilizationPercentage = &v
			continue
		}
		otherCurrent = append(otherCurrent, m)
	}
	for key, v := range map[string]any{
		hpaMetricsAnnotation:        others,
		hpaCurrentMetricsAnnotation: otherCurrent,
		hpaConditionsAnnotation:     in.Status.Conditions,
		hpaBehaviorAnnotation:       in.Spec.Behavior,
	} {
		if err := setJSONAnnotation(&out.ObjectMeta, key, v); err != nil {
			return nil, err
		}
	}
	out.SetGroupVersionKind(autoscalingv1.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"))
	return out, nil
}

func hpaToV2(in *autoscalingv1.HorizontalPodAutoscaler) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	out := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: *in.ObjectMeta.DeepCopy()}
	out.Spec = autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference(in.Spec.ScaleTargetRef),
		MinReplicas:    in.Spec.MinReplicas,
		MaxReplicas:    in.Spec.MaxReplicas,
	}
	if t := in.Spec.TargetCPUUtilizationPercentage; t != nil {
		v := *t
		out.Spec.Metrics = append(out.Spec.Metrics, autoscalingv2.MetricSpec{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &v}},
		})
	}
	out.Status = autoscalingv2.HorizontalPodAutoscalerStatus{
		ObservedGeneration: in.Status.ObservedGeneration,
		LastScaleTime:      in.Status.LastScaleTime,
		CurrentReplicas:    in.Status.CurrentReplicas,
		DesiredReplicas:    in.Status.DesiredReplicas,
	}
	if c := in.Status.CurrentCPUUtilizationPercentage; c != nil {
		v := *c
		out.Status.CurrentMetrics = append(out.Status.CurrentMetrics, autoscalingv2.MetricStatus{
			Type:     autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: &v}},
		})
	}
	var others []autoscalingv2.MetricSpec
	var otherCurrent []autoscalingv2.MetricStatus
	if err := takeJSONAnnotation(&out.ObjectMeta, hpaMetricsAnnotation, &others); err != nil {
		return nil, err
	}
	if err := takeJSONAnnotation(&out.ObjectMeta, hpaCurrentMetricsAnnotation, &otherCurrent); err != nil {
		return nil, err
	}
	if err := takeJSONAnnotation(&out.ObjectMeta, hpaConditionsAnnotation, &out.Status.Conditions); err != nil {
		return nil, err
	}
	if err := takeJSONAnnotation(&out.ObjectMeta, hpaBehaviorAnnotation, &out.Spec.Behavior); err != nil {
		return nil, err
	}
	out.Spec.Metrics = append(out.Spec.Metrics, others...)
	out.Status.CurrentMetrics = append(out.Status.CurrentMetrics, otherCurrent...)
	out.SetGroupVersionKind(hpaV2.GroupVersion().WithKind("HorizontalPodAutoscaler"))
	return out, nil
}

// setJSONAnnotation stores v as JSON under key, unless v is empty.
func setJSONAnnotation(m *metav1.ObjectMeta, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if s := string(b); s == "null" || s == "[]" || s == "{}" {
		return nil
	}
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[key] = string(b)
	return nil
}

// takeJSONAnnotation decodes and removes the annotation key, if present.
func takeJSONAnnotation(m *metav1.ObjectMeta, key string, into any) error {
	s, ok := m.Annotations[key]
	if !ok {
		return nil
	}
	delete(m.Annotations, key)
	if len(m.Annotations) == 0 {
		m.Annotations = nil
	}
	if err := json.Unmarshal([]byte(s), into); err != nil {
		return fmt.Errorf("annotation %s: %w", key, err)
	}
	return nil
}
