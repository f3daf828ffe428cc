package plugins

import (
	"context"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"berth.dev/berth/internal/scheduler/framework"
)

// NodeAffinity rejects nodes that do not match the pod's nodeSelector and
// required node affinity, and scores nodes by the summed weights of the
// preferred terms they match.
type NodeAffinity struct{}

var (
	_ framework.FilterPlugin    = NodeAffinity{}
	_ framework.ScorePlugin     = NodeAffinity{}
	_ framework.ScoreNormalizer = NodeAffinity{}
)

// ReasonNodeAffinity is NodeAffinity's reason.
const ReasonNodeAffinity = "node(s) didn't match Pod's node affinity/selector"

// Name returns "NodeAffinity".
func (NodeAffinity) Name() string { return "NodeAffinity" }

// Filter implements framework.FilterPlugin.
func (NodeAffinity) Filter(_ context.Context, _ *framework.CycleState, pod *v1.Pod, n *framework.NodeInfo) *framework.Status {
	if n.Node == nil {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonNodeUnknown)
	}
	if !RequiredNodeAffinityMatches(pod, n.Node) {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonNodeAffinity)
	}
	return nil
}

// RequiredNodeAffinityMatches reports whether node satisfies pod's
// nodeSelector (every label) and its required node affinity (any term).
func RequiredNodeAffinityMatches(pod *v1.Pod, node *v1.Node) bool {
	for k, v := range pod.Spec.NodeSelector {
		if got, ok := node.Labels[k]; !ok || got != v {
			return false
		}
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if termMatches(&term, node) {
			return true
		}
	}
	return false
}

// termMatches reports whether node matches every expression and field of
// term. An empty or invalid term matches nothing, as upstream.
func termMatches(term *v1.NodeSelectorTerm, node *v1.Node) bool {
	if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
		return false
	}
	if len(term.MatchExpressions) > 0 {
		sel, ok := requirementsSelector(term.MatchExpressions)
		if !ok || !sel.Matches(labels.Set(node.Labels)) {
			return false
		}
	}
	if len(term.MatchFields) > 0 {
		sel, ok := requirementsSelector(term.MatchFields)
		// Only metadata.name is a valid field, as upstream's validation.
		for _, r := range term.MatchFields {
			ok = ok && r.Key == "metadata.name"
		}
		if !ok || !sel.Matches(labels.Set{"metadata.name": node.Name}) {
			return false
		}
	}
	return true
}

var operators = map[v1.NodeSelectorOperator]selection.Operator{
	v1.NodeSelectorOpIn:           selection.In,
	v1.NodeSelectorOpNotIn:        selection.NotIn,
	v1.NodeSelectorOpExists:       selection.Exists,
	v1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
	v1.NodeSelectorOpGt:           selection.GreaterThan,
	v1.NodeSelectorOpLt:           selection.LessThan,
}

// requirementsSelector turns node selector requirements into a label
// selector; ok is false when one of them is invalid.
func requirementsSelector(reqs []v1.NodeSelectorRequirement) (labels.Selector, bool) {
	sel := labels.NewSelector()
	for _, r := range reqs {
		op, known := operators[r.Operator]
		if !known {
			return nil, false
		}
		req, err := labels.NewRequirement(r.Key, op, r.Values)
		if err != nil {
			return nil, false
		}
		sel = sel.Add(*req)
	}
	return sel, true
}

// Score implements framework.ScorePlugin: the sum of the weights of the
// preferred terms node matches.
func (NodeAffinity) Score(_ context.Context, _ *framework.CycleState, pod *v1.Pod, n *framework.NodeInfo) (int64, *framework.Status) {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil {
		return 0, nil
	}
	var sum int64
	for _, t := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		if t.Weight != 0 && termMatches(&t.Preference, n.Node) {
			sum += int64(t.Weight)
		}
	}
	return sum, nil
}

// NormalizeScore implements framework.ScoreNormalizer: the best node
// scores MaxNodeScore.
func (NodeAffinity) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *v1.Pod, scores []framework.NodeScore) *framework.Status {
	framework.DefaultNormalizeScore(framework.MaxNodeScore, false, scores)
	return nil
}
