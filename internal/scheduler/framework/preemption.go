package framework

import (
	"context"
	"math"
	"sort"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Reasons given for nodes in the preemption part of a FitError, as upstream.
const (
	ReasonPreemptionNotHelpful = "Preemption is not helpful for scheduling"
	ReasonNoVictims            = "No preemption victims found for incoming pod"
)

// Preemption is the outcome of upstream's DefaultPreemption: the node to
// nominate for the pod and the pods to evict from it, most important
// first.
type Preemption struct {
	NodeName string
	Victims  []*v1.Pod
	// PDBViolations counts the victims whose eviction a
	// PodDisruptionBudget does not allow.
	PDBViolations int
}

// candidate is a node where preemption makes the pod fit.
type candidate struct {
	node          string
	victims       []*v1.Pod
	pdbViolations int
}

// preempt looks, as upstream's DefaultPreemption, for nodes where evicting
// pods of lower priority than pod makes it fit, evicting as few and as
// unimportant pods as possible (sparing pods a PodDisruptionBudget
// protects first), and picks one node. Without one it returns the message
// explaining why, per node.
func (f *Framework) preempt(ctx context.Context, state *CycleState, pod *v1.Pod, snap *Snapshot, statuses map[string]*Status) (*Preemption, string) {
	if p := pod.Spec.PreemptionPolicy; p != nil && *p == v1.PreemptNever {
		return nil, "preemption: not eligible due to preemptionPolicy=Never."
	}
	if !eligibleToPreempt(pod, snap) {
		return nil, "preemption: not eligible due to a terminating pod on the nominated node."
	}
	res := &FitError{Pod: pod, NumAllNodes: len(snap.Nodes), NodeStatuses: map[string]*Status{}}
	var candidates []candidate
	for _, n := range snap.Nodes {
		if statuses[n.Name()].Code() == UnschedulableAndUnresolvable {
			res.NodeStatuses[n.Name()] = NewStatus(UnschedulableAndUnresolvable, ReasonPreemptionNotHelpful)
			continue
		}
		c, st := f.selectVictims(ctx, state, pod, n, snap)
		if !st.IsSuccess() {
			res.NodeStatuses[n.Name()] = st
			continue
		}
		candidates = append(candidates, c)
	}
	if len(candidates) == 0 {
		return nil, "preemption: " + res.Error()
	}
	c := pickCandidate(candidates)
	return &Preemption{NodeName: c.node, Victims: c.victims, PDBViolations: c.pdbViolations}, ""
}

// eligibleToPreempt reports whether pod may preempt: not while a pod of
// lower priority is still terminating on the node it was nominated to
// (preemption there is under way).
func eligibleToPreempt(pod *v1.Pod, snap *Snapshot) bool {
	nominated := pod.Status.NominatedNodeName
	if nominated == "" {
		return true
	}
	for _, n := range snap.Nodes {
		if n.Name() != nominated {
			continue
		}
		for _, pi := range n.Pods {
			if pi.Pod.DeletionTimestamp != nil && PodPriority(pi.Pod) < PodPriority(pod) {
				return false
			}
		}
	}
	return true
}

// selectVictims removes every pod of lower priority than pod from n; if
// pod then fits, it puts back as many as still let it fit, most important
// first, those a PodDisruptionBudget protects before the others. The
// victims are those that could not be put back.
func (f *Framework) selectVictims(ctx context.Context, state *CycleState, pod *v1.Pod, n *NodeInfo, snap *Snapshot) (candidate, *Status) {
	prio := PodPriority(pod)
	trial, nominated := snap.withNominated(n, pod)
	if len(nominated) == 0 {
		trial = n.Clone()
	}
	state = state.Clone()
	for _, pi := range nominated {
		if st := f.tellPreFilters(ctx, state, pod, pi, trial, true); !st.IsSuccess() {
			return candidate{}, st
		}
	}
	var potential []*PodInfo
	for _, pi := range n.Pods {
		if PodPriority(pi.Pod) < prio {
			potential = append(potential, pi)
			trial.RemovePod(string(pi.Pod.UID))
			if st := f.tellPreFilters(ctx, state, pod, pi, trial, false); !st.IsSuccess() {
				return candidate{}, st
			}
		}
	}
	if len(potential) == 0 {
		return candidate{}, NewStatus(UnschedulableAndUnresolvable, ReasonNoVictims)
	}
	if st := f.RunFilters(ctx, state, pod, trial); !st.IsSuccess() {
		return candidate{}, st
	}
	sort.SliceStable(potential, func(i, j int) bool { return moreImportant(potential[i].Pod, potential[j].Pod) })
	violating, other := splitByPDB(potential, snap)
	c := candidate{node: n.Name()}
	reprieve := func(pi *PodInfo, violates bool) *Status {
		trial.AddPod(pi)
		if st := f.tellPreFilters(ctx, state, pod, pi, trial, true); !st.IsSuccess() {
			return st
		}
		if f.RunFilters(ctx, state, pod, trial).IsSuccess() {
			return nil
		}
		trial.RemovePod(string(pi.Pod.UID))
		c.victims = append(c.victims, pi.Pod)
		if violates {
			c.pdbViolations++
		}
		return f.tellPreFilters(ctx, state, pod, pi, trial, false)
	}
	for _, pi := range violating {
		if st := reprieve(pi, true); !st.IsSuccess() {
			return candidate{}, st
		}
	}
	for _, pi := range other {
		if st := reprieve(pi, false); !st.IsSuccess() {
			return candidate{}, st
		}
	}
	sort.SliceStable(c.victims, func(i, j int) bool { return moreImportant(c.victims[i], c.victims[j]) })
	return c, nil
}

// tellPreFilters passes the addition (or removal) of pi on n to the
// PreFilter plugins with extensions.
func (f *Framework) tellPreFilters(ctx context.Context, state *CycleState, pod *v1.Pod, pi *PodInfo, n *NodeInfo, added bool) *Status {
	for _, pl := range f.PreFilters {
		ext, ok := pl.(PreFilterExtensions)
		if !ok {
			continue
		}
		var st *Status
		if added {
			st = ext.AddPod(ctx, state, pod, pi, n)
		} else {
			st = ext.RemovePod(ctx, state, pod, pi, n)
		}
		if !st.IsSuccess() {
			return st.WithPlugin(pl.Name())
		}
	}
	return nil
}

// moreImportant orders pods by priority, then by earlier start.
func moreImportant(a, b *v1.Pod) bool {
	if pa, pb := PodPriority(a), PodPriority(b); pa != pb {
		return pa > pb
	}
	return startTime(a).Before(startTime(b))
}

// startTime is the pod's status.startTime; a pod not started counts as
// started last.
func startTime(p *v1.Pod) time.Time {
	if p.Status.StartTime != nil {
		return p.Status.StartTime.Time
	}
	return time.Unix(math.MaxInt32, 0)
}

// splitByPDB splits pods, in order, into those whose eviction would
// exceed a matching PodDisruptionBudget's allowed disruptions (counted
// down as pods are taken) and the others.
func splitByPDB(pods []*PodInfo, snap *Snapshot) (violating, other []*PodInfo) {
	allowed := make([]int32, len(snap.PDBs))
	for i, pdb := range snap.PDBs {
		allowed[i] = pdb.Status.DisruptionsAllowed
	}
	for _, pi := range pods {
		violates := false
		for i, pdb := range snap.PDBs {
			if pdb.Namespace != pi.Pod.Namespace || len(pi.Pod.Labels) == 0 {
				continue
			}
			sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err != nil || sel.Empty() || !sel.Matches(labels.Set(pi.Pod.Labels)) {
				continue
			}
			if _, disrupted := pdb.Status.DisruptedPods[pi.Pod.Name]; disrupted {
				continue
			}
			allowed[i]--
			if allowed[i] < 0 {
				violates = true
			}
		}
		if violates {
			violating = append(violating, pi)
		} else {
			other = append(other, pi)
		}
	}
	return violating, other
}

// pickCandidate chooses among candidates by upstream's criteria, in
// order: fewest PDB violations, lowest highest victim priority, lowest
// sum of victim priorities, fewest victims, latest start of the most
// important victims; then the first.
func pickCandidate(cs []candidate) candidate {
	type key struct {
		violations      int
		highest         int32
		sum             int64
		count           int
		latestStartNano int64
	}
	keyOf := func(c candidate) key {
		k := key{violations: c.pdbViolations, count: len(c.victims), highest: math.MinInt32}
		if len(c.victims) > 0 {
			k.highest = PodPriority(c.victims[0])
		}
		for _, v := range c.victims {
			// Shifted so that every term is positive, as upstream.
			k.sum += int64(PodPriority(v)) + math.MaxInt32 + 1
		}
		// The earliest start among the victims of the highest priority.
		earliest := int64(math.MaxInt64)
		for _, v := range c.victims {
			if PodPriority(v) == k.highest {
				earliest = min(earliest, startTime(v).UnixNano())
			}
		}
		k.latestStartNano = earliest
		return k
	}
	best, bestKey := cs[0], keyOf(cs[0])
	for _, c := range cs[1:] {
		k := keyOf(c)
		better := false
		switch {
		case k.violations != bestKey.violations:
			better = k.violations < bestKey.violations
		case k.highest != bestKey.highest:
			better = k.highest < bestKey.highest
		case k.sum != bestKey.sum:
			better = k.sum < bestKey.sum
		case k.count != bestKey.count:
			better = k.count < bestKey.count
		case k.latestStartNano != bestKey.latestStartNano:
			better = k.latestStartNano > bestKey.latestStartNano
		}
		if better {
			best, bestKey = c, k
		}
	}
	return best
}
