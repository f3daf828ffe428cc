package plugins

import (
	"context"
	"maps"
	"math"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"

	"berth.dev/berth/internal/scheduler/framework"
)

// The reasons InterPodAffinity gives, as upstream.
const (
	ReasonAffinityRulesNotMatch             = "node(s) didn't match pod affinity rules"
	ReasonAntiAffinityRulesNotMatch         = "node(s) didn't match pod anti-affinity rules"
	ReasonExistingAntiAffinityRulesNotMatch = "node(s) didn't satisfy existing pods anti-affinity rules"
)

// hardPodAffinityWeight is the score weight of an existing pod's required
// affinity term that the incoming pod matches (upstream's default).
const hardPodAffinityWeight = 1

// InterPodAffinity enforces the pod's required pod affinity and
// anti-affinity and the required anti-affinity of the pods already placed,
// and scores nodes by the preferred terms of both sides, as upstream's
// plugin of the same name.
type InterPodAffinity struct {
	// Namespaces resolves namespace selectors; nil means no namespace has
	// labels.
	Namespaces corelisters.NamespaceLister
}

var (
	_ framework.PreFilterPlugin     = (*InterPodAffinity)(nil)
	_ framework.PreFilterExtensions = (*InterPodAffinity)(nil)
	_ framework.FilterPlugin        = (*InterPodAffinity)(nil)
	_ framework.PreScorePlugin      = (*InterPodAffinity)(nil)
	_ framework.ScorePlugin         = (*InterPodAffinity)(nil)
	_ framework.ScoreNormalizer     = (*InterPodAffinity)(nil)
)

const (
	affinityFilterKey = "berth.dev/InterPodAffinity/filter"
	affinityScoreKey  = "berth.dev/InterPodAffinity/score"
)

// topologyPair is one topology domain: a node label and its value.
type topologyPair struct{ key, value string }

type pairCounts map[topologyPair]int64

// add adds v to the domain of node for key, when node has the label;
// a domain whose count drops to zero is removed.
func (m pairCounts) add(node *v1.Node, key string, v int64) {
	val, ok := node.Labels[key]
	if !ok {
		return
	}
	pair := topologyPair{key, val}
	if m[pair] += v; m[pair] == 0 {
		delete(m, pair)
	}
}

type affinityFilterState struct {
	pod *framework.PodInfo
	// existingAnti counts, per domain, the existing pods' required
	// anti-affinity terms that match the pod; affinity the existing pods
	// matching all of the pod's required affinity terms (per term's key);
	// anti the existing pods matching each required anti-affinity term.
	existingAnti, affinity, anti pairCounts
	snap                         *framework.Snapshot
}

// Name returns "InterPodAffinity".
func (*InterPodAffinity) Name() string { return "InterPodAffinity" }

func (p *InterPodAffinity) nsLabels(ns string) labels.Set {
	if p.Namespaces == nil {
		return nil
	}
	n, err := p.Namespaces.Get(ns)
	if err != nil {
		return nil
	}
	return n.Labels
}

func matchesAll(terms []framework.AffinityTerm, pod *v1.Pod, nsLabels framework.NamespaceLabels) bool {
	for i := range terms {
		if !terms[i].Matches(pod, nsLabels) {
			return false
		}
	}
	return len(terms) > 0
}

// PreFilter counts, over every placed pod, the matches the filter needs.
func (p *InterPodAffinity) PreFilter(_ context.Context, state *framework.CycleState, pod *v1.Pod, snap *framework.Snapshot) *framework.Status {
	s := &affinityFilterState{pod: framework.NewPodInfo(pod), existingAnti: pairCounts{}, affinity: pairCounts{}, anti: pairCounts{}, snap: snap}
	if snap == nil {
		snap = &framework.Snapshot{}
	}
	for _, n := range snap.Nodes {
		if n.Node == nil {
			continue
		}
		for _, e := range n.PodsWithRequiredAntiAffinity {
			p.countExisting(s, pod, e, n.Node, 1)
		}
		if len(s.pod.RequiredAffinity) == 0 && len(s.pod.RequiredAntiAffinity) == 0 {
			continue
		}
		for _, e := range n.Pods {
			p.countIncoming(s, e, n.Node, 1)
		}
	}
	state.Write(affinityFilterKey, s)
	return nil
}

// countExisting adds d for each required anti-affinity term of e, placed
// on node, that matches pod.
func (p *InterPodAffinity) countExisting(s *affinityFilterState, pod *v1.Pod, e *framework.PodInfo, node *v1.Node, d int64) {
	for i := range e.RequiredAntiAffinity {
		if t := &e.RequiredAntiAffinity[i]; t.Matches(pod, p.nsLabels) {
			s.existingAnti.add(node, t.TopologyKey, d)
		}
	}
}

// countIncoming adds d for e, placed on node, to the domains of the pod's
// required affinity (if e matches every term) and anti-affinity terms.
func (p *InterPodAffinity) countIncoming(s *affinityFilterState, e *framework.PodInfo, node *v1.Node, d int64) {
	if matchesAll(s.pod.RequiredAffinity, e.Pod, p.nsLabels) {
		for i := range s.pod.RequiredAffinity {
			s.affinity.add(node, s.pod.RequiredAffinity[i].TopologyKey, d)
		}
	}
	for i := range s.pod.RequiredAntiAffinity {
		if t := &s.pod.RequiredAntiAffinity[i]; t.Matches(e.Pod, p.nsLabels) {
			s.anti.add(node, t.TopologyKey, d)
		}
	}
}

// CloneState implements framework.StateCloner.
func (s *affinityFilterState) CloneState() any {
	c := *s
	c.existingAnti, c.affinity, c.anti = maps.Clone(s.existingAnti), maps.Clone(s.affinity), maps.Clone(s.anti)
	return &c
}

// AddPod implements framework.PreFilterExtensions.
func (p *InterPodAffinity) AddPod(_ context.Context, state *framework.CycleState, pod *v1.Pod, added *framework.PodInfo, n *framework.NodeInfo) *framework.Status {
	p.update(state, pod, added, n, 1)
	return nil
}

// RemovePod implements framework.PreFilterExtensions.
func (p *InterPodAffinity) RemovePod(_ context.Context, state *framework.CycleState, pod *v1.Pod, removed *framework.PodInfo, n *framework.NodeInfo) *framework.Status {
	p.update(state, pod, removed, n, -1)
	return nil
}

func (p *InterPodAffinity) update(state *framework.CycleState, pod *v1.Pod, e *framework.PodInfo, n *framework.NodeInfo, d int64) {
	v, ok := state.Read(affinityFilterKey)
	if !ok || n.Node == nil {
		return
	}
	s := v.(*affinityFilterState)
	p.countExisting(s, pod, e, n.Node, d)
	p.countIncoming(s, e, n.Node, d)
}

// Filter implements framework.FilterPlugin. A node fails the pod's
// affinity (unresolvably) unless it has every term's topology label and,
// for each term, a matching pod in its domain; a pod whose terms match no
// pod anywhere but itself may start the group on any labelled node.
func (p *InterPodAffinity) Filter(ctx context.Context, state *framework.CycleState, pod *v1.Pod, n *framework.NodeInfo) *framework.Status {
	v, ok := state.Read(affinityFilterKey)
	if !ok {
		p.PreFilter(ctx, state, pod, nil)
		v, _ = state.Read(affinityFilterKey)
	}
	s := v.(*affinityFilterState)
	if n.Node == nil {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonNodeUnknown)
	}
	nodeLabels := n.Node.Labels
	if terms := s.pod.RequiredAffinity; len(terms) > 0 {
		all := true
		for i := range terms {
			val, ok := nodeLabels[terms[i].TopologyKey]
			if !ok {
				return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonAffinityRulesNotMatch)
			}
			if s.affinity[topologyPair{terms[i].TopologyKey, val}] <= 0 {
				all = false
			}
		}
		if !all && !(len(s.affinity) == 0 && matchesAll(terms, pod, p.nsLabels)) {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonAffinityRulesNotMatch)
		}
	}
	for i := range s.pod.RequiredAntiAffinity {
		key := s.pod.RequiredAntiAffinity[i].TopologyKey
		if val, ok := nodeLabels[key]; ok && s.anti[topologyPair{key, val}] > 0 {
			return framework.NewStatus(framework.Unschedulable, ReasonAntiAffinityRulesNotMatch)
		}
	}
	for pair, c := range s.existingAnti {
		if val, ok := nodeLabels[pair.key]; ok && val == pair.value && c > 0 {
			return framework.NewStatus(framework.Unschedulable, ReasonExistingAntiAffinityRulesNotMatch)
		}
	}
	return nil
}

// topologyScores sums term weights per topology key and value.
type topologyScores map[string]map[string]int64

func (m topologyScores) add(node *v1.Node, key string, w int64) {
	val, ok := node.Labels[key]
	if !ok || w == 0 {
		return
	}
	if m[key] == nil {
		m[key] = map[string]int64{}
	}
	m[key][val] += w
}

// PreScore sums, per topology domain, the weights of the preferred terms
// of the pod that placed pods match, and of the placed pods' terms (their
// required affinity with weight 1) that the pod matches; anti-affinity
// weighs negatively.
func (p *InterPodAffinity) PreScore(_ context.Context, state *framework.CycleState, pod *v1.Pod, _ []*framework.NodeInfo) *framework.Status {
	var snap *framework.Snapshot
	if v, ok := state.Read(affinityFilterKey); ok {
		snap = v.(*affinityFilterState).snap
	}
	scores := topologyScores{}
	state.Write(affinityScoreKey, scores)
	if snap == nil {
		return nil
	}
	pi := podInfo(state, pod)
	own := len(pi.PreferredAffinity)+len(pi.PreferredAntiAffinity) > 0
	for _, n := range snap.Nodes {
		if n.Node == nil {
			continue
		}
		pods := n.PodsWithAffinity
		if own {
			pods = n.Pods
		}
		for _, e := range pods {
			for _, t := range pi.PreferredAffinity {
				if t.Matches(e.Pod, p.nsLabels) {
					scores.add(n.Node, t.TopologyKey, int64(t.Weight))
				}
			}
			for _, t := range pi.PreferredAntiAffinity {
				if t.Matches(e.Pod, p.nsLabels) {
					scores.add(n.Node, t.TopologyKey, -int64(t.Weight))
				}
			}
			for _, t := range e.RequiredAffinity {
				if t.Matches(pod, p.nsLabels) {
					scores.add(n.Node, t.TopologyKey, hardPodAffinityWeight)
				}
			}
			for _, t := range e.PreferredAffinity {
				if t.Matches(pod, p.nsLabels) {
					scores.add(n.Node, t.TopologyKey, int64(t.Weight))
				}
			}
			for _, t := range e.PreferredAntiAffinity {
				if t.Matches(pod, p.nsLabels) {
					scores.add(n.Node, t.TopologyKey, -int64(t.Weight))
				}
			}
		}
	}
	return nil
}

// Score implements framework.ScorePlugin: the sum of the domain scores
// of the node's labels.
func (p *InterPodAffinity) Score(_ context.Context, state *framework.CycleState, _ *v1.Pod, n *framework.NodeInfo) (int64, *framework.Status) {
	v, ok := state.Read(affinityScoreKey)
	if !ok {
		return 0, nil
	}
	var score int64
	for key, vals := range v.(topologyScores) {
		if val, ok := n.Node.Labels[key]; ok {
			score += vals[val]
		}
	}
	return score, nil
}

// NormalizeScore implements framework.ScoreNormalizer: scores are scaled
// linearly from the lowest (0) to the highest (MaxNodeScore); all 0 when
// they are equal.
func (p *InterPodAffinity) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *v1.Pod, scores []framework.NodeScore) *framework.Status {
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, s := range scores {
		lo, hi = min(lo, s.Score), max(hi, s.Score)
	}
	for i := range scores {
		if hi > lo {
			scores[i].Score = framework.MaxNodeScore * (scores[i].Score - lo) / (hi - lo)
		} else {
			scores[i].Score = 0
		}
	}
	return nil
}
