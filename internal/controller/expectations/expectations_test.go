package expectations

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func pods(uids ...types.UID) []*corev1.Pod {
	ps := make([]*corev1.Pod, len(uids))
	for i, uid := range uids {
		ps[i] = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: uid}}
	}
	return ps
}

func TestCreationsThenDeletions(t *testing.T) {
	type key struct{ kind, namespace, name string }
	clk := clocktesting.NewFakePassiveClock(t0)
	e := New[key](clk)
	k := key{kind: "ReplicaSet", namespace: "ns", name: "web"}
	other := key{kind: "ReplicationController", namespace: "ns", name: "web"}
	if !e.Satisfied(k) {
		t.Fatalf("no expectations: want satisfied")
	}
	e.Expect(k, 2, nil)
	e.CreationsObserved(k, 1)
	if e.Satisfied(k) || !e.Satisfied(other) {
		t.Fatalf("one of two creations seen: want %v unsatisfied only", k)
	}
	e.CreationsObserved(k, 1)
	if !e.Satisfied(k) {
		t.Fatalf("both creations seen: want satisfied")
	}

	e.Expect(k, 0, pods("a", "b"))
	e.DeletionObserved(k, "a")
	e.DeletionObserved(k, "a") // a second event for the same pod must not count twice
	e.DeletionObserved(k, "x")
	if e.Satisfied(k) {
		t.Fatalf("b not yet deleted: want unsatisfied")
	}
	clk.SetTime(t0.Add(Timeout + time.Second))
	if !e.Satisfied(k) {
		t.Fatalf("expired: want satisfied")
	}
	e.Expect(k, 1, nil)
	e.Forget(k)
	if !e.Satisfied(k) {
		t.Fatalf("forgotten: want satisfied")
	}
}

func TestAccumulateAndExpire(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(t0)
	e := New[cache.ObjectName](clk)
	k := cache.ObjectName{Namespace: "ns", Name: "j"}
	other := cache.ObjectName{Namespace: "ns", Name: "other"}
	check := func(step string, want bool) {
		t.Helper()
		if got := e.Satisfied(k); got != want {
			t.Errorf("%s: satisfied = %v, want %v", step, got, want)
		}
	}
	check("nothing expected", true)
	e.Expect(k, 2, nil)
	e.Expect(k, 0, pods("a"))
	check("pending", false)
	e.CreationsObserved(k, 1)
	e.CreationsObserved(other, 1)
	e.DeletionObserved(k, "a")
	e.DeletionObserved(k, "unrelated")
	check("one creation left", false)
	e.CreationsObserved(k, 1)
	check("all observed", true)

	e.Expect(k, 1, nil)
	clk.SetTime(t0.Add(Timeout + time.Second))
	check("expired", true)
	e.Expect(k, 1, nil)
	e.CreationsObserved(k, 1)
	check("an expired entry starts over", true)

	e.Expect(k, 1, nil)
	e.Forget(k)
	check("forgotten", true)
}
