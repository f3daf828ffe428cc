package registry

import (
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func defaultRoleBinding(rb *rbacv1.RoleBinding) {
	defaultRoleRef(&rb.RoleRef)
	defaultSubjects(rb.Subjects)
}

func defaultClusterRoleBinding(rb *rbacv1.ClusterRoleBinding) {
	defaultRoleRef(&rb.RoleRef)
	defaultSubjects(rb.Subjects)
}

func defaultRoleRef(r *rbacv1.RoleRef) {
	if r.APIGroup == "" {
		r.APIGroup = rbacv1.GroupName
	}
}

// defaultSubjects sets the RBAC API group on User and Group subjects that
// leave it empty; ServiceAccount subjects keep the core group.
func defaultSubjects(subjects []rbacv1.Subject) {
	for i := range subjects {
		s := &subjects[i]
		if s.APIGroup == "" && (s.Kind == rbacv1.UserKind || s.Kind == rbacv1.GroupKind) {
			s.APIGroup = rbacv1.GroupName
		}
	}
}

func defaultStorageClass(sc *storagev1.StorageClass) {
	if sc.ReclaimPolicy == nil {
		sc.ReclaimPolicy = new(corev1.PersistentVolumeReclaimDelete)
	}
	if sc.VolumeBindingMode == nil {
		sc.VolumeBindingMode = new(storagev1.VolumeBindingImmediate)
	}
}

func defaultPriorityClass(pc *schedulingv1.PriorityClass) {
	if pc.PreemptionPolicy == nil {
		pc.PreemptionPolicy = new(corev1.PreemptLowerPriority)
	}
}

// defaultHorizontalPodAutoscaler handles both served versions: minReplicas
// 1, and for autoscaling/v2 a CPU utilization target of 80% when no metric
// is given and the upstream scaling rules for each direction of a behavior
// that is set.
func defaultHorizontalPodAutoscaler(obj runtime.Object) {
	switch h := obj.(type) {
	case *autoscalingv1.HorizontalPodAutoscaler:
		if h.Spec.MinReplicas == nil {
			h.Spec.MinReplicas = new(int32(1))
		}
	case *autoscalingv2.HorizontalPodAutoscaler:
		s := &h.Spec
		if s.MinReplicas == nil {
			s.MinReplicas = new(int32(1))
		}
		if len(s.Metrics) == 0 {
			s.Metrics = []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name: corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{
						Type:               autoscalingv2.UtilizationMetricType,
						AverageUtilization: new(int32(80)),
					},
				},
			}}
		}
		if b := s.Behavior; b != nil {
			b.ScaleUp = defaultScalingRules(b.ScaleUp, new(int32(0)), []autoscalingv2.HPAScalingPolicy{
				{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
				{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
			})
			// The scale-down stabilization window stays unset: the
			// controller's flag decides it.
			b.ScaleDown = defaultScalingRules(b.ScaleDown, nil, []autoscalingv2.HPAScalingPolicy{
				{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
			})
		}
	}
}

func defaultScalingRules(r *autoscalingv2.HPAScalingRules, window *int32, policies []autoscalingv2.HPAScalingPolicy) *autoscalingv2.HPAScalingRules {
	if r == nil {
		r = &autoscalingv2.HPAScalingRules{}
	}
	if r.SelectPolicy == nil {
		r.SelectPolicy = new(autoscalingv2.MaxChangePolicySelect)
	}
	if r.StabilizationWindowSeconds == nil {
		r.StabilizationWindowSeconds = window
	}
	if r.Policies == nil {
		r.Policies = policies
	}
	return r
}
