package plugins

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"

	"berth.dev/berth/internal/scheduler/framework"
)

func snapshot(nodes ...scoreNode) *framework.Snapshot {
	snap := &framework.Snapshot{}
	for _, n := range nodes {
		snap.Nodes = append(snap.Nodes, framework.NewNodeInfo(n.node, n.pods...))
	}
	return snap
}

func controlPlane(name string) scoreNode {
	return scoreNode{node: newNode(name).alloc("cpu", "4").taint("node-role.kubernetes.io/control-plane", "", v1.TaintEffectNoSchedule).obj()}
}

func TestScheduleUnschedulableMessage(t *testing.T) {
	worker := func(pods ...*v1.Pod) scoreNode {
		return scoreNode{node: newNode("w1").alloc("cpu", "1", "memory", "1Gi").obj(), pods: pods}
	}
	tests := []struct {
		name  string
		pod   *v1.Pod
		nodes []scoreNode
		want  string
	}{
		{name: "no nodes", pod: newPod("p").obj(), want: "no nodes available to schedule pods"},
		{name: "full worker, no victims",
			pod:   newPod("p").req("cpu", "500m").obj(),
			nodes: []scoreNode{controlPlane("cp1"), controlPlane("cp2"), worker(newPod("e").req("cpu", "1").obj())},
			want: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. " +
				"preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."},
		{name: "request beyond allocatable",
			pod:   newPod("p").req("cpu", "2").obj(),
			nodes: []scoreNode{controlPlane("cp1"), controlPlane("cp2"), worker()},
			want: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. " +
				"preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."},
		{name: "victims do not free enough",
			pod: newPod("p").priority(10).req("cpu", "800m").obj(),
			nodes: []scoreNode{worker(newPod("low").priority(1).req("cpu", "100m").obj(),
				newPod("high").priority(100).req("cpu", "500m").obj())},
			want: "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Insufficient cpu."},
		{name: "victims would free enough",
			pod:   newPod("p").priority(10).req("cpu", "800m").obj(),
			nodes: []scoreNode{worker(newPod("low").priority(1).req("cpu", "500m").obj())},
			want:  "0/1 nodes are available: 1 Insufficient cpu."},
		{name: "preemptionPolicy Never",
			pod:   newPod("p").preemptNever().req("cpu", "500m").obj(),
			nodes: []scoreNode{worker(newPod("e").req("cpu", "1").obj())},
			want:  "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."},
		{name: "reasons counted and sorted",
			pod: newPod("p").req("cpu", "500m", "memory", "512Mi").nodeSelector("zone", "a").obj(),
			nodes: []scoreNode{
				{node: newNode("a").label("zone", "a").alloc("cpu", "1", "memory", "1Gi").obj(), pods: []*v1.Pod{newPod("e").req("cpu", "1", "memory", "1Gi").obj()}},
				{node: newNode("b").label("zone", "b").alloc("cpu", "1", "memory", "1Gi").obj()},
				{node: newNode("c").label("zone", "a").alloc("cpu", "1", "memory", "1Gi").unschedulable().obj()},
				{node: newNode("d").label("zone", "a").alloc("cpu", "1", "memory", "1Gi").ready(v1.ConditionFalse).obj()},
			},
			want: "0/4 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 node(s) didn't match Pod's node affinity/selector, " +
				"1 node(s) were not ready, 1 node(s) were unschedulable. " +
				"preemption: 0/4 nodes are available: 1 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling."},
	}
	fw, err := NewInTreeRegistry(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := fw.Schedule(context.Background(), tc.pod, snapshot(tc.nodes...))
			var fitErr *framework.FitError
			if !errors.As(err, &fitErr) {
				t.Fatalf("Schedule = %+v, %v; want a FitError", res, err)
			}
			if diff := cmp.Diff(tc.want, fitErr.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSchedulePicksNode(t *testing.T) {
	empty := func(name string) scoreNode {
		return scoreNode{node: newNode(name).alloc("cpu", "4", "memory", "8Gi").obj()}
	}
	busy := func(name string) scoreNode {
		return scoreNode{node: newNode(name).alloc("cpu", "4", "memory", "8Gi").obj(), pods: []*v1.Pod{newPod("e-"+name).req("cpu", "2", "memory", "4Gi").obj()}}
	}
	tests := []struct {
		name     string
		opts     Options
		pick     func(int) int
		pod      *v1.Pod
		nodes    []scoreNode
		want     string
		feasible int
	}{
		{name: "only feasible node", pod: newPod("p").req("cpu", "3").obj(),
			nodes: []scoreNode{busy("a"), empty("b")}, want: "b", feasible: 1},
		{name: "least allocated spreads", pod: newPod("p").req("cpu", "1").obj(),
			nodes: []scoreNode{busy("a"), empty("b"), busy("c")}, want: "b", feasible: 3},
		{name: "most allocated packs", opts: Options{Strategy: MostAllocated}, pod: newPod("p").req("cpu", "1", "memory", "2Gi").obj(),
			nodes: []scoreNode{empty("a"), busy("b"), empty("c")}, want: "b", feasible: 3},
		{name: "tie goes to first by default", pod: newPod("p").obj(),
			nodes: []scoreNode{empty("a"), empty("b"), empty("c")}, want: "a", feasible: 3},
		{name: "tie broken by Pick", pick: func(n int) int { return n - 1 }, pod: newPod("p").obj(),
			nodes: []scoreNode{empty("a"), empty("b"), busy("c")}, want: "b", feasible: 3},
		{name: "taint preference outweighs resources", pod: newPod("p").obj(),
			nodes: []scoreNode{{node: newNode("a").alloc("cpu", "4", "memory", "8Gi").taint("x", "", v1.TaintEffectPreferNoSchedule).obj()}, busy("b")},
			want:  "b", feasible: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fw, err := NewInTreeRegistry(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			fw.Pick = tc.pick
			got, err := fw.Schedule(context.Background(), tc.pod, snapshot(tc.nodes...))
			if err != nil {
				t.Fatalf("Schedule: %v", err)
			}
			if diff := cmp.Diff(framework.Result{NodeName: tc.want, Feasible: tc.feasible}, got); diff != "" {
				t.Errorf("Schedule (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewInTreeRegistryRejectsUnknownStrategy(t *testing.T) {
	if _, err := NewInTreeRegistry(Options{Strategy: "Random"}); err == nil {
		t.Fatal("NewInTreeRegistry accepted an unknown strategy")
	}
}
