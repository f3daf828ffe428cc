package nodelifecycle

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"
)

func TestZoneKey(t *testing.T) {
	tests := []struct {
		labels map[string]string
		want   string
	}{
		{nil, ""},
		{map[string]string{corev1.LabelTopologyRegion: "r", corev1.LabelTopologyZone: "z"}, "r:\x00:z"},
		{map[string]string{corev1.LabelFailureDomainBetaRegion: "r", corev1.LabelFailureDomainBetaZone: "z"}, "r:\x00:z"},
		{map[string]string{corev1.LabelTopologyZone: "z", corev1.LabelFailureDomainBetaZone: "old"}, ":\x00:z"},
	}
	for _, tt := range tests {
		if got := zoneKey(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: tt.labels}}); got != tt.want {
			t.Errorf("zoneKey(%v) = %q, want %q", tt.labels, got, tt.want)
		}
	}
}

func TestComputeZoneState(t *testing.T) {
	const T, F, U = corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown
	tests := []struct {
		name     string
		ready    []corev1.ConditionStatus
		notReady int
		state    zoneState
	}{
		{name: "all ready", ready: []corev1.ConditionStatus{T, T, T}, state: zoneNormal},
		{name: "one down of three", ready: []corev1.ConditionStatus{T, T, U}, notReady: 1, state: zoneNormal},
		{name: "all down", ready: []corev1.ConditionStatus{U, F}, notReady: 2, state: zoneFullDisruption},
		{name: "a lone node down", ready: []corev1.ConditionStatus{U}, notReady: 1, state: zoneFullDisruption},
		{name: "no condition counts as not ready", ready: []corev1.ConditionStatus{""}, notReady: 1, state: zoneFullDisruption},
		{name: "two of three is not more than two", ready: []corev1.ConditionStatus{T, U, U}, notReady: 2, state: zoneNormal},
		{name: "three of five is partial", ready: []corev1.ConditionStatus{T, T, U, U, F}, notReady: 3, state: zonePartialDisruption},
		{name: "three of six is below 55%", ready: []corev1.ConditionStatus{T, T, T, U, U, F}, notReady: 3, state: zoneNormal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, s := computeZoneState(tt.ready, 0.55)
			if n != tt.notReady || s != tt.state {
				t.Errorf("computeZoneState = %d, %v; want %d, %v", n, s, tt.notReady, tt.state)
			}
		})
	}
}

func TestRatesForState(t *testing.T) {
	r := rates{primary: 0.1, secondary: 0.01, largeCluster: 50}
	tests := []struct {
		state zoneState
		size  int
		want  float64
	}{
		{zoneNormal, 3, 0.1},
		{zoneFullDisruption, 3, 0.1},
		{zonePartialDisruption, 50, 0},
		{zonePartialDisruption, 51, 0.01},
	}
	for _, tt := range tests {
		if got := r.forState(tt.state, tt.size); got != tt.want {
			t.Errorf("forState(%v, %d) = %v, want %v", tt.state, tt.size, got, tt.want)
		}
	}
}

func TestTaintQueue(t *testing.T) {
	clk := testingclock.NewFakeClock(t0)
	q := newTaintQueue(0.1, clk)
	var tainted []string
	fail := map[string]bool{"flaky": true}
	taint := func(n string) (bool, time.Duration) {
		if fail[n] {
			delete(fail, n)
			return false, time.Second
		}
		tainted = append(tainted, n)
		return true, 0
	}
	for _, n := range []string{"a", "b", "a", "c"} {
		q.add(n, clk.Now())
	}
	steps := []struct {
		advance time.Duration
		want    []string
	}{
		{0, []string{"a"}},               // the burst of one
		{5 * time.Second, []string{"a"}}, // half a token
		{5 * time.Second, []string{"a", "b"}},
		{10 * time.Second, []string{"a", "b", "c"}},
		{100 * time.Second, []string{"a", "b", "c"}}, // queue empty; a token kept
	}
	for i, s := range steps {
		clk.Step(s.advance)
		q.process(clk.Now(), taint)
		if diff := cmp.Diff(s.want, tainted); diff != "" {
			t.Fatalf("step %d (-want +got):\n%s", i, diff)
		}
	}

	// A failed node is retried once it is due again, taking a token each time.
	q.add("flaky", clk.Now())
	q.add("d", clk.Now())
	q.process(clk.Now(), taint) // flaky fails, and spent the token
	clk.Step(10 * time.Second)
	q.process(clk.Now(), taint) // d is due first
	clk.Step(10 * time.Second)
	q.process(clk.Now(), taint)
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "flaky"}, tainted); diff != "" {
		t.Errorf("after retry (-want +got):\n%s", diff)
	}

	// Removed nodes are never tainted; a zero rate stops everything.
	q.add("e", clk.Now())
	q.remove("e")
	q.add("f", clk.Now())
	q.setRate(0)
	clk.Step(time.Hour)
	q.process(clk.Now(), taint)
	if len(tainted) != 5 {
		t.Errorf("tainted %v while stopped", tainted)
	}
	q.setRate(0.1) // starts empty, as the stopped bucket was
	q.process(clk.Now(), taint)
	if len(tainted) != 5 {
		t.Errorf("tainted %v at once on resuming", tainted)
	}
	clk.Step(10 * time.Second)
	q.process(clk.Now(), taint)
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "flaky", "f"}, tainted); diff != "" {
		t.Errorf("after resuming (-want +got):\n%s", diff)
	}
}
