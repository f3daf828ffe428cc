package scheduler

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"berth.dev/berth/internal/scheduler/plugins"
)

func readyNode(name, cpu string) *v1.Node {
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: v1.NodeStatus{
			Allocatable: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu), v1.ResourcePods: resource.MustParse("110")},
			Conditions:  []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
		},
	}
}

// fakeBinder makes the fake clientset serve pods/binding as the API
// server does: set spec.nodeName once, 409 Conflict after.
type fakeBinder struct {
	client *fake.Clientset
	mu     sync.Mutex // guards bound
	bound  map[string]string
}

func (b *fakeBinder) react(action k8stesting.Action) (bool, runtime.Object, error) {
	if action.GetSubresource() != "binding" {
		return false, nil, nil
	}
	binding := action.(k8stesting.CreateAction).GetObject().(*v1.Binding)
	gvr := v1.SchemeGroupVersion.WithResource("pods")
	obj, err := b.client.Tracker().Get(gvr, binding.Namespace, binding.Name)
	if err != nil {
		return true, nil, err
	}
	pod := obj.(*v1.Pod).DeepCopy()
	if pod.Spec.NodeName != "" {
		return true, nil, apierrors.NewConflict(gvr.GroupResource(), pod.Name, fmt.Errorf("pod %s is already assigned to node %q", pod.Name, pod.Spec.NodeName))
	}
	pod.Spec.NodeName = binding.Target.Name
	if err := b.client.Tracker().Update(gvr, pod, pod.Namespace); err != nil {
		return true, nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bound[pod.Name] = binding.Target.Name
	return true, binding, nil
}

func (b *fakeBinder) snapshot() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]string{}
	for k, v := range b.bound {
		out[k] = v
	}
	return out
}

func TestSchedulerBindsBurstAndReportsUnschedulable(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset(readyNode("n1", "1"), readyNode("n2", "1"), readyNode("n3", "1"))
	binder := &fakeBinder{client: client, bound: map[string]string{}}
	client.PrependReactor("create", "pods", binder.react)
	factory := informers.NewSharedInformerFactory(client, 0)
	// Pick always takes the first of equal nodes: without assuming bound
	// pods, a burst would pile onto n1.
	s, err := New(Config{Client: client, Informers: factory, Pick: func(int) int { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(ctx) }()

	for i := range 4 {
		p := cpuPod(fmt.Sprintf("p%d", i), "", "1")
		p.Namespace = "default"
		if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	other := testPod("other", 0)
	other.Namespace = "default"
	other.Spec.SchedulerName = "other-scheduler"
	gated := testPod("gated", 0)
	gated.Namespace = "default"
	gated.Spec.SchedulingGates = []v1.PodSchedulingGate{{Name: "example.com/wait"}}
	for _, p := range []*v1.Pod{other, gated} {
		if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	const wantMsg = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
	var unscheduled string
	err = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		if len(binder.snapshot()) != 3 {
			return false, nil
		}
		for i := range 4 {
			p, err := client.CoreV1().Pods("default").Get(ctx, fmt.Sprintf("p%d", i), metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, c := range p.Status.Conditions {
				if c.Type == v1.PodScheduled && c.Status == v1.ConditionFalse && c.Reason == v1.PodReasonUnschedulable && c.Message == wantMsg {
					unscheduled = p.Name
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("waiting for 3 bindings and one unschedulable pod: %v (bound %v)", err, binder.snapshot())
	}
	nodes := map[string]bool{}
	for _, n := range binder.snapshot() {
		nodes[n] = true
	}
	if diff := cmp.Diff(map[string]bool{"n1": true, "n2": true, "n3": true}, nodes); diff != "" {
		t.Errorf("nodes used (-want +got):\n%s", diff)
	}

	err = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		events, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.Reason == "FailedScheduling" && e.Type == v1.EventTypeWarning && e.InvolvedObject.Name == unscheduled &&
				e.Message == wantMsg && e.Source.Component == DefaultSchedulerName {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("waiting for the FailedScheduling event: %v", err)
	}

	// Deleting a bound pod frees a node: the parked pod is retried and bound.
	var victim string
	for name := range binder.snapshot() {
		victim = name
		break
	}
	if err := client.CoreV1().Pods("default").Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		_, ok := binder.snapshot()[unscheduled]
		return ok, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s to be bound after %s was deleted: %v", unscheduled, victim, err)
	}

	// Pods of another scheduler and gated pods are left alone.
	for _, name := range []string{"other", "gated"} {
		if _, ok := binder.snapshot()[name]; ok {
			t.Errorf("pod %s was bound", name)
		}
		p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Status.Conditions) != 0 {
			t.Errorf("pod %s got conditions %v", name, p.Status.Conditions)
		}
	}

	cancel()
	if err := <-runDone; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestSetCondition(t *testing.T) {
	t0, t1 := time.Unix(100, 0), time.Unix(200, 0)
	cond := v1.PodCondition{Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: "Unschedulable", Message: "m1"}
	var st v1.PodStatus
	if !setCondition(&st, cond, t0) {
		t.Fatal("adding the condition reported no change")
	}
	if setCondition(&st, cond, t1) {
		t.Error("setting the same condition reported a change")
	}
	cond.Message = "m2"
	if !setCondition(&st, cond, t1) {
		t.Error("a new message reported no change")
	}
	want := []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: "Unschedulable", Message: "m2", LastTransitionTime: metav1.NewTime(t0)}}
	if diff := cmp.Diff(want, st.Conditions); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
}

func TestSchedulerRetriesFailedBinding(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset(readyNode("n1", "1"))
	binder := &fakeBinder{client: client, bound: map[string]string{}}
	client.PrependReactor("create", "pods", binder.react)
	failed := false
	client.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "binding" || failed {
			return false, nil, nil
		}
		failed = true
		return true, nil, apierrors.NewInternalError(fmt.Errorf("store unavailable"))
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	s, err := New(Config{Client: client, Informers: factory})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-runDone
	}()

	p := cpuPod("p", "", "500m")
	p.Namespace = "default"
	if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return binder.snapshot()["p"] == "n1", nil
	})
	if err != nil {
		t.Fatalf("waiting for the retried binding: %v", err)
	}
	const wantMsg = "Binding rejected: Internal error occurred: store unavailable"
	err = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		events, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.Reason == "FailedScheduling" && e.Message == wantMsg {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("waiting for the FailedScheduling event of the failed binding: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	client := fake.NewClientset()
	factory := informers.NewSharedInformerFactory(client, 0)
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "no client", cfg: Config{Informers: factory}},
		{name: "no informers", cfg: Config{Client: client}},
		{name: "negative timeout", cfg: Config{Client: client, Informers: factory, UnschedulableTimeout: -time.Second}},
		{name: "percentage over 100", cfg: Config{Client: client, Informers: factory, PercentageOfNodesToScore: 101}},
		{name: "unknown strategy", cfg: Config{Client: client, Informers: factory, Plugins: plugins.Options{Strategy: "Random"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Error("New accepted an invalid Config")
			}
		})
	}
}
