package podautoscaler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

func rules(window int32, sel autoscalingv2.ScalingPolicySelect, policies ...autoscalingv2.HPAScalingPolicy) *autoscalingv2.HPAScalingRules {
	return &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &window, SelectPolicy: &sel, Policies: policies}
}

func pods(n, period int32) autoscalingv2.HPAScalingPolicy {
	return autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PodsScalingPolicy, Value: n, PeriodSeconds: period}
}

func percent(n, period int32) autoscalingv2.HPAScalingPolicy {
	return autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PercentScalingPolicy, Value: n, PeriodSeconds: period}
}

func TestStabilize(t *testing.T) {
	b := autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleUp:   rules(60, autoscalingv2.MaxChangePolicySelect),
		ScaleDown: rules(300, autoscalingv2.MaxChangePolicySelect),
	}
	tests := []struct {
		name       string
		past       []recommendation
		current    int32
		desired    int32
		want       int32
		wantReason string
	}{
		{name: "no history", current: 3, desired: 5, want: 5, wantReason: "ReadyForNewScale"},
		{name: "scale down held by a recent higher recommendation", current: 5, desired: 2,
			past: []recommendation{{5, testNow.Add(-time.Minute)}, {4, testNow.Add(-30 * time.Second)}}, want: 5, wantReason: "ScaleDownStabilized"},
		{name: "scale down once the window passed", current: 5, desired: 2,
			past: []recommendation{{5, testNow.Add(-6 * time.Minute)}, {3, testNow.Add(-time.Minute)}}, want: 3, wantReason: "ScaleDownStabilized"},
		{name: "scale up held by a recent lower recommendation", current: 2, desired: 6,
			past: []recommendation{{4, testNow.Add(-30 * time.Second)}}, want: 4, wantReason: "ScaleUpStabilized"},
		{name: "scale up to the lowest in window", current: 2, desired: 6,
			past: []recommendation{{3, testNow.Add(-2 * time.Minute)}, {7, testNow.Add(-10 * time.Second)}}, want: 6, wantReason: "ReadyForNewScale"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &history{recommendations: append([]recommendation(nil), tc.past...)}
			got, reason, _ := stabilize(h, b, tc.current, tc.desired, testNow)
			if got != tc.want || reason != tc.wantReason {
				t.Errorf("stabilize = %d %s, want %d %s", got, reason, tc.want, tc.wantReason)
			}
			if n := len(h.recommendations); n == 0 || !h.recommendations[n-1].at.Equal(testNow) && !containsAt(h.recommendations, testNow) {
				t.Errorf("recommendation not recorded: %+v", h.recommendations)
			}
		})
	}
}

func containsAt(rs []recommendation, at time.Time) bool {
	for _, r := range rs {
		if r.at.Equal(at) {
			return true
		}
	}
	return false
}

func TestLimitRate(t *testing.T) {
	up := func(r *autoscalingv2.HPAScalingRules) autoscalingv2.HorizontalPodAutoscalerBehavior {
		return autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: r, ScaleDown: rules(0, autoscalingv2.MaxChangePolicySelect, percent(100, 15))}
	}
	down := func(r *autoscalingv2.HPAScalingRules) autoscalingv2.HorizontalPodAutoscalerBehavior {
		return autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(0, autoscalingv2.MaxChangePolicySelect, pods(4, 15)), ScaleDown: r}
	}
	tests := []struct {
		name       string
		b          autoscalingv2.HorizontalPodAutoscalerBehavior
		h          history
		l          limits
		desired    int32
		want       int32
		wantReason string
	}{
		{name: "within range", b: up(rules(0, autoscalingv2.MaxChangePolicySelect, pods(4, 15))), l: limits{3, 1, 10}, desired: 5, want: 5, wantReason: "DesiredWithinRange"},
		{name: "max replicas", b: up(rules(0, autoscalingv2.MaxChangePolicySelect, pods(100, 15))), l: limits{3, 1, 10}, desired: 50, want: 10, wantReason: "TooManyReplicas"},
		{name: "pods policy", b: up(rules(0, autoscalingv2.MaxChangePolicySelect, pods(2, 15))), l: limits{3, 1, 10}, desired: 8, want: 5, wantReason: "ScaleUpLimit"},
		{name: "max of pods and percent", b: up(rules(0, autoscalingv2.MaxChangePolicySelect, pods(2, 15), percent(100, 15))), l: limits{3, 1, 10}, desired: 8, want: 6, wantReason: "ScaleUpLimit"},
		{name: "min of pods and percent", b: up(rules(0, autoscalingv2.MinChangePolicySelect, pods(2, 15), percent(100, 15))), l: limits{3, 1, 10}, desired: 8, want: 5, wantReason: "ScaleUpLimit"},
		{name: "percent rounds up", b: up(rules(0, autoscalingv2.MaxChangePolicySelect, percent(10, 15))), l: limits{3, 1, 10}, desired: 8, want: 4, wantReason: "ScaleUpLimit"},
		{name: "scale up disabled", b: up(rules(0, autoscalingv2.DisabledPolicySelect, pods(4, 15))), l: limits{3, 1, 10}, desired: 8, want: 3, wantReason: "ScaleUpLimit"},
		{name: "recent scale up counts in the period", b: up(rules(0, autoscalingv2.MaxChangePolicySelect, pods(4, 60))),
			h: history{ups: []scaleEvent{{3, testNow.Add(-30 * time.Second)}, {10, testNow.Add(-2 * time.Minute)}}}, l: limits{6, 1, 20}, desired: 12, want: 7, wantReason: "ScaleUpLimit"},
		{name: "min replicas", b: down(rules(0, autoscalingv2.MaxChangePolicySelect, percent(100, 15))), l: limits{5, 2, 10}, desired: 1, want: 2, wantReason: "TooFewReplicas"},
		{name: "scale down pods policy", b: down(rules(0, autoscalingv2.MaxChangePolicySelect, pods(1, 60))), l: limits{5, 1, 10}, desired: 1, want: 4, wantReason: "ScaleDownLimit"},
		{name: "scale down percent truncates", b: down(rules(0, autoscalingv2.MaxChangePolicySelect, percent(50, 60))), l: limits{5, 1, 10}, desired: 1, want: 2, wantReason: "ScaleDownLimit"},
		{name: "scale down min change", b: down(rules(0, autoscalingv2.MinChangePolicySelect, pods(1, 60), percent(50, 60))), l: limits{6, 1, 10}, desired: 1, want: 5, wantReason: "ScaleDownLimit"},
		{name: "recent scale down counts", b: down(rules(0, autoscalingv2.MaxChangePolicySelect, pods(2, 60))),
			h: history{downs: []scaleEvent{{2, testNow.Add(-10 * time.Second)}}}, l: limits{6, 1, 10}, desired: 1, want: 6, wantReason: "ScaleDownLimit"},
		{name: "scale down disabled", b: down(rules(0, autoscalingv2.DisabledPolicySelect, pods(2, 60))), l: limits{6, 1, 10}, desired: 1, want: 6, wantReason: "ScaleDownLimit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reason, _ := limitRate(&tc.h, tc.b, tc.l, tc.desired, testNow)
			if got != tc.want || reason != tc.wantReason {
				t.Errorf("limitRate = %d %s, want %d %s", got, reason, tc.want, tc.wantReason)
			}
		})
	}
}

func TestRecordAndDefaults(t *testing.T) {
	b := defaultBehavior(nil, 5*time.Minute)
	if got := *b.ScaleDown.StabilizationWindowSeconds; got != 300 {
		t.Errorf("default scale-down window = %d", got)
	}
	h := &history{}
	h.record(b, 2, 6, testNow.Add(-time.Minute))
	h.record(b, 6, 8, testNow) // the first is older than 15 s: reused
	h.record(b, 8, 5, testNow)
	want := history{ups: []scaleEvent{{2, testNow}}, downs: []scaleEvent{{3, testNow}}}
	if d := cmp.Diff(want, *h, cmp.AllowUnexported(history{}, scaleEvent{})); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestLegacy(t *testing.T) {
	h := &history{recommendations: []recommendation{{9, testNow.Add(-time.Minute)}, {2, testNow.Add(-10 * time.Minute)}}}
	if got, reason, _ := stabilizeLegacy(h, 5*time.Minute, 7, testNow); got != 9 || reason != "ScaleDownStabilized" {
		t.Errorf("stabilizeLegacy = %d %s, want 9 ScaleDownStabilized", got, reason)
	}
	if d := cmp.Diff([]recommendation{{9, testNow.Add(-time.Minute)}, {7, testNow}}, h.recommendations, cmp.AllowUnexported(recommendation{})); d != "" {
		t.Errorf("old recommendation not replaced (-want +got):\n%s", d)
	}
	for _, tc := range []struct {
		l       limits
		desired int32
		want    int32
		reason  string
	}{
		{limits{1, 1, 10}, 8, 4, "ScaleUpLimit"},
		{limits{3, 1, 10}, 8, 6, "ScaleUpLimit"},
		{limits{3, 1, 5}, 8, 5, "TooManyReplicas"},
		{limits{3, 2, 10}, 1, 2, "TooFewReplicas"},
		{limits{3, 1, 10}, 5, 5, "DesiredWithinRange"},
	} {
		if got, reason, _ := limitLegacy(tc.l, tc.desired); got != tc.want || reason != tc.reason {
			t.Errorf("limitLegacy(%+v, %d) = %d %s, want %d %s", tc.l, tc.desired, got, reason, tc.want, tc.reason)
		}
	}
}
