package framework

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"

	v1 "k8s.io/api/core/v1"
)

// WeightedScore is a score plugin and the weight of its normalised score
// in a node's total.
type WeightedScore struct {
	Plugin ScorePlugin
	Weight int64
}

// Framework runs a profile's plugins over a snapshot. Plugins run in the
// order given; a node's filtering stops at the first plugin that rejects
// it. Set the exported fields before first use; a Framework must not be
// copied after.
type Framework struct {
	PreFilters []PreFilterPlugin
	Filters    []FilterPlugin
	Scores     []WeightedScore
	// Pick returns an index in [0, n) to choose among n nodes that share
	// the best score. Nil picks the first in evaluation order, which makes
	// Schedule deterministic.
	Pick func(n int) int
	// PercentageOfNodesToScore bounds the search in large clusters as
	// upstream: filtering stops once this share of the nodes (at least
	// 100) is found feasible. Zero means adaptive: 50% less 1% per 125
	// nodes, at least 5%.
	PercentageOfNodesToScore int32

	// nextStart is where the next search begins, so that successive pods
	// look at different nodes first.
	nextStart atomic.Int64
}

// numFeasibleNodesToFind returns how many feasible nodes are enough.
func (f *Framework) numFeasibleNodesToFind(numAllNodes int) int {
	const minNodes, minPercentage, basePercentage = 100, 5, 50
	if numAllNodes < minNodes {
		return numAllNodes
	}
	pct := int(f.PercentageOfNodesToScore)
	if pct <= 0 {
		pct = max(basePercentage-numAllNodes/125, minPercentage)
	}
	return max(numAllNodes*min(pct, 100)/100, minNodes)
}

// Result is a successful scheduling decision.
type Result struct {
	// NodeName is the chosen node.
	NodeName string
	// Feasible is how many nodes passed the filters.
	Feasible int
}

// Schedule picks a node for pod in snap. When no node fits it returns a
// *FitError that explains why, node by node; any other error is an
// internal failure of a plugin.
func (f *Framework) Schedule(ctx context.Context, pod *v1.Pod, snap *Snapshot) (Result, error) {
	fitErr := &FitError{Pod: pod, NumAllNodes: len(snap.Nodes), NodeStatuses: map[string]*Status{}}
	if len(snap.Nodes) == 0 {
		return Result{}, fitErr
	}
	state := NewCycleState()
	for _, pl := range f.PreFilters {
		st := pl.PreFilter(ctx, state, pod, snap).WithPlugin(pl.Name())
		if st.IsSuccess() {
			continue
		}
		if !st.IsRejected() {
			return Result{}, fmt.Errorf("running PreFilter plugin %q: %s", pl.Name(), st.Message())
		}
		fitErr.PreFilterMsg = st.Message()
		for _, n := range snap.Nodes {
			fitErr.NodeStatuses[n.Name()] = st
		}
		fitErr.Preemption, fitErr.PostFilterMsg = f.preempt(ctx, state, pod, snap, fitErr.NodeStatuses)
		return Result{}, fitErr
	}
	var feasible []*NodeInfo
	enough := f.numFeasibleNodesToFind(len(snap.Nodes))
	start := int(f.nextStart.Load() % int64(len(snap.Nodes)))
	processed := 0
	for i := range snap.Nodes {
		if len(feasible) >= enough {
			break
		}
		n := snap.Nodes[(start+i)%len(snap.Nodes)]
		processed++
		st := f.filterWithNominated(ctx, state, pod, n, snap)
		switch {
		case st.IsSuccess():
			feasible = append(feasible, n)
		case st.IsRejected():
			fitErr.NodeStatuses[n.Name()] = st
		default:
			return Result{}, fmt.Errorf("running Filter plugin %q on node %q: %s", st.Plugin(), n.Name(), st.Message())
		}
	}
	f.nextStart.Store(int64((start + processed) % len(snap.Nodes)))
	if len(feasible) == 0 {
		fitErr.Preemption, fitErr.PostFilterMsg = f.preempt(ctx, state, pod, snap, fitErr.NodeStatuses)
		return Result{}, fitErr
	}
	if len(feasible) == 1 {
		return Result{NodeName: feasible[0].Name(), Feasible: 1}, nil
	}
	totals, err := f.score(ctx, state, pod, feasible)
	if err != nil {
		return Result{}, err
	}
	var best []int
	for i, t := range totals {
		switch {
		case len(best) == 0 || t > totals[best[0]]:
			best = append(best[:0], i)
		case t == totals[best[0]]:
			best = append(best, i)
		}
	}
	choice := best[0]
	if f.Pick != nil && len(best) > 1 {
		choice = best[f.Pick(len(best))]
	}
	return Result{NodeName: feasible[choice].Name(), Feasible: len(feasible)}, nil
}

// filterWithNominated runs the filters on n as upstream does with
// nominated pods: first with the pods nominated to n that pod must leave
// room for (told to the PreFilter extensions on a copy of state), then, if
// that passes, without them, as they may never come.
func (f *Framework) filterWithNominated(ctx context.Context, state *CycleState, pod *v1.Pod, n *NodeInfo, snap *Snapshot) *Status {
	withNominated, added := snap.withNominated(n, pod)
	if len(added) == 0 {
		return f.RunFilters(ctx, state, pod, n)
	}
	nomState := state.Clone()
	for _, pi := range added {
		if st := f.tellPreFilters(ctx, nomState, pod, pi, withNominated, true); !st.IsSuccess() {
			return st
		}
	}
	if st := f.RunFilters(ctx, nomState, pod, withNominated); !st.IsSuccess() {
		return st
	}
	return f.RunFilters(ctx, state, pod, n)
}

// RunFilters runs the filters on one node and returns the first rejection
// (or error), with its plugin's name set; nil when the node fits.
func (f *Framework) RunFilters(ctx context.Context, state *CycleState, pod *v1.Pod, n *NodeInfo) *Status {
	for _, pl := range f.Filters {
		if st := pl.Filter(ctx, state, pod, n); !st.IsSuccess() {
			return st.WithPlugin(pl.Name())
		}
	}
	return nil
}

// score returns each node's weighted total over all score plugins.
func (f *Framework) score(ctx context.Context, state *CycleState, pod *v1.Pod, nodes []*NodeInfo) ([]int64, error) {
	totals := make([]int64, len(nodes))
	scores := make([]NodeScore, len(nodes))
	for _, ws := range f.Scores {
		if ps, ok := ws.Plugin.(PreScorePlugin); ok {
			if st := ps.PreScore(ctx, state, pod, nodes); !st.IsSuccess() {
				return nil, fmt.Errorf("running PreScore plugin %q: %s", ws.Plugin.Name(), st.Message())
			}
		}
		for i, n := range nodes {
			s, st := ws.Plugin.Score(ctx, state, pod, n)
			if !st.IsSuccess() {
				return nil, fmt.Errorf("running Score plugin %q on node %q: %s", ws.Plugin.Name(), n.Name(), st.Message())
			}
			scores[i] = NodeScore{Name: n.Name(), Score: s}
		}
		if norm, ok := ws.Plugin.(ScoreNormalizer); ok {
			if st := norm.NormalizeScore(ctx, state, pod, scores); !st.IsSuccess() {
				return nil, fmt.Errorf("normalizing scores of plugin %q: %s", ws.Plugin.Name(), st.Message())
			}
		}
		for i, s := range scores {
			if s.Score < MinNodeScore || s.Score > MaxNodeScore {
				return nil, fmt.Errorf("plugin %q scored node %q %d, outside [%d, %d]", ws.Plugin.Name(), s.Name, s.Score, MinNodeScore, MaxNodeScore)
			}
			totals[i] += s.Score * ws.Weight
		}
	}
	return totals, nil
}

// PodPriority returns spec.priority, 0 when unset.
func PodPriority(pod *v1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	return 0
}

// FitError says why a pod fits no node.
type FitError struct {
	Pod         *v1.Pod
	NumAllNodes int
	// PreFilterMsg is set when a PreFilter plugin rejected the pod
	// (for every node).
	PreFilterMsg string
	// NodeStatuses holds each rejected node's status, by node name.
	NodeStatuses map[string]*Status
	// PostFilterMsg explains why preemption did not help.
	PostFilterMsg string
	// Preemption is set when evicting pods from a node would let the
	// pod fit there.
	Preemption *Preemption
}

// Error formats the error as upstream:
// "0/N nodes are available: <counted reasons>. <PostFilterMsg>", with the
// reasons sorted as strings; "no nodes available to schedule pods" when
// there are no nodes at all.
func (e *FitError) Error() string {
	if e.NumAllNodes == 0 {
		return "no nodes available to schedule pods"
	}
	msg := fmt.Sprintf("0/%d nodes are available:", e.NumAllNodes)
	if e.PreFilterMsg != "" {
		msg += " " + e.PreFilterMsg + "."
	} else {
		counts := map[string]int{}
		for _, st := range e.NodeStatuses {
			for _, r := range st.Reasons() {
				counts[r]++
			}
		}
		parts := make([]string, 0, len(counts))
		for r, n := range counts {
			parts = append(parts, fmt.Sprintf("%d %s", n, r))
		}
		sort.Strings(parts)
		if len(parts) > 0 {
			msg += " " + strings.Join(parts, ", ") + "."
		}
	}
	if e.PostFilterMsg != "" {
		msg += " " + e.PostFilterMsg
	}
	return msg
}
