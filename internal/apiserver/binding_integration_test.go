package apiserver

import (
	"context"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func TestPodBinding(t *testing.T) {
	ts := startTestServer(t)
	c := kubernetes.NewForConfigOrDie(ts.admin)
	ctx := context.Background()
	pods := c.CoreV1().Pods("default")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bind := func(node string) error {
		return pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p", Annotations: map[string]string{"a": "b"}},
			Target: corev1.ObjectReference{Kind: "Node", Name: node}}, metav1.CreateOptions{})
	}
	if err := bind("n1"); err != nil {
		t.Fatalf("bind: %v", err)
	}
	got, err := pods.Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.NodeName != "n1" || got.Annotations["a"] != "b" {
		t.Errorf("after binding: nodeName %q, annotations %v", got.Spec.NodeName, got.Annotations)
	}
	scheduled := false
	for _, c := range got.Status.Conditions {
		scheduled = scheduled || (c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue)
	}
	if !scheduled {
		t.Errorf("no PodScheduled=True condition: %v", got.Status.Conditions)
	}
	if err := bind("n2"); !apierrors.IsConflict(err) {
		t.Errorf("second binding: %v, want 409 Conflict", err)
	}
	r := ts.do(t, http.MethodPost, "/api/v1/namespaces/default/pods/p/binding", []byte(`{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"kind":"Service","name":"x"}}`), "Content-Type", "application/json")
	if r.code != http.StatusUnprocessableEntity {
		t.Errorf("binding to a Service: %d, want 422", r.code)
	}
}
