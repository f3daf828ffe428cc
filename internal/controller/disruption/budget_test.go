package disruption

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func readyPod(name string, ready bool) *corev1.Pod {
	s := corev1.ConditionFalse
	if ready {
		s = corev1.ConditionTrue
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: s}}}}
}

func TestExpectations(t *testing.T) {
	pods := []*corev1.Pod{readyPod("a", true), readyPod("b", true), readyPod("c", false)}
	scaleOf := func(n int32) func([]*corev1.Pod) (int32, []string, error) {
		return func([]*corev1.Pod) (int32, []string, error) { return n, []string{"lonely"}, nil }
	}
	int32p := func(v intstr.IntOrString) *intstr.IntOrString { return &v }
	tests := []struct {
		name              string
		spec              policyv1.PodDisruptionBudgetSpec
		scale             int32
		expected, desired int32
		wantUnmanaged     bool
		wantErr           bool
		scaleFails        bool
	}{
		{name: "minAvailable number counts the pods", spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: int32p(intstr.FromInt32(2))}, scale: 10, expected: 3, desired: 2},
		{name: "minAvailable percent of the scale, rounded up", spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: int32p(intstr.FromString("50%"))}, scale: 5, expected: 5, desired: 3, wantUnmanaged: true},
		{name: "maxUnavailable number", spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: int32p(intstr.FromInt32(1))}, scale: 4, expected: 4, desired: 3, wantUnmanaged: true},
		{name: "maxUnavailable percent, rounded up", spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: int32p(intstr.FromString("30%"))}, scale: 5, expected: 5, desired: 3, wantUnmanaged: true},
		{name: "maxUnavailable beyond the scale", spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: int32p(intstr.FromInt32(9))}, scale: 4, expected: 4, desired: 0, wantUnmanaged: true},
		{name: "neither", scale: 4},
		{name: "bad percentage", spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: int32p(intstr.FromString("half"))}, scale: 4, wantErr: true},
		{name: "scale fails", spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: int32p(intstr.FromInt32(1))}, scaleFails: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := scaleOf(tt.scale)
			if tt.scaleFails {
				f = func([]*corev1.Pod) (int32, []string, error) { return 0, nil, errors.New("no controller") }
			}
			expected, desired, unmanaged, err := expectations(&policyv1.PodDisruptionBudget{Spec: tt.spec}, pods, f)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (expected != tt.expected || desired != tt.desired || (len(unmanaged) > 0) != tt.wantUnmanaged) {
				t.Errorf("expected %d desired %d unmanaged %v; want %d, %d, unmanaged %v", expected, desired, unmanaged, tt.expected, tt.desired, tt.wantUnmanaged)
			}
		})
	}
}

func TestDisruptedAndHealthy(t *testing.T) {
	now := t0
	deleting := readyPod("deleting", true)
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	pods := []*corev1.Pod{readyPod("fresh", true), readyPod("old", true), readyPod("plain", true), readyPod("unready", false), deleting, readyPod("edge", true)}
	pdb := &policyv1.PodDisruptionBudget{Status: policyv1.PodDisruptionBudgetStatus{DisruptedPods: map[string]metav1.Time{
		"fresh":    metav1.NewTime(now.Add(-time.Minute)),
		"old":      metav1.NewTime(now.Add(-3 * time.Minute)),
		"edge":     metav1.NewTime(now.Add(-2 * time.Minute)),
		"deleting": metav1.NewTime(now.Add(-time.Minute)),
		"gone":     metav1.NewTime(now.Add(-time.Minute)),
	}}}
	got, recheck := disrupted(pdb, pods, now)
	if diff := cmp.Diff(map[string]metav1.Time{"fresh": metav1.NewTime(now.Add(-time.Minute))}, got); diff != "" {
		t.Errorf("disrupted (-want +got):\n%s", diff)
	}
	if recheck == nil || !recheck.Equal(now.Add(time.Minute)) {
		t.Errorf("recheck at %v, want %v", recheck, now.Add(time.Minute))
	}
	// fresh is disrupted, unready not Ready, deleting being deleted.
	if n := healthy(pods, got); n != 3 {
		t.Errorf("healthy = %d, want 3 (old, plain, edge)", n)
	}
	if _, recheck := disrupted(&policyv1.PodDisruptionBudget{}, pods, now); recheck != nil {
		t.Error("recheck without disrupted pods")
	}
}

func TestStatus(t *testing.T) {
	earlier := metav1.NewTime(t0.Add(-time.Hour))
	sufficient := metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionTrue, Reason: policyv1.SufficientPodsReason, ObservedGeneration: 2, LastTransitionTime: earlier}
	tests := []struct {
		name                       string
		have                       policyv1.PodDisruptionBudgetStatus
		current, desired, expected int32
		want                       policyv1.PodDisruptionBudgetStatus
		changed                    bool
	}{
		{
			name: "first status", current: 3, desired: 2, expected: 3, changed: true,
			want: policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 2, DisruptionsAllowed: 1, CurrentHealthy: 3, DesiredHealthy: 2, ExpectedPods: 3,
				Conditions: []metav1.Condition{{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionTrue, Reason: policyv1.SufficientPodsReason, ObservedGeneration: 2, LastTransitionTime: metav1.NewTime(t0)}}},
		},
		{
			name: "unchanged",
			have: policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 2, DisruptionsAllowed: 1, CurrentHealthy: 3, DesiredHealthy: 2, ExpectedPods: 3, DisruptedPods: map[string]metav1.Time{},
				Conditions: []metav1.Condition{sufficient}},
			current: 3, desired: 2, expected: 3,
			want: policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 2, DisruptionsAllowed: 1, CurrentHealthy: 3, DesiredHealthy: 2, ExpectedPods: 3,
				Conditions: []metav1.Condition{sufficient}},
		},
		{
			name:    "too few healthy: none allowed, never negative",
			have:    policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{sufficient, {Type: "Other", Status: metav1.ConditionTrue, Reason: "X", LastTransitionTime: earlier}}},
			current: 1, desired: 2, expected: 3, changed: true,
			want: policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 2, DisruptionsAllowed: 0, CurrentHealthy: 1, DesiredHealthy: 2, ExpectedPods: 3,
				Conditions: []metav1.Condition{
					{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse, Reason: policyv1.InsufficientPodsReason, ObservedGeneration: 2, LastTransitionTime: metav1.NewTime(t0)},
					{Type: "Other", Status: metav1.ConditionTrue, Reason: "X", LastTransitionTime: earlier},
				}},
		},
		{
			name: "no expected pods: none allowed", current: 2, desired: 0, expected: 0, changed: true,
			want: policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 2, CurrentHealthy: 2,
				Conditions: []metav1.Condition{{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse, Reason: policyv1.InsufficientPodsReason, ObservedGeneration: 2, LastTransitionTime: metav1.NewTime(t0)}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Generation: 2}, Status: tt.have}
			got, changed := status(pdb, tt.current, tt.desired, tt.expected, nil, t0)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			if changed != tt.changed {
				t.Errorf("changed = %v, want %v", changed, tt.changed)
			}
		})
	}
}

func TestFailedStatus(t *testing.T) {
	pdb := &policyv1.PodDisruptionBudget{Status: policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 1, DisruptionsAllowed: 2, CurrentHealthy: 4}}
	got := failedStatus(pdb, errors.New(`found no controllers for pod "a"`), t0)
	want := policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 1, CurrentHealthy: 4, Conditions: []metav1.Condition{{
		Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse, Reason: policyv1.SyncFailedReason,
		Message: `found no controllers for pod "a"`, ObservedGeneration: 1, LastTransitionTime: metav1.NewTime(t0),
	}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if pdb.Status.DisruptionsAllowed != 2 {
		t.Error("failedStatus changed the budget it was given")
	}
}

func TestStaleCondition(t *testing.T) {
	cond := func(status corev1.ConditionStatus, reason string, age time.Duration) []corev1.PodCondition {
		return []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: status, Reason: reason, LastTransitionTime: metav1.NewTime(t0.Add(-age))}}
	}
	tests := []struct {
		name  string
		pod   corev1.Pod
		stale bool
		after time.Duration
	}{
		{name: "no condition"},
		{name: "fresh", pod: corev1.Pod{Status: corev1.PodStatus{Conditions: cond(corev1.ConditionTrue, "EvictionByEvictionAPI", 30*time.Second)}}, stale: true, after: 90 * time.Second},
		{name: "old", pod: corev1.Pod{Status: corev1.PodStatus{Conditions: cond(corev1.ConditionTrue, "DeletionByTaintManager", 5*time.Minute)}}, stale: true},
		{name: "false already", pod: corev1.Pod{Status: corev1.PodStatus{Conditions: cond(corev1.ConditionFalse, "", 5*time.Minute)}}},
		{name: "set by the kubelet", pod: corev1.Pod{Status: corev1.PodStatus{Conditions: cond(corev1.ConditionTrue, corev1.PodReasonTerminationByKubelet, 5*time.Minute)}}},
		{name: "finished", pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Conditions: cond(corev1.ConditionTrue, "X", 5*time.Minute)}}},
		{name: "being deleted", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &metav1.Time{Time: t0}}, Status: corev1.PodStatus{Conditions: cond(corev1.ConditionTrue, "X", 5*time.Minute)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stale, after := staleCondition(&tt.pod, t0)
			if stale != tt.stale || after != tt.after {
				t.Errorf("staleCondition = %v, %v; want %v, %v", stale, after, tt.stale, tt.after)
			}
		})
	}
}
