package replicaset

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestExpectations(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(t0)
	e := newExpectations(clk)
	k := key{kind: kindReplicaSet, namespace: "ns", name: "web"}
	other := key{kind: kindReplicationController, namespace: "ns", name: "web"}
	if !e.satisfied(k) {
		t.Fatalf("no expectations: want satisfied")
	}
	e.expectCreations(k, 2)
	e.creationObserved(k)
	if e.satisfied(k) || !e.satisfied(other) {
		t.Fatalf("one of two creations seen: want %v unsatisfied only", k)
	}
	e.creationObserved(k)
	if !e.satisfied(k) {
		t.Fatalf("both creations seen: want satisfied")
	}

	e.expectDeletions(k, []types.UID{"a", "b"})
	e.deletionObserved(k, "a")
	e.deletionObserved(k, "a") // a second event for the same pod must not count twice
	e.deletionObserved(k, "x")
	if e.satisfied(k) {
		t.Fatalf("b not yet deleted: want unsatisfied")
	}
	clk.SetTime(t0.Add(expectationsTimeout + time.Second))
	if !e.satisfied(k) {
		t.Fatalf("expired: want satisfied")
	}
	e.expectCreations(k, 1)
	e.forget(k)
	if !e.satisfied(k) {
		t.Fatalf("forgotten: want satisfied")
	}
}
