package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestDefaultWorkloads(t *testing.T) {
	t.Run("deployment", func(t *testing.T) {
		d := &appsv1.Deployment{}
		defaultDeployment(d)
		want := appsv1.DeploymentSpec{
			Replicas: new(int32(1)),
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxUnavailable: new(intstr.FromString("25%")), MaxSurge: new(intstr.FromString("25%")),
			}},
			RevisionHistoryLimit: new(int32(10)), ProgressDeadlineSeconds: new(int32(600)),
			Template: corev1.PodTemplateSpec{Spec: defaultedEmptyPodSpec()},
		}
		if diff := cmp.Diff(want, d.Spec); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("recreate deployment gets no rolling update", func(t *testing.T) {
		d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}}}
		defaultDeployment(d)
		if d.Spec.Strategy.RollingUpdate != nil {
			t.Errorf("rollingUpdate = %+v, want nil", d.Spec.Strategy.RollingUpdate)
		}
	})
	t.Run("statefulset", func(t *testing.T) {
		s := &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{}}}}
		defaultStatefulSet(s)
		want := appsv1.StatefulSetSpec{
			Replicas: new(int32(1)), PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			UpdateStrategy:       appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: new(int32(0))}},
			RevisionHistoryLimit: new(int32(10)),
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			},
			Template: corev1.PodTemplateSpec{Spec: defaultedEmptyPodSpec()},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				Spec:   corev1.PersistentVolumeClaimSpec{VolumeMode: new(corev1.PersistentVolumeFilesystem)},
				Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
			}},
		}
		if diff := cmp.Diff(want, s.Spec); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("daemonset", func(t *testing.T) {
		d := &appsv1.DaemonSet{}
		defaultDaemonSet(d)
		want := appsv1.DaemonSetSpec{
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType, RollingUpdate: &appsv1.RollingUpdateDaemonSet{
				MaxUnavailable: new(intstr.FromInt32(1)), MaxSurge: new(intstr.FromInt32(0)),
			}},
			RevisionHistoryLimit: new(int32(10)),
			Template:             corev1.PodTemplateSpec{Spec: defaultedEmptyPodSpec()},
		}
		if diff := cmp.Diff(want, d.Spec); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("replicaset", func(t *testing.T) {
		r := &appsv1.ReplicaSet{}
		defaultReplicaSet(r)
		if r.Spec.Replicas == nil || *r.Spec.Replicas != 1 {
			t.Errorf("replicas = %v, want 1", r.Spec.Replicas)
		}
	})
}

// defaultedEmptyPodSpec is what defaultPodSpec makes of an empty spec.
func defaultedEmptyPodSpec() corev1.PodSpec {
	return corev1.PodSpec{
		DNSPolicy: corev1.DNSClusterFirst, RestartPolicy: corev1.RestartPolicyAlways, SecurityContext: &corev1.PodSecurityContext{},
		TerminationGracePeriodSeconds: new(int64(30)), SchedulerName: corev1.DefaultSchedulerName,
	}
}
