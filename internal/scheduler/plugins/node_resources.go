package plugins

import (
	"context"
	"fmt"
	"math"
	"sort"

	v1 "k8s.io/api/core/v1"

	"berth.dev/berth/internal/scheduler/framework"
)

// ScoringStrategy selects how NodeResourcesFit scores nodes.
type ScoringStrategy string

// The scoring strategies of NodeResourcesFit.
const (
	// LeastAllocated prefers the nodes with the most free cpu and memory,
	// spreading pods (the default).
	LeastAllocated ScoringStrategy = "LeastAllocated"
	// MostAllocated prefers the fullest nodes, packing pods.
	MostAllocated ScoringStrategy = "MostAllocated"
)

// NodeResourcesFit rejects nodes without room for the pod's requests
// (cpu, memory, ephemeral-storage, extended resources, and the pod count)
// and scores nodes by the strategy over cpu and memory, weighted equally.
type NodeResourcesFit struct {
	Strategy ScoringStrategy
}

var (
	_ framework.PreFilterPlugin = (*NodeResourcesFit)(nil)
	_ framework.FilterPlugin    = (*NodeResourcesFit)(nil)
	_ framework.ScorePlugin     = (*NodeResourcesFit)(nil)
)

// ReasonTooManyPods is the reason when a node holds its allocatable
// number of pods.
const ReasonTooManyPods = "Too many pods"

const podInfoKey = "berth.dev/PodInfo"

// Name returns "NodeResourcesFit".
func (*NodeResourcesFit) Name() string { return "NodeResourcesFit" }

// PreFilter computes the pod's requests once for the cycle.
func (*NodeResourcesFit) PreFilter(_ context.Context, state *framework.CycleState, pod *v1.Pod, _ *framework.Snapshot) *framework.Status {
	state.Write(podInfoKey, framework.NewPodInfo(pod))
	return nil
}

// podInfo returns the PodInfo written by PreFilter, or computes it.
func podInfo(state *framework.CycleState, pod *v1.Pod) *framework.PodInfo {
	if v, ok := state.Read(podInfoKey); ok {
		return v.(*framework.PodInfo)
	}
	return framework.NewPodInfo(pod)
}

// Filter implements framework.FilterPlugin. Every shortage is a reason
// ("Insufficient cpu"); the status is UnschedulableAndUnresolvable when a
// request exceeds the node's allocatable, so evicting pods cannot help.
func (*NodeResourcesFit) Filter(_ context.Context, state *framework.CycleState, pod *v1.Pod, n *framework.NodeInfo) *framework.Status {
	req := podInfo(state, pod).Requested
	alloc, used := &n.Allocatable, &n.Requested
	var reasons []string
	code := framework.Unschedulable
	if int64(len(n.Pods))+1 > alloc.Pods {
		reasons = append(reasons, ReasonTooManyPods)
	}
	check := func(name v1.ResourceName, want, have, inUse int64) {
		if want <= 0 || want <= have-inUse {
			return
		}
		reasons = append(reasons, fmt.Sprintf("Insufficient %s", name))
		if want > have {
			code = framework.UnschedulableAndUnresolvable
		}
	}
	check(v1.ResourceCPU, req.MilliCPU, alloc.MilliCPU, used.MilliCPU)
	check(v1.ResourceMemory, req.Memory, alloc.Memory, used.Memory)
	check(v1.ResourceEphemeralStorage, req.EphemeralStorage, alloc.EphemeralStorage, used.EphemeralStorage)
	names := make([]v1.ResourceName, 0, len(req.Scalar))
	for name := range req.Scalar {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	for _, name := range names {
		check(name, req.Scalar[name], alloc.Scalar[name], used.Scalar[name])
	}
	if len(reasons) == 0 {
		return nil
	}
	return framework.NewStatus(code, reasons...)
}

// Score implements framework.ScorePlugin with the plugin's strategy over
// the node's non-zero requests plus the pod's.
func (p *NodeResourcesFit) Score(_ context.Context, state *framework.CycleState, pod *v1.Pod, n *framework.NodeInfo) (int64, *framework.Status) {
	req := podInfo(state, pod).NonZeroRequested
	score := leastRequested
	if p.Strategy == MostAllocated {
		score = mostRequested
	}
	cpu := score(n.NonZeroRequested.MilliCPU+req.MilliCPU, n.Allocatable.MilliCPU)
	mem := score(n.NonZeroRequested.Memory+req.Memory, n.Allocatable.Memory)
	return (cpu + mem) / 2, nil
}

// leastRequested scores the free share of capacity: 0 when full or over.
func leastRequested(requested, capacity int64) int64 {
	if capacity == 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * framework.MaxNodeScore / capacity
}

// mostRequested scores the used share of capacity, capped at full.
func mostRequested(requested, capacity int64) int64 {
	if capacity == 0 {
		return 0
	}
	return min(requested, capacity) * framework.MaxNodeScore / capacity
}

// BalancedAllocation prefers nodes whose cpu and memory would be used in
// the same proportion once the pod is placed: the score is
// (1 - standard deviation of the used fractions) * MaxNodeScore.
type BalancedAllocation struct{}

var _ framework.ScorePlugin = BalancedAllocation{}

// Name returns "NodeResourcesBalancedAllocation".
func (BalancedAllocation) Name() string { return "NodeResourcesBalancedAllocation" }

// Score implements framework.ScorePlugin over requests as declared
// (without the non-zero defaults). A pod requesting neither cpu nor memory
// scores 0 everywhere, as upstream skips it, so that such pods do not all
// pile onto the most balanced node.
func (BalancedAllocation) Score(_ context.Context, state *framework.CycleState, pod *v1.Pod, n *framework.NodeInfo) (int64, *framework.Status) {
	req := podInfo(state, pod).Requested
	if req.MilliCPU == 0 && req.Memory == 0 {
		return 0, nil
	}
	fraction := func(requested, capacity int64) float64 {
		if capacity == 0 {
			return 0
		}
		return min(float64(requested)/float64(capacity), 1)
	}
	cpu := fraction(n.Requested.MilliCPU+req.MilliCPU, n.Allocatable.MilliCPU)
	mem := fraction(n.Requested.Memory+req.Memory, n.Allocatable.Memory)
	// For two values the standard deviation is half their distance.
	std := math.Abs(cpu-mem) / 2
	return int64((1 - std) * float64(framework.MaxNodeScore)), nil
}
