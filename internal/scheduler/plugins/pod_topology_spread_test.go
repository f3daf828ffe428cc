package plugins

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	corelisters "k8s.io/client-go/listers/core/v1"
)

// spread is a constraint on pods with label foo.
func spread(maxSkew int32, key string, when v1.UnsatisfiableConstraintAction) v1.TopologySpreadConstraint {
	return v1.TopologySpreadConstraint{MaxSkew: maxSkew, TopologyKey: key, WhenUnsatisfiable: when,
		LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "foo", Operator: metav1.LabelSelectorOpExists}}}}
}

func (b *podBuilder) spreadConstraints(cs ...v1.TopologySpreadConstraint) *podBuilder {
	b.p.Spec.TopologySpreadConstraints = cs
	return b
}

func TestPodTopologySpreadFilter(t *testing.T) {
	const zone = v1.LabelTopologyZone
	nodes := []*v1.Node{zoneNode("n1", "a"), zoneNode("n2", "a"), zoneNode("n3", "b"),
		newNode("n4").label(zone, "b").taint("k", "v", v1.TaintEffectNoSchedule).obj(), newNode("nozone").obj()}
	foo := func(name, node string) *v1.Pod { return newPod(name).labels("foo", "").nodeName(node).obj() }
	zoneConstraint := spread(1, zone, v1.DoNotSchedule)
	minDomains := zoneConstraint
	minDomains.MinDomains = new(int32(3))
	ignoreAffinity := zoneConstraint
	ignoreAffinity.NodeAffinityPolicy = new(v1.NodeInclusionPolicyIgnore)
	honorTaints := zoneConstraint
	honorTaints.NodeTaintsPolicy = new(v1.NodeInclusionPolicyHonor)
	withKeys := zoneConstraint
	withKeys.MatchLabelKeys = []string{"rev"}
	skew, missing := unschedulable(ReasonTopologySpread), unresolvable(ReasonTopologySpreadMissingLabel)
	terminating := foo("gone", "n3")
	terminating.DeletionTimestamp = &metav1.Time{}
	tests := []struct {
		name     string
		pod      *v1.Pod
		existing []*v1.Pod
		want     map[string]outcome
	}{
		{
			name:     "matching pod goes to the emptier zone",
			pod:      newPod("p").labels("foo", "").spreadConstraints(zoneConstraint).obj(),
			existing: []*v1.Pod{foo("x", "n1")},
			want:     map[string]outcome{"n1": skew, "n2": skew, "n3": ok(), "n4": ok(), "nozone": missing},
		},
		{
			name:     "a pod that does not match itself adds no skew",
			pod:      newPod("p").spreadConstraints(zoneConstraint).obj(),
			existing: []*v1.Pod{foo("x", "n1")},
			want:     map[string]outcome{"n1": ok(), "n2": ok(), "n3": ok(), "n4": ok(), "nozone": missing},
		},
		{
			name:     "terminating pods do not count",
			pod:      newPod("p").labels("foo", "").spreadConstraints(zoneConstraint).obj(),
			existing: []*v1.Pod{foo("x", "n1"), terminating},
			want:     map[string]outcome{"n1": skew, "n2": skew, "n3": ok(), "n4": ok(), "nozone": missing},
		},
		{
			name:     "fewer domains than minDomains make the global minimum 0",
			pod:      newPod("p").labels("foo", "").spreadConstraints(minDomains).obj(),
			existing: []*v1.Pod{foo("x", "n1"), foo("y", "n3")},
			want:     map[string]outcome{"n1": skew, "n2": skew, "n3": skew, "n4": skew, "nozone": missing},
		},
		{
			name:     "without minDomains the same layout fits",
			pod:      newPod("p").labels("foo", "").spreadConstraints(zoneConstraint).obj(),
			existing: []*v1.Pod{foo("x", "n1"), foo("y", "n3")},
			want:     map[string]outcome{"n1": ok(), "n2": ok(), "n3": ok(), "n4": ok(), "nozone": missing},
		},
		{
			name:     "nodeAffinityPolicy Honor counts only nodes the pod may use",
			pod:      newPod("p").labels("foo", "").nodeSelector(zone, "a").spreadConstraints(zoneConstraint).obj(),
			existing: []*v1.Pod{foo("x", "n1")},
			// Zone b is no domain; NodeAffinity rejects its nodes.
			want: map[string]outcome{"n1": ok(), "n2": ok(), "n3": ok(), "n4": ok(), "nozone": missing},
		},
		{
			name:     "nodeAffinityPolicy Ignore counts every node",
			pod:      newPod("p").labels("foo", "").nodeSelector(zone, "a").spreadConstraints(ignoreAffinity).obj(),
			existing: []*v1.Pod{foo("x", "n1")},
			want:     map[string]outcome{"n1": skew, "n2": skew, "n3": ok(), "n4": ok(), "nozone": missing},
		},
		{
			name:     "nodeTaintsPolicy Honor leaves tainted nodes out",
			pod:      newPod("p").labels("foo", "").spreadConstraints(honorTaints).obj(),
			existing: []*v1.Pod{foo("x", "n1"), foo("y", "n4"), foo("z", "n4")},
			// Zone b holds no counted pod; TaintToleration rejects n4.
			want: map[string]outcome{"n1": skew, "n2": skew, "n3": ok(), "n4": ok(), "nozone": missing},
		},
		{
			name:     "nodeTaintsPolicy Ignore counts pods on tainted nodes",
			pod:      newPod("p").labels("foo", "").spreadConstraints(zoneConstraint).obj(),
			existing: []*v1.Pod{foo("x", "n1"), foo("y", "n4"), foo("z", "n4")},
			want:     map[string]outcome{"n1": ok(), "n2": ok(), "n3": skew, "n4": skew, "nozone": missing},
		},
		{
			name: "matchLabelKeys counts only the same revision",
			pod:  newPod("p").labels("foo", "", "rev", "2").spreadConstraints(withKeys).obj(),
			existing: []*v1.Pod{newPod("old1").labels("foo", "", "rev", "1").nodeName("n3").obj(),
				newPod("old2").labels("foo", "", "rev", "1").nodeName("n3").obj(),
				newPod("new").labels("foo", "", "rev", "2").nodeName("n1").obj()},
			want: map[string]outcome{"n1": skew, "n2": skew, "n3": ok(), "n4": ok(), "nozone": missing},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := filterAll(t, &PodTopologySpread{}, tc.pod, snapshotOf(nodes, tc.existing))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Filter (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPodTopologySpreadScore(t *testing.T) {
	const zone = v1.LabelTopologyZone
	nodes := []*v1.Node{zoneNode("a1", "a"), zoneNode("a2", "a"), zoneNode("b1", "b")}
	web := func(name, node string) *v1.Pod {
		return newPod(name).labels("app", "web", "foo", "").nodeName(node).obj()
	}
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	if err := idx.Add(&v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: v1.ServiceSpec{Selector: map[string]string{"app": "web"}}}); err != nil {
		t.Fatal(err)
	}
	services := corelisters.NewServiceLister(idx)
	tests := []struct {
		name     string
		pl       *PodTopologySpread
		pod      *v1.Pod
		existing []*v1.Pod
		want     map[string]int64
	}{
		{
			name:     "hostname constraint prefers the emptiest node",
			pl:       &PodTopologySpread{},
			pod:      newPod("p").labels("foo", "").spreadConstraints(spread(1, v1.LabelHostname, v1.ScheduleAnyway)).obj(),
			existing: []*v1.Pod{web("x", "a1"), web("y", "a1"), web("z", "a2")},
			// raw 2·ln 5 ≈ 3, ln 5 ≈ 2, 0; then 100·(3+0-s)/3.
			want: map[string]int64{"a1": 0, "a2": 33, "b1": 100},
		},
		{
			name:     "DoNotSchedule constraints do not score",
			pl:       &PodTopologySpread{},
			pod:      newPod("p").labels("foo", "").spreadConstraints(spread(1, v1.LabelHostname, v1.DoNotSchedule)).obj(),
			existing: []*v1.Pod{web("x", "a1")},
			want:     map[string]int64{"a1": 0, "a2": 0, "b1": 0},
		},
		{
			name:     "default constraints for a Service's pods",
			pl:       &PodTopologySpread{Services: services},
			pod:      newPod("p").labels("app", "web").obj(),
			existing: []*v1.Pod{web("x", "a1")},
			// a1: ln5+2 + ln4+4 ≈ 9; a2: 2 + ln4+4 ≈ 7; b1: 6.
			want: map[string]int64{"a1": 66, "a2": 88, "b1": 100},
		},
		{
			name:     "no default constraints without a workload",
			pl:       &PodTopologySpread{Services: services},
			pod:      newPod("p").labels("app", "other").obj(),
			existing: []*v1.Pod{web("x", "a1")},
			want:     map[string]int64{"a1": 0, "a2": 0, "b1": 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := scoreAll(t, tc.pl, tc.pod, snapshotOf(nodes, tc.existing))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("scores (-want +got):\n%s", diff)
			}
		})
	}
}
