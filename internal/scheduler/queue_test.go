package scheduler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

func testPod(name string, priority int32) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Spec:       v1.PodSpec{Priority: &priority, Containers: []v1.Container{{Name: "c"}}},
	}
}

// popAll pops every active pod, ending each attempt with done.
func popAll(t *testing.T, q *schedulingQueue, done func(*v1.Pod, int64)) []string {
	t.Helper()
	var names []string
	for {
		q.mu.Lock()
		n := len(q.active)
		q.mu.Unlock()
		if n == 0 {
			return names
		}
		p, cycle, ok := q.Pop()
		if !ok {
			t.Fatal("Pop on an open queue returned !ok")
		}
		names = append(names, p.Name)
		done(p, cycle)
	}
}

func TestQueueOrdersByPriorityThenFIFO(t *testing.T) {
	q := newSchedulingQueue(clocktesting.NewFakeClock(time.Unix(0, 0)), time.Minute)
	for _, p := range []*v1.Pod{testPod("a", 0), testPod("b", 10), testPod("c", 0), testPod("d", 10)} {
		q.Add(p)
	}
	got := popAll(t, q, func(p *v1.Pod, _ int64) { q.Done(p) })
	if diff := cmp.Diff([]string{"b", "d", "a", "c"}, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestQueueUnschedulableLifecycle(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	q := newSchedulingQueue(clk, time.Minute)
	park := func(p *v1.Pod, cycle int64) { q.AddUnschedulable(p, cycle, false) }

	q.Add(testPod("a", 0))
	q.Add(testPod("b", 0))
	if got := popAll(t, q, park); len(got) != 2 {
		t.Fatalf("popped %v, want a and b", got)
	}
	// A status-only update leaves a parked pod parked; a spec change retries it.
	statusOnly := testPod("a", 0)
	statusOnly.Status.Conditions = []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionFalse}}
	q.Update(statusOnly)
	if got := popAll(t, q, park); len(got) != 0 {
		t.Errorf("status-only update retried %v", got)
	}
	labelled := testPod("a", 0)
	labelled.Labels = map[string]string{"x": "y"}
	q.Update(labelled)
	if diff := cmp.Diff([]string{"a"}, popAll(t, q, park)); diff != "" {
		t.Errorf("after spec change (-want +got):\n%s", diff)
	}
	// The cluster changed: everything parked is retried.
	q.MoveAllToActive()
	if diff := cmp.Diff([]string{"b", "a"}, popAll(t, q, park)); diff != "" {
		t.Errorf("after move (-want +got):\n%s", diff)
	}
	// Nothing changed: retried only once parked for the timeout.
	clk.Step(59 * time.Second)
	q.Flush()
	if got := popAll(t, q, park); len(got) != 0 {
		t.Errorf("flushed early: %v", got)
	}
	clk.Step(time.Second)
	q.Flush()
	if diff := cmp.Diff([]string{"b", "a"}, popAll(t, q, park)); diff != "" {
		t.Errorf("after timeout (-want +got):\n%s", diff)
	}
}

func TestQueueMoveDuringFlightIsNotLost(t *testing.T) {
	q := newSchedulingQueue(clocktesting.NewFakeClock(time.Unix(0, 0)), time.Minute)
	q.Add(testPod("a", 0))
	p, cycle, _ := q.Pop()
	q.MoveAllToActive() // a node appeared while a was being scheduled
	q.AddUnschedulable(p, cycle, false)
	if diff := cmp.Diff([]string{"a"}, popAll(t, q, func(p *v1.Pod, _ int64) { q.Done(p) })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestQueueDeleteInFlight(t *testing.T) {
	q := newSchedulingQueue(clocktesting.NewFakeClock(time.Unix(0, 0)), time.Minute)
	q.Add(testPod("a", 0))
	p, cycle, _ := q.Pop()
	q.Delete(p)
	q.AddUnschedulable(p, cycle, false)
	q.MoveAllToActive()
	if got := popAll(t, q, func(p *v1.Pod, _ int64) { q.Done(p) }); len(got) != 0 {
		t.Errorf("deleted pod came back: %v", got)
	}
}

func TestQueueBackoff(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	q := newSchedulingQueue(clk, time.Hour)
	q.Add(testPod("a", 0))
	// Each failure doubles the wait: 1s, 2s, 4s, 8s, then 10s at most.
	for _, wait := range []time.Duration{1, 2, 4, 8, 10, 10} {
		wait *= time.Second
		q.mu.Lock()
		ready := len(q.active)
		q.mu.Unlock()
		if ready != 1 {
			t.Fatalf("before a wait of %v: %d pods ready, want 1", wait, ready)
		}
		p, _, _ := q.Pop()
		q.AddBackoff(p)
		clk.Step(wait - time.Millisecond)
		q.Flush()
		if got := popAll(t, q, func(p *v1.Pod, _ int64) { q.Done(p) }); len(got) != 0 {
			t.Fatalf("popped %v before %v", got, wait)
		}
		clk.Step(time.Millisecond)
		q.Flush()
	}
}

func TestQueueClose(t *testing.T) {
	q := newSchedulingQueue(clocktesting.NewFakeClock(time.Unix(0, 0)), time.Minute)
	done := make(chan bool)
	go func() {
		_, _, ok := q.Pop()
		done <- ok
	}()
	q.Close()
	if ok := <-done; ok {
		t.Error("Pop after Close returned ok")
	}
}

func TestQueueMovePodWaiters(t *testing.T) {
	q := newSchedulingQueue(clocktesting.NewFakeClock(time.Unix(0, 0)), time.Minute)
	for _, name := range []string{"waiter", "other", "inflight"} {
		q.Add(testPod(name, 0))
	}
	for range 2 {
		p, cycle, _ := q.Pop()
		q.AddUnschedulable(p, cycle, p.Name == "waiter")
	}
	p, cycle, _ := q.Pop() // inflight, being scheduled when a pod is placed
	q.MovePodWaitersToActive()
	q.AddUnschedulable(p, cycle, true)
	got := popAll(t, q, func(p *v1.Pod, _ int64) { q.Done(p) })
	if diff := cmp.Diff([]string{"inflight", "waiter"}, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("moved (-want +got):\n%s", diff)
	}
}
