package plugins

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"

	"berth.dev/berth/internal/scheduler/framework"
)

// TaintToleration rejects nodes with a NoSchedule or NoExecute taint the
// pod does not tolerate, and prefers nodes with fewer untolerated
// PreferNoSchedule taints.
type TaintToleration struct{}

var (
	_ framework.FilterPlugin    = TaintToleration{}
	_ framework.ScorePlugin     = TaintToleration{}
	_ framework.ScoreNormalizer = TaintToleration{}
)

// Name returns "TaintToleration".
func (TaintToleration) Name() string { return "TaintToleration" }

// Filter implements framework.FilterPlugin; the reason names the first
// untolerated taint: "node(s) had untolerated taint {key: value}".
func (TaintToleration) Filter(_ context.Context, _ *framework.CycleState, pod *v1.Pod, n *framework.NodeInfo) *framework.Status {
	if n.Node == nil {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonNodeUnknown)
	}
	for i := range n.Node.Spec.Taints {
		t := &n.Node.Spec.Taints[i]
		if t.Effect != v1.TaintEffectNoSchedule && t.Effect != v1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(pod.Spec.Tolerations, t) {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable,
				fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value))
		}
	}
	return nil
}

// Score implements framework.ScorePlugin: the number of PreferNoSchedule
// taints not tolerated by the pod's tolerations with an empty or
// PreferNoSchedule effect (lower is better; see NormalizeScore).
func (TaintToleration) Score(_ context.Context, _ *framework.CycleState, pod *v1.Pod, n *framework.NodeInfo) (int64, *framework.Status) {
	var tols []v1.Toleration
	for _, t := range pod.Spec.Tolerations {
		if t.Effect == "" || t.Effect == v1.TaintEffectPreferNoSchedule {
			tols = append(tols, t)
		}
	}
	var count int64
	for i := range n.Node.Spec.Taints {
		t := &n.Node.Spec.Taints[i]
		if t.Effect == v1.TaintEffectPreferNoSchedule && !tolerates(tols, t) {
			count++
		}
	}
	return count, nil
}

// NormalizeScore implements framework.ScoreNormalizer, reversed: the node
// with the most untolerated taints scores 0.
func (TaintToleration) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *v1.Pod, scores []framework.NodeScore) *framework.Status {
	framework.DefaultNormalizeScore(framework.MaxNodeScore, true, scores)
	return nil
}
