package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestHPARoundTripThroughV1(t *testing.T) {
	v2 := &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"a": "b"}},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "web", APIVersion: "apps/v1"},
			MinReplicas:    ptr.To[int32](2),
			MaxReplicas:    9,
			Metrics: []autoscalingv2.MetricSpec{
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](70)}}},
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("500Mi"))}}},
			},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](60)}},
		},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{
			CurrentReplicas: 3, DesiredReplicas: 4,
			CurrentMetrics: []autoscalingv2.MetricStatus{{Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr.To[int32](55)}}}},
			Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{{Type: autoscalingv2.AbleToScale, Status: corev1.ConditionTrue, Reason: "ReadyForNewScale"}},
		},
	}
	c := hpaConversion()
	v1obj, err := c.FromStorage(v2)
	if err != nil {
		t.Fatal(err)
	}
	v1 := v1obj.(*autoscalingv1.HorizontalPodAutoscaler)
	if got := v1.Spec.TargetCPUUtilizationPercentage; got == nil || *got != 70 {
		t.Errorf("v1 CPU target = %v, want 70", got)
	}
	if got := v1.Status.CurrentCPUUtilizationPercentage; got == nil || *got != 55 {
		t.Errorf("v1 current CPU = %v, want 55", got)
	}
	back, err := c.ToStorage(v1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(v2, back); diff != "" {
		t.Errorf("v2 → v1 → v2 changed the object (-want +got):\n%s", diff)
	}
}

func TestEventRoundTripThroughEventsV1(t *testing.T) {
	ev := &corev1.Event{
		TypeMeta:            metav1.TypeMeta{APIVersion: "v1", Kind: "Event"},
		ObjectMeta:          metav1.ObjectMeta{Name: "e", Namespace: "default"},
		InvolvedObject:      corev1.ObjectReference{Kind: "Pod", Name: "p", Namespace: "default", UID: "u1"},
		Related:             &corev1.ObjectReference{Kind: "Node", Name: "n1"},
		Reason:              "Scheduled",
		Message:             "assigned",
		Source:              corev1.EventSource{Component: "default-scheduler"},
		Count:               3,
		Type:                corev1.EventTypeNormal,
		Action:              "Binding",
		ReportingController: "default-scheduler",
		ReportingInstance:   "s-1",
		Series:              &corev1.EventSeries{Count: 2},
	}
	c := eventsConversion()
	out, err := c.FromStorage(ev)
	if err != nil {
		t.Fatal(err)
	}
	back, err := c.ToStorage(out)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ev, back); diff != "" {
		t.Errorf("core → events.k8s.io → core changed the event (-want +got):\n%s", diff)
	}
}
