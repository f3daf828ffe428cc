package registry

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func apps(kind string) schema.GroupKind { return schema.GroupKind{Group: "apps", Kind: kind} }

// appTemplate is an undefaulted pod template labelled app=web.
func appTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27"}}},
	}
}

func webSelector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
}

func deployment(mutate func(*appsv1.DeploymentSpec)) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Selector: webSelector(), Template: appTemplate()}}
	if mutate != nil {
		mutate(&d.Spec)
	}
	return d
}

func TestValidateDeployment(t *testing.T) {
	runChecks(t, apps("Deployment"), []checkCase{
		{name: "valid", obj: deployment(nil)},
		{name: "selector required", obj: deployment(func(s *appsv1.DeploymentSpec) { s.Selector = nil }),
			want: want("FieldValueRequired spec.selector", "FieldValueInvalid spec.template.metadata.labels")},
		{name: "selector does not match", obj: deployment(func(s *appsv1.DeploymentSpec) { s.Template.Labels["app"] = "db" }),
			want: want("FieldValueInvalid spec.template.metadata.labels")},
		{name: "empty selector", obj: deployment(func(s *appsv1.DeploymentSpec) { s.Selector = &metav1.LabelSelector{} }),
			want: want("FieldValueInvalid spec.selector")},
		{name: "negative replicas", obj: deployment(func(s *appsv1.DeploymentSpec) { s.Replicas = new(int32(-1)) }),
			want: want("FieldValueInvalid spec.replicas")},
		{name: "surge and unavailable zero", obj: deployment(func(s *appsv1.DeploymentSpec) {
			s.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: new(intstr.FromInt32(0)), MaxUnavailable: new(intstr.FromString("0%"))}
		}), want: want("FieldValueInvalid spec.strategy.rollingUpdate.maxUnavailable")},
		{name: "bad percentage", obj: deployment(func(s *appsv1.DeploymentSpec) {
			s.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: new(intstr.FromString("x%")), MaxUnavailable: new(intstr.FromString("101%"))}
		}), want: want("FieldValueInvalid spec.strategy.rollingUpdate.maxSurge", "FieldValueInvalid spec.strategy.rollingUpdate.maxUnavailable")},
		{name: "recreate with rolling update", obj: deployment(func(s *appsv1.DeploymentSpec) {
			s.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{}}
		}), want: want("FieldValueForbidden spec.strategy.rollingUpdate")},
		{name: "strategy type", obj: deployment(func(s *appsv1.DeploymentSpec) { s.Strategy.Type = "BlueGreen" }),
			want: want("FieldValueNotSupported spec.strategy")},
		{name: "restart policy", obj: deployment(func(s *appsv1.DeploymentSpec) { s.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }),
			want: want("FieldValueNotSupported spec.template.spec.restartPolicy")},
		{name: "progress deadline", obj: deployment(func(s *appsv1.DeploymentSpec) { s.MinReadySeconds = 700 }),
			want: want("FieldValueInvalid spec.progressDeadlineSeconds")},
		{name: "pod spec error in template", obj: deployment(func(s *appsv1.DeploymentSpec) { s.Template.Spec.Containers[0].Image = "" }),
			want: want("FieldValueRequired spec.template.spec.containers[0].image")},
		{name: "selector immutable", obj: deployment(func(s *appsv1.DeploymentSpec) {
			s.Selector.MatchLabels["tier"] = "front"
			s.Template.Labels["tier"] = "front"
		}), old: deployment(nil), want: want("FieldValueInvalid spec.selector")},
		{name: "scale and new image", obj: deployment(func(s *appsv1.DeploymentSpec) {
			s.Replicas = new(int32(5))
			s.Template.Spec.Containers[0].Image = "nginx:1.28"
		}), old: deployment(nil)},
	})
}

func TestValidateReplicaSetAndDaemonSet(t *testing.T) {
	rs := func(mutate func(*appsv1.ReplicaSetSpec)) *appsv1.ReplicaSet {
		r := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Selector: webSelector(), Template: appTemplate()}}
		if mutate != nil {
			mutate(&r.Spec)
		}
		return r
	}
	runChecks(t, apps("ReplicaSet"), []checkCase{
		{name: "valid", obj: rs(nil)},
		{name: "active deadline", obj: rs(func(s *appsv1.ReplicaSetSpec) { s.Template.Spec.ActiveDeadlineSeconds = new(int64(10)) }),
			want: want("FieldValueInvalid spec.template.spec.activeDeadlineSeconds")},
		{name: "selector expression", obj: rs(func(s *appsv1.ReplicaSetSpec) {
			s.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn}}
		}), want: want("FieldValueRequired spec.selector.matchExpressions[0].values", "FieldValueInvalid spec.selector")},
		{name: "selector immutable", obj: rs(func(s *appsv1.ReplicaSetSpec) {
			s.Selector.MatchLabels["app"] = "web2"
			s.Template.Labels["app"] = "web2"
		}),
			old: rs(nil), want: want("FieldValueInvalid spec.selector")},
	})

	ds := func(mutate func(*appsv1.DaemonSetSpec)) *appsv1.DaemonSet {
		d := &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Selector: webSelector(), Template: appTemplate()}}
		if mutate != nil {
			mutate(&d.Spec)
		}
		return d
	}
	runChecks(t, apps("DaemonSet"), []checkCase{
		{name: "valid", obj: ds(nil)},
		{name: "surge with unavailable", obj: ds(func(s *appsv1.DaemonSetSpec) {
			s.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: new(intstr.FromInt32(1)), MaxSurge: new(intstr.FromInt32(1))}
		}), want: want("FieldValueInvalid spec.updateStrategy.rollingUpdate.maxSurge")},
		{name: "both zero", obj: ds(func(s *appsv1.DaemonSetSpec) {
			s.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: new(intstr.FromInt32(0)), MaxSurge: new(intstr.FromString("0%"))}
		}), want: want("FieldValueRequired spec.updateStrategy.rollingUpdate.maxUnavailable")},
		{name: "empty selector", obj: ds(func(s *appsv1.DaemonSetSpec) { s.Selector = &metav1.LabelSelector{} }),
			want: want("FieldValueInvalid spec.selector")},
		{name: "strategy type", obj: ds(func(s *appsv1.DaemonSetSpec) { s.UpdateStrategy.Type = "Surge" }),
			want: want("FieldValueNotSupported spec.updateStrategy")},
	})
}

func TestValidateStatefulSet(t *testing.T) {
	sts := func(mutate func(*appsv1.StatefulSetSpec)) *appsv1.StatefulSet {
		tmpl := appTemplate()
		tmpl.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		s := &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{
			Selector: webSelector(), Template: tmpl, ServiceName: "web",
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{"storage": resource.MustParse("1Gi")}},
			}}},
		}}
		if mutate != nil {
			mutate(&s.Spec)
		}
		return s
	}
	runChecks(t, apps("StatefulSet"), []checkCase{
		{name: "valid, mounting a claim template", obj: sts(nil)},
		{name: "policy", obj: sts(func(s *appsv1.StatefulSetSpec) { s.PodManagementPolicy = "Random" }),
			want: want("FieldValueInvalid spec.podManagementPolicy")},
		{name: "on delete with rolling update", obj: sts(func(s *appsv1.StatefulSetSpec) {
			s.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{}}
		}), want: want("FieldValueInvalid spec.updateStrategy.rollingUpdate")},
		{name: "negative partition", obj: sts(func(s *appsv1.StatefulSetSpec) {
			s.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: new(int32(-1))}
		}), want: want("FieldValueInvalid spec.updateStrategy.rollingUpdate.partition")},
		{name: "unknown mount", obj: sts(func(s *appsv1.StatefulSetSpec) { s.VolumeClaimTemplates[0].Name = "other" }),
			want: want("FieldValueNotFound spec.template.spec.containers[0].volumeMounts[0].name")},
		{name: "selector mismatch", obj: sts(func(s *appsv1.StatefulSetSpec) { s.Selector.MatchLabels["app"] = "db" }),
			want: want("FieldValueInvalid spec.template.metadata.labels")},
		{name: "scale and template change", obj: sts(func(s *appsv1.StatefulSetSpec) {
			s.Replicas = new(int32(3))
			s.Template.Spec.Containers[0].Image = "nginx:1.28"
		}), old: sts(nil)},
		{name: "claim templates immutable", obj: sts(func(s *appsv1.StatefulSetSpec) {
			s.VolumeClaimTemplates[0].Spec.Resources.Requests["storage"] = resource.MustParse("2Gi")
		}), old: sts(nil), want: want("FieldValueForbidden spec")},
	})
	runChecks(t, apps("ControllerRevision"), []checkCase{
		{name: "valid", obj: &appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: []byte(`{}`)}, Revision: 1}},
		{name: "no data", obj: &appsv1.ControllerRevision{Revision: -1}, want: want("FieldValueRequired data", "FieldValueInvalid revision")},
		{name: "data immutable", obj: &appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: []byte(`{"a":1}`)}},
			old: &appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: []byte(`{}`)}}, want: want("FieldValueInvalid data")},
	})
}
