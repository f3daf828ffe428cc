package registry

import (
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	coordinationv1 "k8s.io/api/coordination/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestValidateStorageAndScheduling(t *testing.T) {
	sc := &storagev1.StorageClass{Provisioner: "rancher.io/local-path", Parameters: map[string]string{"path": "/data"}}
	runChecks(t, schema.GroupKind{Group: "storage.k8s.io", Kind: "StorageClass"}, []checkCase{
		{name: "valid", obj: sc},
		{name: "provisioner required", obj: &storagev1.StorageClass{}, want: want("FieldValueRequired provisioner")},
		{name: "binding mode", obj: &storagev1.StorageClass{Provisioner: "p", VolumeBindingMode: new(storagev1.VolumeBindingMode("Later"))},
			want: want("FieldValueNotSupported volumeBindingMode")},
		{name: "parameters immutable", obj: &storagev1.StorageClass{Provisioner: sc.Provisioner}, old: sc, want: want("FieldValueForbidden parameters")},
	})
	runChecks(t, schema.GroupKind{Group: "scheduling.k8s.io", Kind: "PriorityClass"}, []checkCase{
		{name: "valid", obj: &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000}},
		{name: "system class", obj: &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical"}, Value: 2000001000}},
		{name: "unknown system class", obj: &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-mine"}, Value: 1},
			want: want("FieldValueForbidden metadata.name")},
		{name: "too high", obj: &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "huge"}, Value: 1000000001},
			want: want("FieldValueForbidden value")},
		{name: "value immutable", obj: &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 2},
			old: &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1}, want: want("FieldValueForbidden value")},
	})
	runChecks(t, schema.GroupKind{Group: "node.k8s.io", Kind: "RuntimeClass"}, []checkCase{
		{name: "valid", obj: &nodev1.RuntimeClass{Handler: "crun"}},
		{name: "handler", obj: &nodev1.RuntimeClass{Handler: "Crun_1"}, want: want("FieldValueInvalid handler")},
		{name: "handler immutable", obj: &nodev1.RuntimeClass{Handler: "runc"}, old: &nodev1.RuntimeClass{Handler: "crun"}, want: want("FieldValueInvalid handler")},
	})
	runChecks(t, schema.GroupKind{Group: "coordination.k8s.io", Kind: "Lease"}, []checkCase{
		{name: "valid", obj: &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: new("n1"), LeaseDurationSeconds: new(int32(40))}}},
		{name: "duration and holder", obj: &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: new(int32(0)), PreferredHolder: new("n2")}},
			want: want("FieldValueInvalid spec.leaseDurationSeconds", "FieldValueForbidden spec.preferredHolder")},
	})
}

func TestValidatePolicyAndAutoscaling(t *testing.T) {
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	runChecks(t, schema.GroupKind{Group: "policy", Kind: "PodDisruptionBudget"}, []checkCase{
		{name: "valid", obj: &policyv1.PodDisruptionBudget{Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: new(intstr.FromString("50%")), Selector: selector}}},
		{name: "both set", obj: &policyv1.PodDisruptionBudget{Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: new(intstr.FromInt32(1)), MaxUnavailable: new(intstr.FromString("150%")), Selector: selector,
		}}, want: want("FieldValueInvalid spec", "FieldValueInvalid spec.maxUnavailable")},
	})
	hpa := schema.GroupKind{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}
	target := autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}
	runChecks(t, hpa, []checkCase{
		{name: "valid v2", obj: &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: target, MaxReplicas: 5}}},
		{name: "valid v1", obj: &autoscalingv1.HorizontalPodAutoscaler{Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "web"}, MaxReplicas: 3,
		}}},
		{name: "min above max", obj: &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: target, MinReplicas: new(int32(4)), MaxReplicas: 2,
		}}, want: want("FieldValueInvalid spec.maxReplicas")},
		{name: "target required", obj: &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 2}},
			want: want("FieldValueRequired spec.scaleTargetRef.kind", "FieldValueRequired spec.scaleTargetRef.name")},
		{name: "metric source mismatch", obj: &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: target, MaxReplicas: 2,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: "cpu"}}},
		}}, want: want("FieldValueForbidden spec.metrics[0].resource", "FieldValueRequired spec.metrics[0].pods")},
		{name: "v1 cpu target", obj: &autoscalingv1.HorizontalPodAutoscaler{Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "web"}, MaxReplicas: 3, TargetCPUUtilizationPercentage: new(int32(0)),
		}}, want: want("FieldValueInvalid spec.targetCPUUtilizationPercentage")},
	})
}
