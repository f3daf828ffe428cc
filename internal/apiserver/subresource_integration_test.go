package apiserver

import (
	"context"
	"net/http"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
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

func TestLoopbackAdvertiseAddressLeavesServiceWithoutEndpoints(t *testing.T) {
	s := startTestServerWith(t, func(cfg *Config) { cfg.AdvertiseAddress = netip.MustParseAddr("127.0.0.1") })
	c := kubernetes.NewForConfigOrDie(s.admin)
	if _, err := c.CoreV1().Services("default").Get(context.Background(), "kubernetes", metav1.GetOptions{}); err != nil {
		t.Fatalf("kubernetes Service: %v", err)
	}
	if _, err := c.CoreV1().Endpoints("default").Get(context.Background(), "kubernetes", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("endpoints for a loopback advertise address: %v, want NotFound", err)
	}
}

func TestPodEviction(t *testing.T) {
	ts := startTestServer(t)
	c := kubernetes.NewForConfigOrDie(ts.admin)
	ctx := context.Background()
	pods := c.CoreV1().Pods("default")
	running := func(name string, labels map[string]string) {
		t.Helper()
		p, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	evict := func(name string) error {
		return pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}})
	}
	running("free", nil)
	if err := evict("free"); err != nil {
		t.Fatalf("evicting a pod no budget covers: %v", err)
	}
	if _, err := pods.Get(ctx, "free", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("evicted pod still there: %v", err)
	}

	running("guarded", map[string]string{"app": "db"})
	pdbs := c.PolicyV1().PodDisruptionBudgets("default")
	pdb, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptrIntOrString(1), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := evict("guarded"); !apierrors.IsTooManyRequests(err) {
		t.Fatalf("eviction against an unobserved budget: %v, want 429", err)
	}
	pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DisruptionsAllowed: 1, CurrentHealthy: 2, DesiredHealthy: 1, ExpectedPods: 2}
	if _, err := pdbs.UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := evict("guarded"); err != nil {
		t.Fatalf("eviction the budget allows: %v", err)
	}
	got, err := pdbs.Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.DisruptionsAllowed != 0 || got.Status.DisruptedPods["guarded"].Time.IsZero() {
		t.Errorf("budget after the eviction: allowed %d, disrupted %v", got.Status.DisruptionsAllowed, got.Status.DisruptedPods)
	}

	// An empty selector covers every pod of the namespace: with no
	// disruptions left, a ready pod stays, an unready one may go while the
	// budget is met, and an evicted pod on a node carries the
	// DisruptionTarget condition while it terminates.
	all, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "all"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptrIntOrString(1), Selector: &metav1.LabelSelector{}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: all.Generation, DisruptionsAllowed: 0, CurrentHealthy: 1, DesiredHealthy: 1, ExpectedPods: 2}
	if _, err := pdbs.UpdateStatus(ctx, all, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pdbs.Delete(ctx, "db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	setReady := func(name string, ready corev1.ConditionStatus) {
		t.Helper()
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}
		if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	running("ready", nil)
	if err := evict("ready"); !apierrors.IsTooManyRequests(err) {
		t.Errorf("evicting a ready pod under an exhausted empty-selector budget: %v, want 429", err)
	}
	running("sick", nil)
	setReady("sick", corev1.ConditionFalse)
	binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "sick"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}
	if err := pods.Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := evict("sick"); err != nil {
		t.Fatalf("evicting an unready pod while the budget is met: %v", err)
	}
	sick, err := pods.Get(ctx, "sick", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var target *corev1.PodCondition
	for i, c := range sick.Status.Conditions {
		if c.Type == corev1.DisruptionTarget {
			target = &sick.Status.Conditions[i]
		}
	}
	if sick.DeletionTimestamp == nil || target == nil || target.Reason != "EvictionByEvictionAPI" {
		t.Errorf("evicted pod on a node: deletion %v, DisruptionTarget %+v", sick.DeletionTimestamp, target)
	}
}

func ptrIntOrString(n int) *intstr.IntOrString {
	v := intstr.FromInt(n)
	return &v
}
