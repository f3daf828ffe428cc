package registry

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// template is a pod template labelled app=name running the named images.
func template(name string, images ...string) corev1.PodTemplateSpec {
	t := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}}
	for i, img := range images {
		c := name
		if i > 0 {
			c = "c" + img
		}
		t.Spec.Containers = append(t.Spec.Containers, corev1.Container{Name: c, Image: img})
	}
	return t
}

func selector(app string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
}

func appsGolden() map[schema.GroupKind][]runtime.Object {
	rcTemplate := template("legacy", "nginx:1.25")
	return map[schema.GroupKind][]runtime.Object{
		{Kind: "ReplicationController"}: {
			&corev1.ReplicationController{
				ObjectMeta: om("legacy", 3*24*time.Hour),
				Spec:       corev1.ReplicationControllerSpec{Replicas: ptr.To[int32](3), Selector: map[string]string{"app": "legacy"}, Template: &rcTemplate},
				Status:     corev1.ReplicationControllerStatus{Replicas: 3, ReadyReplicas: 2},
			},
			&corev1.ReplicationController{ObjectMeta: om("bare", time.Minute)},
		},
		{Group: "apps", Kind: "Deployment"}: {
			&appsv1.Deployment{
				ObjectMeta: om("web", 45*time.Minute),
				Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](3), Selector: selector("web"), Template: template("web", "nginx:1.25", "busybox")},
				Status:     appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2},
			},
			&appsv1.Deployment{
				ObjectMeta: om("expr", 400*24*time.Hour),
				Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](0), Template: template("expr", "app:2"), Selector: &metav1.LabelSelector{
					MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}},
				}},
			},
		},
		{Group: "apps", Kind: "ReplicaSet"}: {
			&appsv1.ReplicaSet{
				ObjectMeta: om("web-7d4b9c5f6", 45*time.Minute),
				Spec:       appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](3), Selector: selector("web"), Template: template("web", "nginx:1.25")},
				Status:     appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 3},
			},
		},
		{Group: "apps", Kind: "StatefulSet"}: {
			&appsv1.StatefulSet{
				ObjectMeta: om("db", 5*time.Hour),
				Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To[int32](3), Selector: selector("db"), Template: template("db", "postgres:16")},
				Status:     appsv1.StatefulSetStatus{ReadyReplicas: 1},
			},
		},
		{Group: "apps", Kind: "DaemonSet"}: {
			&appsv1.DaemonSet{
				ObjectMeta: om("agent", 10*24*time.Hour),
				Spec: appsv1.DaemonSetSpec{Selector: selector("agent"), Template: func() corev1.PodTemplateSpec {
					t := template("agent", "agent:0.9")
					t.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
					return t
				}()},
				Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 5, CurrentNumberScheduled: 5, NumberReady: 4, UpdatedNumberScheduled: 5, NumberAvailable: 4},
			},
			&appsv1.DaemonSet{ObjectMeta: om("empty", time.Second), Spec: appsv1.DaemonSetSpec{Selector: selector("empty"), Template: template("empty", "x")}},
		},
		{Group: "apps", Kind: "ControllerRevision"}: {
			&appsv1.ControllerRevision{
				ObjectMeta: func() metav1.ObjectMeta {
					m := om("db-5b8f7c", 5*time.Hour)
					m.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", Controller: ptr.To(true)}}
					return m
				}(),
				Revision: 2,
			},
			&appsv1.ControllerRevision{ObjectMeta: om("orphan", time.Hour), Revision: 1},
		},
		{Group: "policy", Kind: "PodDisruptionBudget"}: {
			&policyv1.PodDisruptionBudget{
				ObjectMeta: om("web", time.Hour),
				Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(2))},
				Status:     policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1},
			},
			&policyv1.PodDisruptionBudget{
				ObjectMeta: om("db", time.Hour),
				Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromString("25%"))},
			},
		},
	}
}

func TestControllerName(t *testing.T) {
	tests := []struct {
		name string
		refs []metav1.OwnerReference
		want string
	}{
		{"no owner", nil, "<none>"},
		{"owner that is not the controller", []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db"}}, "<none>"},
		{"apps controller", []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", Controller: ptr.To(true)}}, "daemonset.apps/agent"},
		{"core controller", []metav1.OwnerReference{{APIVersion: "v1", Kind: "ReplicationController", Name: "rc", Controller: ptr.To(true)}}, "replicationcontroller/rc"},
		{"unparsable apiVersion", []metav1.OwnerReference{{APIVersion: "a/b/c", Kind: "X", Name: "x", Controller: ptr.To(true)}}, "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{OwnerReferences: tt.refs}}
			if got := controllerName(r); got != tt.want {
				t.Errorf("controllerName = %q, want %q", got, tt.want)
			}
		})
	}
}
