package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
)

func TestDefaultRBAC(t *testing.T) {
	rb := &rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "r"}, Subjects: []rbacv1.Subject{
		{Kind: "User", Name: "alice"}, {Kind: "Group", Name: "devs"}, {Kind: "ServiceAccount", Name: "sa", Namespace: "ns"},
	}}
	defaultRoleBinding(rb)
	want := &rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "r"}, Subjects: []rbacv1.Subject{
		{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "alice"},
		{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "devs"},
		{Kind: "ServiceAccount", Name: "sa", Namespace: "ns"},
	}}
	if diff := cmp.Diff(want, rb); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDefaultStorageAndScheduling(t *testing.T) {
	sc := &storagev1.StorageClass{Provisioner: "p"}
	defaultStorageClass(sc)
	if diff := cmp.Diff(&storagev1.StorageClass{Provisioner: "p", ReclaimPolicy: new(corev1.PersistentVolumeReclaimDelete), VolumeBindingMode: new(storagev1.VolumeBindingImmediate)}, sc); diff != "" {
		t.Errorf("storage class (-want +got):\n%s", diff)
	}
	pc := &schedulingv1.PriorityClass{Value: 1}
	defaultPriorityClass(pc)
	if p := pc.PreemptionPolicy; p == nil || *p != corev1.PreemptLowerPriority {
		t.Errorf("preemptionPolicy = %v, want PreemptLowerPriority", p)
	}
}

func TestDefaultHorizontalPodAutoscalerV2(t *testing.T) {
	h := &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{SelectPolicy: new(autoscalingv2.MinChangePolicySelect)}},
	}}
	defaultHorizontalPodAutoscaler(h)
	want := autoscalingv2.HorizontalPodAutoscalerSpec{
		MinReplicas: new(int32(1)),
		Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: new(int32(80))},
		}}},
		Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
			ScaleUp: &autoscalingv2.HPAScalingRules{
				SelectPolicy: new(autoscalingv2.MinChangePolicySelect), StabilizationWindowSeconds: new(int32(0)),
				Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15}, {Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}},
			},
			ScaleDown: &autoscalingv2.HPAScalingRules{
				SelectPolicy: new(autoscalingv2.MaxChangePolicySelect),
				Policies:     []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}},
			},
		},
	}
	if diff := cmp.Diff(want, h.Spec); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
