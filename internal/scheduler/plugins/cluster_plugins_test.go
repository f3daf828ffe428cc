package plugins

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	corelisters "k8s.io/client-go/listers/core/v1"

	"berth.dev/berth/internal/scheduler/framework"
)

// clusterPlugin is a plugin that looks at the whole snapshot.
type clusterPlugin interface {
	framework.PreFilterPlugin
	framework.FilterPlugin
	framework.PreScorePlugin
	framework.ScorePlugin
	framework.ScoreNormalizer
}

// snapshotOf places each pod on the node named by its spec.nodeName.
func snapshotOf(nodes []*v1.Node, pods []*v1.Pod) *framework.Snapshot {
	snap := &framework.Snapshot{}
	for _, n := range nodes {
		var on []*v1.Pod
		for _, p := range pods {
			if p.Spec.NodeName == n.Name {
				on = append(on, p)
			}
		}
		snap.Nodes = append(snap.Nodes, framework.NewNodeInfo(n, on...))
	}
	return snap
}

// filterAll runs PreFilter and Filter for pod on every node and returns
// the outcomes by node name.
func filterAll(t *testing.T, pl clusterPlugin, pod *v1.Pod, snap *framework.Snapshot) map[string]outcome {
	t.Helper()
	state := framework.NewCycleState()
	if st := pl.PreFilter(context.Background(), state, pod, snap); !st.IsSuccess() {
		t.Fatalf("PreFilter: %s", st.Message())
	}
	out := map[string]outcome{}
	for _, n := range snap.Nodes {
		out[n.Name()] = outcomeOf(pl.Filter(context.Background(), state, pod, n))
	}
	return out
}

// scoreAll runs PreFilter, PreScore, Score and NormalizeScore for pod
// over every node of snap.
func scoreAll(t *testing.T, pl clusterPlugin, pod *v1.Pod, snap *framework.Snapshot) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	state := framework.NewCycleState()
	(&NodeResourcesFit{}).PreFilter(ctx, state, pod, snap)
	pl.PreFilter(ctx, state, pod, snap)
	if st := pl.PreScore(ctx, state, pod, snap.Nodes); !st.IsSuccess() {
		t.Fatalf("PreScore: %s", st.Message())
	}
	scores := make([]framework.NodeScore, len(snap.Nodes))
	for i, n := range snap.Nodes {
		s, st := pl.Score(ctx, state, pod, n)
		if !st.IsSuccess() {
			t.Fatalf("Score: %s", st.Message())
		}
		scores[i] = framework.NodeScore{Name: n.Name(), Score: s}
	}
	pl.NormalizeScore(ctx, state, pod, scores)
	out := map[string]int64{}
	for _, s := range scores {
		out[s.Name] = s.Score
	}
	return out
}

func (b *podBuilder) labels(kv ...string) *podBuilder {
	if b.p.Labels == nil {
		b.p.Labels = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		b.p.Labels[kv[i]] = kv[i+1]
	}
	return b
}

func (b *podBuilder) namespace(ns string) *podBuilder {
	b.p.Namespace = ns
	return b
}

func (b *podBuilder) affinityTo() *v1.Affinity {
	if b.p.Spec.Affinity == nil {
		b.p.Spec.Affinity = &v1.Affinity{}
	}
	return b.p.Spec.Affinity
}

// podTerm selects pods with label key=value (an In expression) in
// topology key topo.
func podTerm(topo, key, value string) v1.PodAffinityTerm {
	return v1.PodAffinityTerm{TopologyKey: topo, LabelSelector: &metav1.LabelSelector{
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: key, Operator: metav1.LabelSelectorOpIn, Values: []string{value}}}}}
}

func (b *podBuilder) requiredAffinity(terms ...v1.PodAffinityTerm) *podBuilder {
	a := b.affinityTo()
	a.PodAffinity = &v1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}
	return b
}

func (b *podBuilder) requiredAntiAffinity(terms ...v1.PodAffinityTerm) *podBuilder {
	a := b.affinityTo()
	a.PodAntiAffinity = &v1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}
	return b
}

func (b *podBuilder) preferredAffinity(weight int32, term v1.PodAffinityTerm) *podBuilder {
	a := b.affinityTo()
	if a.PodAffinity == nil {
		a.PodAffinity = &v1.PodAffinity{}
	}
	a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
		v1.WeightedPodAffinityTerm{Weight: weight, PodAffinityTerm: term})
	return b
}

func (b *podBuilder) preferredAntiAffinity(weight int32, term v1.PodAffinityTerm) *podBuilder {
	a := b.affinityTo()
	if a.PodAntiAffinity == nil {
		a.PodAntiAffinity = &v1.PodAntiAffinity{}
	}
	a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
		v1.WeightedPodAffinityTerm{Weight: weight, PodAffinityTerm: term})
	return b
}

func zoneNode(name, zone string) *v1.Node {
	return newNode(name).label(v1.LabelTopologyZone, zone).obj()
}

func namespaceLister(t *testing.T, nss ...*v1.Namespace) corelisters.NamespaceLister {
	t.Helper()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, ns := range nss {
		if err := idx.Add(ns); err != nil {
			t.Fatal(err)
		}
	}
	return corelisters.NewNamespaceLister(idx)
}

func TestInterPodAffinityFilter(t *testing.T) {
	const zone = v1.LabelTopologyZone
	nodes := []*v1.Node{zoneNode("a1", "a"), zoneNode("a2", "a"), zoneNode("b1", "b"), newNode("nozone").obj()}
	nsLister := namespaceLister(t, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team", Labels: map[string]string{"team": "x"}}})
	withNSSelector := podTerm(zone, "app", "db")
	withNSSelector.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "x"}}
	matchKeys := podTerm(v1.LabelHostname, "app", "web")
	matchKeys.MatchLabelKeys = []string{"rev"}
	mismatchKeys := podTerm(v1.LabelHostname, "app", "web")
	mismatchKeys.MismatchLabelKeys = []string{"tenant"}
	aff, anti, existing := ReasonAffinityRulesNotMatch, ReasonAntiAffinityRulesNotMatch, ReasonExistingAntiAffinityRulesNotMatch
	tests := []struct {
		name     string
		pod      *v1.Pod
		existing []*v1.Pod
		want     map[string]outcome
	}{
		{
			name:     "affinity to a zone holding a match",
			pod:      newPod("p").requiredAffinity(podTerm(zone, "app", "db")).obj(),
			existing: []*v1.Pod{newPod("db").labels("app", "db").nodeName("a2").obj()},
			want:     map[string]outcome{"a1": ok(), "a2": ok(), "b1": unresolvable(aff), "nozone": unresolvable(aff)},
		},
		{
			name:     "affinity without any match and not matching itself",
			pod:      newPod("p").requiredAffinity(podTerm(zone, "app", "db")).obj(),
			existing: []*v1.Pod{newPod("x").labels("app", "web").nodeName("a1").obj()},
			want:     map[string]outcome{"a1": unresolvable(aff), "a2": unresolvable(aff), "b1": unresolvable(aff), "nozone": unresolvable(aff)},
		},
		{
			name: "self-affinity starts the group on labelled nodes",
			pod:  newPod("p").labels("app", "db").requiredAffinity(podTerm(zone, "app", "db")).obj(),
			want: map[string]outcome{"a1": ok(), "a2": ok(), "b1": ok(), "nozone": unresolvable(aff)},
		},
		{
			name:     "affinity ignores pods of other namespaces",
			pod:      newPod("p").requiredAffinity(podTerm(zone, "app", "db")).obj(),
			existing: []*v1.Pod{newPod("db").namespace("other").labels("app", "db").nodeName("a2").obj()},
			want:     map[string]outcome{"a1": unresolvable(aff), "a2": unresolvable(aff), "b1": unresolvable(aff), "nozone": unresolvable(aff)},
		},
		{
			name:     "namespace selector reaches labelled namespaces",
			pod:      newPod("p").requiredAffinity(withNSSelector).obj(),
			existing: []*v1.Pod{newPod("db").namespace("team").labels("app", "db").nodeName("b1").obj()},
			want:     map[string]outcome{"a1": unresolvable(aff), "a2": unresolvable(aff), "b1": ok(), "nozone": unresolvable(aff)},
		},
		{
			name:     "anti-affinity by hostname",
			pod:      newPod("p").requiredAntiAffinity(podTerm(v1.LabelHostname, "app", "web")).obj(),
			existing: []*v1.Pod{newPod("w").labels("app", "web").nodeName("a1").obj()},
			want:     map[string]outcome{"a1": unschedulable(anti), "a2": ok(), "b1": ok(), "nozone": ok()},
		},
		{
			name:     "anti-affinity by zone; nodes without the label pass",
			pod:      newPod("p").requiredAntiAffinity(podTerm(zone, "app", "web")).obj(),
			existing: []*v1.Pod{newPod("w").labels("app", "web").nodeName("a1").obj()},
			want:     map[string]outcome{"a1": unschedulable(anti), "a2": unschedulable(anti), "b1": ok(), "nozone": ok()},
		},
		{
			name:     "existing pod's anti-affinity repels the pod",
			pod:      newPod("p").labels("app", "web").obj(),
			existing: []*v1.Pod{newPod("w").labels("app", "x").requiredAntiAffinity(podTerm(zone, "app", "web")).nodeName("b1").obj()},
			want:     map[string]outcome{"a1": ok(), "a2": ok(), "b1": unschedulable(existing), "nozone": ok()},
		},
		{
			name: "matchLabelKeys narrows to the same revision",
			pod:  newPod("p").labels("app", "web", "rev", "2").requiredAntiAffinity(matchKeys).obj(),
			existing: []*v1.Pod{
				newPod("old").labels("app", "web", "rev", "1").nodeName("a1").obj(),
				newPod("new").labels("app", "web", "rev", "2").nodeName("a2").obj(),
			},
			want: map[string]outcome{"a1": ok(), "a2": unschedulable(anti), "b1": ok(), "nozone": ok()},
		},
		{
			name: "mismatchLabelKeys keeps other tenants away",
			pod:  newPod("p").labels("tenant", "t1").requiredAntiAffinity(mismatchKeys).obj(),
			existing: []*v1.Pod{
				newPod("mine").labels("app", "web", "tenant", "t1").nodeName("a1").obj(),
				newPod("theirs").labels("app", "web", "tenant", "t2").nodeName("a2").obj(),
			},
			want: map[string]outcome{"a1": ok(), "a2": unschedulable(anti), "b1": ok(), "nozone": ok()},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := filterAll(t, &InterPodAffinity{Namespaces: nsLister}, tc.pod, snapshotOf(nodes, tc.existing))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Filter (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInterPodAffinityScore(t *testing.T) {
	const zone = v1.LabelTopologyZone
	nodes := []*v1.Node{zoneNode("a1", "a"), zoneNode("b1", "b"), zoneNode("c1", "c")}
	tests := []struct {
		name     string
		pod      *v1.Pod
		existing []*v1.Pod
		want     map[string]int64
	}{
		{
			name: "no terms anywhere",
			pod:  newPod("p").obj(),
			want: map[string]int64{"a1": 0, "b1": 0, "c1": 0},
		},
		{
			name: "preferred affinity and anti-affinity of the pod",
			pod: newPod("p").preferredAffinity(5, podTerm(zone, "app", "db")).
				preferredAntiAffinity(5, podTerm(zone, "app", "web")).obj(),
			existing: []*v1.Pod{
				newPod("db").labels("app", "db").nodeName("a1").obj(),
				newPod("web").labels("app", "web").nodeName("c1").obj(),
			},
			// a1 +5, b1 0, c1 -5: scaled from -5..5.
			want: map[string]int64{"a1": 100, "b1": 50, "c1": 0},
		},
		{
			name: "existing pods' terms: required affinity weighs 1, preferred anti-affinity its weight",
			pod:  newPod("p").labels("app", "web").obj(),
			existing: []*v1.Pod{
				newPod("x").requiredAffinity(podTerm(zone, "app", "web")).nodeName("a1").obj(),
				newPod("y").preferredAntiAffinity(3, podTerm(zone, "app", "web")).nodeName("c1").obj(),
			},
			// a1 +1, b1 0, c1 -3.
			want: map[string]int64{"a1": 100, "b1": 75, "c1": 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := scoreAll(t, &InterPodAffinity{}, tc.pod, snapshotOf(nodes, tc.existing))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("scores (-want +got):\n%s", diff)
			}
		})
	}
}
