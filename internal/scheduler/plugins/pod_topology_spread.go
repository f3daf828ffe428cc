package plugins

import (
	"context"
	"maps"
	"math"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"

	"berth.dev/berth/internal/scheduler/framework"
)

// The reasons PodTopologySpread gives, as upstream.
const (
	ReasonTopologySpread             = "node(s) didn't match pod topology spread constraints"
	ReasonTopologySpreadMissingLabel = "node(s) didn't match pod topology spread constraints (missing required label)"
)

// DefaultSpreadConstraints are upstream's cluster-default constraints,
// used for scoring pods that set none and belong to a Service,
// ReplicationController, ReplicaSet or StatefulSet (the selector is
// theirs).
var DefaultSpreadConstraints = []v1.TopologySpreadConstraint{
	{MaxSkew: 3, TopologyKey: v1.LabelHostname, WhenUnsatisfiable: v1.ScheduleAnyway},
	{MaxSkew: 5, TopologyKey: v1.LabelTopologyZone, WhenUnsatisfiable: v1.ScheduleAnyway},
}

// PodTopologySpread enforces the pod's DoNotSchedule topology spread
// constraints and scores nodes by its ScheduleAnyway ones (or the default
// constraints), as upstream's plugin of the same name.
type PodTopologySpread struct {
	// Listers find the workloads selecting a pod for the default
	// constraints; a nil lister is skipped.
	Services               corelisters.ServiceLister
	ReplicationControllers corelisters.ReplicationControllerLister
	ReplicaSets            appslisters.ReplicaSetLister
	StatefulSets           appslisters.StatefulSetLister
}

var (
	_ framework.PreFilterPlugin     = (*PodTopologySpread)(nil)
	_ framework.PreFilterExtensions = (*PodTopologySpread)(nil)
	_ framework.FilterPlugin        = (*PodTopologySpread)(nil)
	_ framework.PreScorePlugin      = (*PodTopologySpread)(nil)
	_ framework.ScorePlugin         = (*PodTopologySpread)(nil)
	_ framework.ScoreNormalizer     = (*PodTopologySpread)(nil)
)

const (
	spreadFilterKey = "berth.dev/PodTopologySpread/filter"
	spreadScoreKey  = "berth.dev/PodTopologySpread/score"
)

// Name returns "PodTopologySpread".
func (*PodTopologySpread) Name() string { return "PodTopologySpread" }

// spreadConstraint is a parsed constraint.
type spreadConstraint struct {
	maxSkew, minDomains int32
	key                 string
	selector            labels.Selector
	honorAffinity       bool
	honorTaints         bool
}

func parseConstraints(pod *v1.Pod, cs []v1.TopologySpreadConstraint, when v1.UnsatisfiableConstraintAction, def labels.Selector) []spreadConstraint {
	var out []spreadConstraint
	for i := range cs {
		c := &cs[i]
		if c.WhenUnsatisfiable != when {
			continue
		}
		sc := spreadConstraint{maxSkew: c.MaxSkew, minDomains: 1, key: c.TopologyKey, selector: def,
			honorAffinity: c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy == v1.NodeInclusionPolicyHonor,
			honorTaints:   c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy == v1.NodeInclusionPolicyHonor}
		if c.MinDomains != nil {
			sc.minDomains = *c.MinDomains
		}
		if def == nil {
			sc.selector = framework.SelectorWithLabelKeys(c.LabelSelector, pod.Labels, c.MatchLabelKeys, nil)
		}
		out = append(out, sc)
	}
	return out
}

// eligible reports whether node counts for c: it passes the inclusion
// policies (the pod's node affinity, and the taints when honoured).
func (c *spreadConstraint) eligible(pod *v1.Pod, node *v1.Node) bool {
	if c.honorAffinity && !RequiredNodeAffinityMatches(pod, node) {
		return false
	}
	if c.honorTaints {
		for i := range node.Spec.Taints {
			t := &node.Spec.Taints[i]
			if (t.Effect == v1.TaintEffectNoSchedule || t.Effect == v1.TaintEffectNoExecute) && !tolerates(pod.Spec.Tolerations, t) {
				return false
			}
		}
	}
	return true
}

func hasAllKeys(node *v1.Node, cs []spreadConstraint) bool {
	for i := range cs {
		if _, ok := node.Labels[cs[i].key]; !ok {
			return false
		}
	}
	return true
}

// countMatching counts n's pods in pod's namespace, not being deleted,
// that sel selects.
func countMatching(n *framework.NodeInfo, pod *v1.Pod, sel labels.Selector) int64 {
	var c int64
	for _, pi := range n.Pods {
		p := pi.Pod
		if p.Namespace == pod.Namespace && p.DeletionTimestamp == nil && sel.Matches(labels.Set(p.Labels)) {
			c++
		}
	}
	return c
}

type spreadFilterState struct {
	constraints []spreadConstraint
	// counts[i] holds constraint i's matching pods per domain value.
	counts []map[string]int64
	snap   *framework.Snapshot
}

// PreFilter counts the matching pods per domain of each DoNotSchedule
// constraint over the eligible nodes that carry every constraint's key.
func (p *PodTopologySpread) PreFilter(_ context.Context, state *framework.CycleState, pod *v1.Pod, snap *framework.Snapshot) *framework.Status {
	s := &spreadFilterState{constraints: parseConstraints(pod, pod.Spec.TopologySpreadConstraints, v1.DoNotSchedule, nil), snap: snap}
	state.Write(spreadFilterKey, s)
	if len(s.constraints) == 0 || snap == nil {
		return nil
	}
	s.counts = make([]map[string]int64, len(s.constraints))
	for i := range s.counts {
		s.counts[i] = map[string]int64{}
	}
	for _, n := range snap.Nodes {
		if n.Node == nil || !hasAllKeys(n.Node, s.constraints) {
			continue
		}
		for i := range s.constraints {
			c := &s.constraints[i]
			if !c.eligible(pod, n.Node) {
				continue
			}
			s.counts[i][n.Node.Labels[c.key]] += countMatching(n, pod, c.selector)
		}
	}
	return nil
}

// CloneState implements framework.StateCloner.
func (s *spreadFilterState) CloneState() any {
	c := *s
	c.counts = make([]map[string]int64, len(s.counts))
	for i, m := range s.counts {
		c.counts[i] = maps.Clone(m)
	}
	return &c
}

// AddPod implements framework.PreFilterExtensions.
func (p *PodTopologySpread) AddPod(_ context.Context, state *framework.CycleState, pod *v1.Pod, added *framework.PodInfo, n *framework.NodeInfo) *framework.Status {
	updateSpread(state, pod, added.Pod, n, 1)
	return nil
}

// RemovePod implements framework.PreFilterExtensions.
func (p *PodTopologySpread) RemovePod(_ context.Context, state *framework.CycleState, pod *v1.Pod, removed *framework.PodInfo, n *framework.NodeInfo) *framework.Status {
	updateSpread(state, pod, removed.Pod, n, -1)
	return nil
}

// updateSpread adds d to the counts of the domains of n for each
// constraint that counts e there.
func updateSpread(state *framework.CycleState, pod, e *v1.Pod, n *framework.NodeInfo, d int64) {
	v, ok := state.Read(spreadFilterKey)
	if !ok {
		return
	}
	s := v.(*spreadFilterState)
	if len(s.constraints) == 0 || n.Node == nil || !hasAllKeys(n.Node, s.constraints) ||
		e.Namespace != pod.Namespace || e.DeletionTimestamp != nil {
		return
	}
	for i := range s.constraints {
		c := &s.constraints[i]
		if c.eligible(pod, n.Node) && c.selector.Matches(labels.Set(e.Labels)) {
			s.counts[i][n.Node.Labels[c.key]] += d
		}
	}
}

// Filter implements framework.FilterPlugin: placing the pod on the node
// must keep each constraint's skew (the domain's matching pods, plus one
// if the pod matches itself, minus the fewest in any domain, or zero when
// there are fewer than minDomains domains) within maxSkew.
func (p *PodTopologySpread) Filter(ctx context.Context, state *framework.CycleState, pod *v1.Pod, n *framework.NodeInfo) *framework.Status {
	v, ok := state.Read(spreadFilterKey)
	if !ok {
		return nil
	}
	s := v.(*spreadFilterState)
	if len(s.constraints) == 0 {
		return nil
	}
	if n.Node == nil {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonNodeUnknown)
	}
	for i := range s.constraints {
		c := &s.constraints[i]
		val, ok := n.Node.Labels[c.key]
		if !ok {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonTopologySpreadMissingLabel)
		}
		var minMatch int64
		if len(s.counts[i]) > 0 && int32(len(s.counts[i])) >= c.minDomains {
			minMatch = math.MaxInt64
			for _, cnt := range s.counts[i] {
				minMatch = min(minMatch, cnt)
			}
		}
		var self int64
		if c.selector.Matches(labels.Set(pod.Labels)) {
			self = 1
		}
		if s.counts[i][val]+self-minMatch > int64(c.maxSkew) {
			return framework.NewStatus(framework.Unschedulable, ReasonTopologySpread)
		}
	}
	return nil
}

// defaultSelector returns the union of the selectors of the Services,
// ReplicationControllers, ReplicaSets and StatefulSets selecting pod;
// nil when there are none.
func (p *PodTopologySpread) defaultSelector(pod *v1.Pod) labels.Selector {
	podLabels := labels.Set(pod.Labels)
	set := labels.Set{}
	sel := labels.NewSelector()
	found := false
	if p.Services != nil {
		svcs, _ := p.Services.Services(pod.Namespace).List(labels.Everything())
		for _, svc := range svcs {
			if len(svc.Spec.Selector) > 0 && labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
				set, found = labels.Merge(set, svc.Spec.Selector), true
			}
		}
	}
	if p.ReplicationControllers != nil {
		rcs, _ := p.ReplicationControllers.ReplicationControllers(pod.Namespace).List(labels.Everything())
		for _, rc := range rcs {
			if len(rc.Spec.Selector) > 0 && labels.SelectorFromSet(rc.Spec.Selector).Matches(podLabels) {
				set, found = labels.Merge(set, rc.Spec.Selector), true
			}
		}
	}
	addSelectors := func(sels []labels.Selector) {
		for _, s := range sels {
			if reqs, ok := s.Requirements(); ok && !s.Empty() && s.Matches(podLabels) {
				sel, found = sel.Add(reqs...), true
			}
		}
	}
	if p.ReplicaSets != nil {
		rss, _ := p.ReplicaSets.ReplicaSets(pod.Namespace).List(labels.Everything())
		var sels []labels.Selector
		for _, rs := range rss {
			if s, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector); err == nil {
				sels = append(sels, s)
			}
		}
		addSelectors(sels)
	}
	if p.StatefulSets != nil {
		sss, _ := p.StatefulSets.StatefulSets(pod.Namespace).List(labels.Everything())
		var sels []labels.Selector
		for _, ss := range sss {
			if s, err := metav1.LabelSelectorAsSelector(ss.Spec.Selector); err == nil {
				sels = append(sels, s)
			}
		}
		addSelectors(sels)
	}
	if !found {
		return nil
	}
	for k, v := range set {
		reqs, _ := labels.SelectorFromSet(labels.Set{k: v}).Requirements()
		sel = sel.Add(reqs...)
	}
	return sel
}

type spreadScoreState struct {
	constraints []spreadConstraint
	counts      []map[string]int64
	weights     []float64
	ignored     map[string]bool
}

// PreScore counts, for the ScheduleAnyway constraints (or the default
// ones), the matching pods in each domain among the feasible nodes.
func (p *PodTopologySpread) PreScore(_ context.Context, state *framework.CycleState, pod *v1.Pod, nodes []*framework.NodeInfo) *framework.Status {
	s := &spreadScoreState{ignored: map[string]bool{}}
	state.Write(spreadScoreKey, s)
	requireAll := true
	if len(pod.Spec.TopologySpreadConstraints) > 0 {
		s.constraints = parseConstraints(pod, pod.Spec.TopologySpreadConstraints, v1.ScheduleAnyway, nil)
	} else if sel := p.defaultSelector(pod); sel != nil {
		s.constraints = parseConstraints(pod, DefaultSpreadConstraints, v1.ScheduleAnyway, sel)
		requireAll = false
	}
	if len(s.constraints) == 0 {
		return nil
	}
	s.counts = make([]map[string]int64, len(s.constraints))
	s.weights = make([]float64, len(s.constraints))
	for i := range s.counts {
		s.counts[i] = map[string]int64{}
	}
	for _, n := range nodes {
		if requireAll && !hasAllKeys(n.Node, s.constraints) {
			s.ignored[n.Name()] = true
			continue
		}
		for i := range s.constraints {
			if val, ok := n.Node.Labels[s.constraints[i].key]; ok {
				s.counts[i][val] = 0
			}
		}
	}
	for i := range s.constraints {
		s.weights[i] = math.Log(float64(len(s.counts[i]) + 2))
	}
	snapNodes := nodes
	if v, ok := state.Read(spreadFilterKey); ok && v.(*spreadFilterState).snap != nil {
		snapNodes = v.(*spreadFilterState).snap.Nodes
	}
	for _, n := range snapNodes {
		if n.Node == nil || requireAll && !hasAllKeys(n.Node, s.constraints) {
			continue
		}
		for i := range s.constraints {
			c := &s.constraints[i]
			val, ok := n.Node.Labels[c.key]
			if !ok {
				continue
			}
			if _, counted := s.counts[i][val]; !counted || !c.eligible(pod, n.Node) {
				continue
			}
			s.counts[i][val] += countMatching(n, pod, c.selector)
		}
	}
	return nil
}

// Score implements framework.ScorePlugin: per constraint, the matching
// pods in the node's domain weighted by log(number of domains + 2), plus
// maxSkew-1 (lower is better; see NormalizeScore).
func (p *PodTopologySpread) Score(_ context.Context, state *framework.CycleState, _ *v1.Pod, n *framework.NodeInfo) (int64, *framework.Status) {
	v, ok := state.Read(spreadScoreKey)
	if !ok {
		return 0, nil
	}
	s := v.(*spreadScoreState)
	if len(s.constraints) == 0 || s.ignored[n.Name()] {
		return 0, nil
	}
	var score float64
	for i := range s.constraints {
		if val, ok := n.Node.Labels[s.constraints[i].key]; ok {
			score += float64(s.counts[i][val])*s.weights[i] + float64(s.constraints[i].maxSkew-1)
		}
	}
	return int64(math.Round(score)), nil
}

// NormalizeScore implements framework.ScoreNormalizer: a node scores
// MaxNodeScore*(max+min-score)/max, so the emptiest domains rank best;
// nodes without the constraints' labels score 0.
func (p *PodTopologySpread) NormalizeScore(_ context.Context, state *framework.CycleState, _ *v1.Pod, scores []framework.NodeScore) *framework.Status {
	v, ok := state.Read(spreadScoreKey)
	if !ok || len(v.(*spreadScoreState).constraints) == 0 {
		return nil
	}
	s := v.(*spreadScoreState)
	lo, hi := int64(math.MaxInt64), int64(0)
	for _, sc := range scores {
		if !s.ignored[sc.Name] {
			lo, hi = min(lo, sc.Score), max(hi, sc.Score)
		}
	}
	for i := range scores {
		switch {
		case s.ignored[scores[i].Name]:
			scores[i].Score = 0
		case hi == 0:
			scores[i].Score = framework.MaxNodeScore
		default:
			scores[i].Score = framework.MaxNodeScore * (hi + lo - scores[i].Score) / hi
		}
	}
	return nil
}
