package job

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestExpectations(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(t0)
	e := newExpectations(clk)
	k := cache.ObjectName{Namespace: "ns", Name: "j"}
	other := cache.ObjectName{Namespace: "ns", Name: "other"}
	check := func(step string, want bool) {
		t.Helper()
		if got := e.satisfied(k); got != want {
			t.Errorf("%s: satisfied = %v, want %v", step, got, want)
		}
	}
	check("nothing expected", true)
	e.expectCreations(k, 2)
	e.expectDeletions(k, []*corev1.Pod{{ObjectMeta: metav1.ObjectMeta{UID: "a"}}})
	check("pending", false)
	e.creationObserved(k)
	e.creationObserved(other)
	e.deletionObserved(k, "a")
	e.deletionObserved(k, "unrelated")
	check("one creation left", false)
	e.creationObserved(k)
	check("all observed", true)

	e.expectCreations(k, 1)
	clk.SetTime(t0.Add(expectationsTimeout + time.Second))
	check("expired", true)
	e.expectCreations(k, 1)
	e.creationObserved(k)
	check("an expired entry starts over", true)

	e.expectCreations(k, 1)
	e.forget(k)
	check("forgotten", true)
}
