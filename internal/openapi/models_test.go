package openapi

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"berth.dev/berth/internal/registry"
)

func testDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromString("25%")), MaxUnavailable: ptr.To(intstr.FromInt32(1))},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       testPodSpec(),
			},
		},
	}
}

func testPodSpec() corev1.PodSpec {
	return corev1.PodSpec{
		Containers: []corev1.Container{{
			Name:  "nginx",
			Image: "nginx:1.27",
			Ports: []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
			Env:   []corev1.EnvVar{{Name: "A", Value: "1"}},
			Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
			},
		}},
		Tolerations: []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}},
	}
}

// TestModelsTypeConverter builds server-side apply's type converter from
// Models and converts typed objects with it; the list-map keys of the
// schemas decide how the containers list is keyed.
func TestModelsTypeConverter(t *testing.T) {
	s := builtinService(t)
	tc, err := managedfields.NewTypeConverter(s.Models(), false)
	if err != nil {
		t.Fatalf("NewTypeConverter: %v", err)
	}
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec:       testPodSpec(),
	}
	for _, obj := range []runtime.Object{testDeployment(), pod} {
		typed, err := tc.ObjectToTyped(obj)
		if err != nil {
			t.Fatalf("ObjectToTyped(%s): %v", obj.GetObjectKind().GroupVersionKind(), err)
		}
		set, err := typed.ToFieldSet()
		if err != nil {
			t.Fatalf("ToFieldSet(%s): %v", obj.GetObjectKind().GroupVersionKind(), err)
		}
		// The container list is a map keyed by name, so its element's
		// path names the key, not an index.
		prefix := fieldpath.MakePathOrDie("spec", "containers", fieldpath.KeyByFields("name", "nginx"), "image")
		if _, ok := obj.(*appsv1.Deployment); ok {
			prefix = fieldpath.MakePathOrDie("spec", "template", "spec", "containers", fieldpath.KeyByFields("name", "nginx"), "image")
		}
		if !set.Has(prefix) {
			t.Errorf("%s: field set lacks %s:\n%s", obj.GetObjectKind().GroupVersionKind(), prefix, set.String())
		}
	}

	// An unknown field is an error for typed conversion.
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "x"},
		"spec":     map[string]any{"bogus": true},
	}}
	if _, err := tc.ObjectToTyped(u); err == nil {
		t.Error("ObjectToTyped accepted spec.bogus")
	}
}

func TestModelsIncludeCustomResources(t *testing.T) {
	s, err := New(Config{Resources: registry.Builtin()})
	if err != nil {
		t.Fatal(err)
	}
	crontab := registry.Resource{Kind: "CronTab", Namespaced: true}
	crontab.Group, crontab.Version, crontab.Resource = "stable.example.com", "v1", "crontabs"
	schema := &spec.Schema{SchemaProps: spec.SchemaProps{
		Type: []string{"object"},
		Properties: map[string]spec.Schema{
			"spec": {SchemaProps: spec.SchemaProps{Type: []string{"object"}, Properties: map[string]spec.Schema{
				"cronSpec": {SchemaProps: spec.SchemaProps{Type: []string{"string"}}},
			}}},
		},
	}}
	if err := s.SetCustomResource(crontab, schema); err != nil {
		t.Fatalf("SetCustomResource: %v", err)
	}
	tc, err := managedfields.NewTypeConverter(s.Models(), false)
	if err != nil {
		t.Fatalf("NewTypeConverter: %v", err)
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "stable.example.com/v1", "kind": "CronTab",
		"metadata": map[string]any{"name": "c", "labels": map[string]any{"a": "b"}},
		"spec":     map[string]any{"cronSpec": "* * * * *"},
	}}
	if _, err := tc.ObjectToTyped(obj); err != nil {
		t.Errorf("ObjectToTyped(CronTab): %v", err)
	}
	s.RemoveCustomResource(crontab.GroupVersion().WithKind("CronTab"))
	if _, ok := s.Models()["com.example.stable.v1.CronTab"]; ok {
		t.Error("Models still holds the removed CronTab")
	}
}
