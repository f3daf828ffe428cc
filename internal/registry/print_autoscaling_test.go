package registry

import (
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

func TestHPAMetric(t *testing.T) {
	q := func(s string) *resource.Quantity { return ptr.To(resource.MustParse(s)) }
	tests := []struct {
		name   string
		spec   autoscalingv2.MetricSpec
		status *autoscalingv2.MetricStatus
		want   string
	}{
		{"cpu utilization without status", autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{AverageUtilization: ptr.To[int32](80)},
		}}, nil, "cpu: <unknown>/80%"},
		{"cpu utilization without target", autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU,
		}}, &autoscalingv2.MetricStatus{Resource: &autoscalingv2.ResourceMetricStatus{Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr.To[int32](5)}}}, "cpu: 5%/<auto>"},
		{"container memory average value", autoscalingv2.MetricSpec{Type: autoscalingv2.ContainerResourceMetricSourceType, ContainerResource: &autoscalingv2.ContainerResourceMetricSource{
			Name: corev1.ResourceMemory, Container: "app", Target: autoscalingv2.MetricTarget{AverageValue: q("512Mi")},
		}}, &autoscalingv2.MetricStatus{ContainerResource: &autoscalingv2.ContainerResourceMetricStatus{Current: autoscalingv2.MetricValueStatus{AverageValue: q("100Mi")}}}, "memory: 100Mi/512Mi"},
		{"external value", autoscalingv2.MetricSpec{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
			Target: autoscalingv2.MetricTarget{Value: q("30")},
		}}, nil, "<unknown>/30"},
		{"external average", autoscalingv2.MetricSpec{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
			Target: autoscalingv2.MetricTarget{AverageValue: q("30")},
		}}, &autoscalingv2.MetricStatus{External: &autoscalingv2.ExternalMetricStatus{Current: autoscalingv2.MetricValueStatus{AverageValue: q("12")}}}, "12/30 (avg)"},
		{"object value", autoscalingv2.MetricSpec{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
			Target: autoscalingv2.MetricTarget{Value: q("2k")},
		}}, &autoscalingv2.MetricStatus{Object: &autoscalingv2.ObjectMetricStatus{Current: autoscalingv2.MetricValueStatus{Value: q("1500")}}}, "1500/2k"},
		{"unknown type", autoscalingv2.MetricSpec{Type: "Quantum"}, nil, "<unknown type>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hpaMetric(tt.spec, tt.status); got != tt.want {
				t.Errorf("hpaMetric = %q, want %q", got, tt.want)
			}
		})
	}
}

func autoscalingGolden() map[schema.GroupKind][]runtime.Object {
	q := func(s string) *resource.Quantity { return ptr.To(resource.MustParse(s)) }
	target := autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}
	v2 := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: om("web", 3*time.Hour),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: target, MinReplicas: ptr.To[int32](2), MaxReplicas: 10,
			Metrics: []autoscalingv2.MetricSpec{
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
					Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](70)},
				}},
				{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: q("100")},
				}},
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
					Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: q("1Gi")},
				}},
			},
		},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{
			CurrentReplicas: 4,
			CurrentMetrics: []autoscalingv2.MetricStatus{
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
					Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr.To[int32](45)},
				}},
				{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricStatus{Current: autoscalingv2.MetricValueStatus{AverageValue: q("80")}}},
			},
		},
	}
	bare := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: om("bare", time.Minute),
		Spec:       autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: target, MaxReplicas: 3},
	}
	v1 := &autoscalingv1.HorizontalPodAutoscaler{
		ObjectMeta: om("legacy", 2*time.Hour),
		Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: "StatefulSet", Name: "db"},
			MinReplicas:    ptr.To[int32](1), MaxReplicas: 5, TargetCPUUtilizationPercentage: ptr.To[int32](80),
		},
		Status: autoscalingv1.HorizontalPodAutoscalerStatus{CurrentReplicas: 1, CurrentCPUUtilizationPercentage: ptr.To[int32](12)},
	}
	v1NoTarget := &autoscalingv1.HorizontalPodAutoscaler{
		ObjectMeta: om("legacy-bare", 2*time.Hour),
		Spec:       autoscalingv1.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "web"}, MaxReplicas: 2},
	}
	return map[schema.GroupKind][]runtime.Object{
		{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}: {v2, bare, v1, v1NoTarget},
	}
}
