package apiserver

import (
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// prepareForCreate sets the status a new object starts with, as upstream's
// strategies do: a kind with a status subresource starts with an empty
// status (its controller fills it), except Nodes, whose agent registers
// them with their status; some kinds start in a phase.
func prepareForCreate(res *resource, obj runtime.Object) {
	if res.Status && res.Kind != "Node" {
		clearStatus(obj)
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		o.Status.Phase = corev1.PodPending
	case *corev1.Namespace:
		o.Status.Phase = corev1.NamespaceActive
		if !hasFinalizer(o.Spec.Finalizers, corev1.FinalizerKubernetes) {
			o.Spec.Finalizers = append(o.Spec.Finalizers, corev1.FinalizerKubernetes)
		}
	case *corev1.PersistentVolume:
		o.Status.Phase = corev1.VolumePending
	case *corev1.PersistentVolumeClaim:
		o.Status.Phase = corev1.ClaimPending
	case *apiextensionsv1.CustomResourceDefinition:
		o.Finalizers = addFinalizer(o.Finalizers, crdCleanupFinalizer)
	}
}

func hasFinalizer(list []corev1.FinalizerName, f corev1.FinalizerName) bool {
	for _, x := range list {
		if x == f {
			return true
		}
	}
	return false
}
