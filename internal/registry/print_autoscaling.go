package registry

import (
	"fmt"
	"strings"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// hpaMetricsMax is how many metrics the TARGETS cell shows.
const hpaMetricsMax = 2

// horizontalPodAutoscalerTable serves both autoscaling/v1 and
// autoscaling/v2 objects, which share the GroupKind.
func horizontalPodAutoscalerTable() table {
	spec, status := autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc(), autoscalingv2.HorizontalPodAutoscalerStatus{}.SwaggerDoc()
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Reference", "string", spec["scaleTargetRef"]),
			column("Targets", "string", spec["metrics"]),
			column("MinPods", "string", spec["minReplicas"]),
			column("MaxPods", "string", spec["maxReplicas"]),
			column("Replicas", "string", status["currentReplicas"]),
			ageColumn(),
		},
		row: func(obj runtime.Object, now time.Time) []any {
			switch h := obj.(type) {
			case *autoscalingv2.HorizontalPodAutoscaler:
				return hpaRow(h.Name, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name,
					hpaTargets(h.Spec.Metrics, h.Status.CurrentMetrics), h.Spec.MinReplicas, h.Spec.MaxReplicas,
					h.Status.CurrentReplicas, since(h.CreationTimestamp, now))
			case *autoscalingv1.HorizontalPodAutoscaler:
				return hpaRow(h.Name, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name,
					hpaTargetsV1(h), h.Spec.MinReplicas, h.Spec.MaxReplicas,
					h.Status.CurrentReplicas, since(h.CreationTimestamp, now))
			}
			return nil
		},
	}
}

func hpaRow(name, kind, target, targets string, minReplicas *int32, maxReplicas, current int32, age string) []any {
	minPods := "<unset>"
	if minReplicas != nil {
		minPods = fmt.Sprintf("%d", *minReplicas)
	}
	return []any{name, kind + "/" + target, targets, minPods, int64(maxReplicas), int64(current), age}
}

// hpaTargetsV1 shows an autoscaling/v1 object as its autoscaling/v2 form
// does: the CPU target is a resource utilization metric.
func hpaTargetsV1(h *autoscalingv1.HorizontalPodAutoscaler) string {
	var specs []autoscalingv2.MetricSpec
	var statuses []autoscalingv2.MetricStatus
	if t := h.Spec.TargetCPUUtilizationPercentage; t != nil {
		specs = []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{
				Name:   corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: t},
			},
		}}
	}
	if c := h.Status.CurrentCPUUtilizationPercentage; c != nil {
		statuses = []autoscalingv2.MetricStatus{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{
				Name:    corev1.ResourceCPU,
				Current: autoscalingv2.MetricValueStatus{AverageUtilization: c},
			},
		}}
	}
	return hpaTargets(specs, statuses)
}

// hpaTargets is the TARGETS cell: "current/target" per metric, the status
// at the same index giving the current value ("<unknown>" without one),
// at most two metrics and how many more there are; "<none>" without
// metrics.
func hpaTargets(specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) string {
	if len(specs) == 0 {
		return "<none>"
	}
	list := make([]string, 0, len(specs))
	for i, spec := range specs {
		var st *autoscalingv2.MetricStatus
		if i < len(statuses) {
			st = &statuses[i]
		}
		list = append(list, hpaMetric(spec, st))
	}
	if len(list) > hpaMetricsMax {
		return fmt.Sprintf("%s + %d more...", strings.Join(list[:hpaMetricsMax], ", "), len(list)-hpaMetricsMax)
	}
	return strings.Join(list, ", ")
}

// hpaMetric formats one metric; st is its status, or nil.
func hpaMetric(spec autoscalingv2.MetricSpec, st *autoscalingv2.MetricStatus) string {
	const unknown = "<unknown>"
	switch spec.Type {
	case autoscalingv2.ExternalMetricSourceType:
		if spec.External == nil {
			break
		}
		if t := spec.External.Target; t.AverageValue != nil {
			current := unknown
			if st != nil && st.External != nil && st.External.Current.AverageValue != nil {
				current = st.External.Current.AverageValue.String()
			}
			return fmt.Sprintf("%s/%s (avg)", current, t.AverageValue.String())
		}
		current := unknown
		if st != nil && st.External != nil {
			current = st.External.Current.Value.String()
		}
		return fmt.Sprintf("%s/%s", current, spec.External.Target.Value.String())
	case autoscalingv2.PodsMetricSourceType:
		if spec.Pods == nil {
			break
		}
		current := unknown
		if st != nil && st.Pods != nil {
			current = st.Pods.Current.AverageValue.String()
		}
		return fmt.Sprintf("%s/%s", current, spec.Pods.Target.AverageValue.String())
	case autoscalingv2.ObjectMetricSourceType:
		if spec.Object == nil {
			break
		}
		if t := spec.Object.Target; t.AverageValue != nil {
			current := unknown
			if st != nil && st.Object != nil && st.Object.Current.AverageValue != nil {
				current = st.Object.Current.AverageValue.String()
			}
			return fmt.Sprintf("%s/%s (avg)", current, t.AverageValue.String())
		}
		current := unknown
		if st != nil && st.Object != nil {
			current = st.Object.Current.Value.String()
		}
		return fmt.Sprintf("%s/%s", current, spec.Object.Target.Value.String())
	case autoscalingv2.ResourceMetricSourceType:
		if spec.Resource == nil {
			break
		}
		var current *autoscalingv2.MetricValueStatus
		if st != nil && st.Resource != nil {
			current = &st.Resource.Current
		}
		return resourceMetric(spec.Resource.Name, spec.Resource.Target, current)
	case autoscalingv2.ContainerResourceMetricSourceType:
		if spec.ContainerResource == nil {
			break
		}
		var current *autoscalingv2.MetricValueStatus
		if st != nil && st.ContainerResource != nil {
			current = &st.ContainerResource.Current
		}
		return resourceMetric(spec.ContainerResource.Name, spec.ContainerResource.Target, current)
	}
	return "<unknown type>"
}

// resourceMetric is "name: current/target" for an average value, or for
// a utilization in percent ("<auto>" without a target utilization).
func resourceMetric(name corev1.ResourceName, target autoscalingv2.MetricTarget, current *autoscalingv2.MetricValueStatus) string {
	if target.AverageValue != nil {
		cur := "<unknown>"
		if current != nil {
			cur = current.AverageValue.String()
		}
		return fmt.Sprintf("%s: %s/%s", name, cur, target.AverageValue.String())
	}
	cur := "<unknown>"
	if current != nil && current.AverageUtilization != nil {
		cur = fmt.Sprintf("%d%%", *current.AverageUtilization)
	}
	want := "<auto>"
	if target.AverageUtilization != nil {
		want = fmt.Sprintf("%d%%", *target.AverageUtilization)
	}
	return fmt.Sprintf("%s: %s/%s", name, cur, want)
}
