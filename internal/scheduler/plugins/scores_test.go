package plugins

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"

	"berth.dev/berth/internal/scheduler/framework"
)

// scoreNode is a node and the pods already on it.
type scoreNode struct {
	node *v1.Node
	pods []*v1.Pod
}

// scores runs pl (and its normaliser) over nodes and returns the scores.
func scores(t *testing.T, pl framework.ScorePlugin, pod *v1.Pod, nodes []scoreNode) []framework.NodeScore {
	t.Helper()
	state := framework.NewCycleState()
	if pf, isPre := pl.(framework.PreFilterPlugin); isPre {
		pf.PreFilter(context.Background(), state, pod, nil)
	}
	var out []framework.NodeScore
	for _, n := range nodes {
		s, st := pl.Score(context.Background(), state, pod, framework.NewNodeInfo(n.node, n.pods...))
		if !st.IsSuccess() {
			t.Fatalf("Score: %s", st.Message())
		}
		out = append(out, framework.NodeScore{Name: n.node.Name, Score: s})
	}
	if norm, isNorm := pl.(framework.ScoreNormalizer); isNorm {
		norm.NormalizeScore(context.Background(), state, pod, out)
	}
	return out
}

func TestResourceScores(t *testing.T) {
	// n1 has 1 of 4 cpus and 1 of 8Gi requested, n2 3 cpus and 1Gi.
	nodes := []scoreNode{
		{node: newNode("n1").alloc("cpu", "4", "memory", "8Gi").obj(), pods: []*v1.Pod{newPod("a").req("cpu", "1", "memory", "1Gi").obj()}},
		{node: newNode("n2").alloc("cpu", "4", "memory", "8Gi").obj(), pods: []*v1.Pod{newPod("b").req("cpu", "3", "memory", "1Gi").obj()}},
	}
	pod := newPod("p").req("cpu", "1", "memory", "1Gi").obj()
	tests := []struct {
		name string
		pl   framework.ScorePlugin
		want []framework.NodeScore
	}{
		// n1: cpu (4-2)/4 = 50, memory (8-2)/8 = 75 -> 62; n2: cpu 0, memory 75 -> 37.
		{name: "least allocated", pl: &NodeResourcesFit{Strategy: LeastAllocated},
			want: []framework.NodeScore{{Name: "n1", Score: 62}, {Name: "n2", Score: 37}}},
		// n1: cpu 50, memory 25 -> 37; n2: cpu 100, memory 25 -> 62.
		{name: "most allocated", pl: &NodeResourcesFit{Strategy: MostAllocated},
			want: []framework.NodeScore{{Name: "n1", Score: 37}, {Name: "n2", Score: 62}}},
		// n1: fractions 0.5 and 0.25 -> 100*(1-0.125) = 87; n2: 1 and 0.25 -> 62.
		{name: "balanced allocation", pl: BalancedAllocation{},
			want: []framework.NodeScore{{Name: "n1", Score: 87}, {Name: "n2", Score: 62}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, scores(t, tc.pl, pod, nodes)); diff != "" {
				t.Errorf("scores (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResourceScoresNonZeroDefaults(t *testing.T) {
	// A pod without requests still counts 100m cpu and 200Mi memory, so
	// least-allocated scoring spreads request-less pods.
	nodes := []scoreNode{
		{node: newNode("n1").alloc("cpu", "1", "memory", "1000Mi").obj(), pods: []*v1.Pod{newPod("a").obj()}},
		{node: newNode("n2").alloc("cpu", "1", "memory", "1000Mi").obj()},
	}
	// n1: cpu (1000-200)/1000 = 80, memory (1000-400)/1000 = 60 -> 70;
	// n2: cpu 90, memory 80 -> 85.
	want := []framework.NodeScore{{Name: "n1", Score: 70}, {Name: "n2", Score: 85}}
	if diff := cmp.Diff(want, scores(t, &NodeResourcesFit{}, newPod("p").obj(), nodes)); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}
	// BalancedAllocation skips best-effort pods.
	want = []framework.NodeScore{{Name: "n1", Score: 0}, {Name: "n2", Score: 0}}
	if diff := cmp.Diff(want, scores(t, BalancedAllocation{}, newPod("p").obj(), nodes)); diff != "" {
		t.Errorf("balanced scores (-want +got):\n%s", diff)
	}
}

func TestNodeAffinityScore(t *testing.T) {
	pref := func(weight int32, key, value string) v1.PreferredSchedulingTerm {
		return v1.PreferredSchedulingTerm{Weight: weight, Preference: v1.NodeSelectorTerm{MatchExpressions: []v1.NodeSelectorRequirement{
			{Key: key, Operator: v1.NodeSelectorOpIn, Values: []string{value}}}}}
	}
	nodes := []scoreNode{
		{node: newNode("n1").label("zone", "a").label("disk", "ssd").obj()},
		{node: newNode("n2").label("zone", "a").obj()},
		{node: newNode("n3").obj()},
	}
	tests := []struct {
		name string
		pod  *v1.Pod
		want []framework.NodeScore
	}{
		{name: "no preferences", pod: newPod("p").obj(),
			want: []framework.NodeScore{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}}},
		{name: "weights summed and normalised", pod: newPod("p").nodeAffinity(&v1.NodeAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []v1.PreferredSchedulingTerm{pref(30, "zone", "a"), pref(10, "disk", "ssd")}}).obj(),
			want: []framework.NodeScore{{Name: "n1", Score: 100}, {Name: "n2", Score: 75}, {Name: "n3", Score: 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, scores(t, NodeAffinity{}, tc.pod, nodes)); diff != "" {
				t.Errorf("scores (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTaintTolerationScore(t *testing.T) {
	nodes := []scoreNode{
		{node: newNode("n1").obj()},
		{node: newNode("n2").taint("a", "", v1.TaintEffectPreferNoSchedule).obj()},
		{node: newNode("n3").taint("a", "", v1.TaintEffectPreferNoSchedule).taint("b", "", v1.TaintEffectPreferNoSchedule).
			taint("c", "", v1.TaintEffectNoSchedule).obj()},
	}
	tests := []struct {
		name string
		pod  *v1.Pod
		want []framework.NodeScore
	}{
		{name: "fewer untolerated taints is better", pod: newPod("p").obj(),
			want: []framework.NodeScore{{Name: "n1", Score: 100}, {Name: "n2", Score: 50}, {Name: "n3", Score: 0}}},
		{name: "tolerated taints do not count", pod: newPod("p").toleration("a", v1.TolerationOpExists, "", v1.TaintEffectPreferNoSchedule).obj(),
			want: []framework.NodeScore{{Name: "n1", Score: 100}, {Name: "n2", Score: 100}, {Name: "n3", Score: 0}}},
		{name: "NoSchedule tolerations do not count", pod: newPod("p").toleration("a", v1.TolerationOpExists, "", v1.TaintEffectNoSchedule).obj(),
			want: []framework.NodeScore{{Name: "n1", Score: 100}, {Name: "n2", Score: 50}, {Name: "n3", Score: 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, scores(t, TaintToleration{}, tc.pod, nodes)); diff != "" {
				t.Errorf("scores (-want +got):\n%s", diff)
			}
		})
	}
}
