package plugins

import (
	"fmt"

	corelisters "k8s.io/client-go/listers/core/v1"

	"berth.dev/berth/internal/scheduler/framework"
)

// Options tune the in-tree plugins.
type Options struct {
	// Strategy is NodeResourcesFit's scoring strategy; empty means
	// LeastAllocated.
	Strategy ScoringStrategy
	// Namespaces resolves the namespace selectors of pod affinity terms.
	Namespaces corelisters.NamespaceLister
	// Spread finds the workloads behind the default spreading.
	Spread PodTopologySpread
	// Volumes reads claims, volumes and classes; VolumeBinding runs only
	// when its listers are set.
	Volumes VolumeBinding
}

// NewInTreeRegistry returns the default profile: the filters in upstream's
// order (with berth's NodeReady after the taints it stands in for) and the
// scores with upstream's default weights.
func NewInTreeRegistry(opts Options) (*framework.Framework, error) {
	switch opts.Strategy {
	case "":
		opts.Strategy = LeastAllocated
	case LeastAllocated, MostAllocated:
	default:
		return nil, fmt.Errorf("unknown NodeResourcesFit scoring strategy %q", opts.Strategy)
	}
	fit := &NodeResourcesFit{Strategy: opts.Strategy}
	spread := &opts.Spread
	affinity := &InterPodAffinity{Namespaces: opts.Namespaces}
	fw := &framework.Framework{
		PreFilters: []framework.PreFilterPlugin{fit},
		Filters: []framework.FilterPlugin{
			NodeUnschedulable{},
			NodeName{},
			TaintToleration{},
			NodeReady{},
			NodeAffinity{},
			NodePorts{},
			fit,
		},
		Scores: []framework.WeightedScore{
			{Plugin: TaintToleration{}, Weight: 3},
			{Plugin: NodeAffinity{}, Weight: 2},
			{Plugin: fit, Weight: 1},
			{Plugin: spread, Weight: 2},
			{Plugin: affinity, Weight: 2},
			{Plugin: BalancedAllocation{}, Weight: 1},
		},
	}
	if v := &opts.Volumes; v.Claims != nil && v.Volumes != nil && v.StorageClasses != nil {
		fw.PreFilters = append(fw.PreFilters, v)
		fw.Filters = append(fw.Filters, v)
	}
	fw.PreFilters = append(fw.PreFilters, spread, affinity)
	fw.Filters = append(fw.Filters, spread, affinity)
	return fw, nil
}
