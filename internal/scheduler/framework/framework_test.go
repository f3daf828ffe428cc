package framework

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestDefaultNormalizeScore(t *testing.T) {
	tests := []struct {
		name    string
		reverse bool
		in      []int64
		want    []int64
	}{
		{name: "scaled to max", in: []int64{0, 5, 10}, want: []int64{0, 50, 100}},
		{name: "reversed", reverse: true, in: []int64{0, 5, 10}, want: []int64{100, 50, 0}},
		{name: "all zero", in: []int64{0, 0}, want: []int64{0, 0}},
		{name: "all zero reversed", reverse: true, in: []int64{0, 0}, want: []int64{100, 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			scores := make([]NodeScore, len(tc.in))
			for i, s := range tc.in {
				scores[i].Score = s
			}
			DefaultNormalizeScore(MaxNodeScore, tc.reverse, scores)
			got := make([]int64, len(scores))
			for i, s := range scores {
				got[i] = s.Score
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("scores (-want +got):\n%s", diff)
			}
		})
	}
}

func pod(uid string, cpu string, hostPort int32) *v1.Pod {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: uid, UID: types.UID("uid-" + uid)}}
	c := v1.Container{Name: "c", Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)}}}
	if hostPort > 0 {
		c.Ports = []v1.ContainerPort{{HostPort: hostPort}}
	}
	p.Spec.Containers = []v1.Container{c}
	return p
}

func TestNodeInfoCloneIsIndependent(t *testing.T) {
	node := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Status: v1.NodeStatus{Allocatable: v1.ResourceList{
		v1.ResourceCPU: resource.MustParse("4"), v1.ResourcePods: resource.MustParse("10"), "example.com/gpu": resource.MustParse("2")}}}
	orig := NewNodeInfo(node, pod("a", "1", 80), pod("b", "500m", 0))
	clone := orig.Clone()
	if !clone.RemovePod("uid-a") {
		t.Fatal("RemovePod(uid-a) = false")
	}
	clone.AddPod(NewPodInfo(pod("c", "2", 0)))
	clone.Allocatable.Scalar["example.com/gpu"] = 0
	if clone.RemovePod("uid-missing") {
		t.Error("RemovePod(uid-missing) = true")
	}

	type view struct {
		Pods     []string
		MilliCPU int64
		GPUs     int64
		Ports    []HostPort
	}
	viewOf := func(n *NodeInfo) view {
		v := view{MilliCPU: n.Requested.MilliCPU, GPUs: n.Allocatable.Scalar["example.com/gpu"], Ports: n.UsedPorts}
		for _, p := range n.Pods {
			v.Pods = append(v.Pods, p.Pod.Name)
		}
		return v
	}
	wantOrig := view{Pods: []string{"a", "b"}, MilliCPU: 1500, GPUs: 2, Ports: []HostPort{{IP: "0.0.0.0", Protocol: v1.ProtocolTCP, Port: 80}}}
	wantClone := view{Pods: []string{"b", "c"}, MilliCPU: 2500, GPUs: 0, Ports: []HostPort{}}
	if diff := cmp.Diff(wantOrig, viewOf(orig)); diff != "" {
		t.Errorf("original changed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantClone, viewOf(clone)); diff != "" {
		t.Errorf("clone (-want +got):\n%s", diff)
	}
}

func TestFitErrorPreFilterMessage(t *testing.T) {
	e := &FitError{NumAllNodes: 2, PreFilterMsg: `persistentvolumeclaim "data" not found`,
		NodeStatuses:  map[string]*Status{"a": NewStatus(UnschedulableAndUnresolvable, "ignored")},
		PostFilterMsg: "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."}
	want := `0/2 nodes are available: persistentvolumeclaim "data" not found. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.`
	if diff := cmp.Diff(want, e.Error()); diff != "" {
		t.Errorf("Error (-want +got):\n%s", diff)
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	tests := []struct {
		percentage int32
		nodes      int
		want       int
	}{
		{nodes: 10, want: 10},
		{nodes: 99, want: 99},
		{nodes: 150, want: 100},   // 49% of 150 is below the minimum of 100
		{nodes: 1000, want: 420},  // 50-8 = 42%
		{nodes: 5000, want: 500},  // 50-40 = 10%
		{nodes: 10000, want: 500}, // at least 5%
		{percentage: 100, nodes: 5000, want: 5000},
		{percentage: 1, nodes: 5000, want: 100},
	}
	for _, tc := range tests {
		f := &Framework{PercentageOfNodesToScore: tc.percentage}
		if got := f.numFeasibleNodesToFind(tc.nodes); got != tc.want {
			t.Errorf("numFeasibleNodesToFind(%d) with %d%% = %d, want %d", tc.nodes, tc.percentage, got, tc.want)
		}
	}
}

// acceptAll is a filter that accepts every node and counts its calls.
type acceptAll struct{ calls *int }

func (acceptAll) Name() string { return "acceptAll" }
func (a acceptAll) Filter(context.Context, *CycleState, *v1.Pod, *NodeInfo) *Status {
	*a.calls++
	return nil
}

func TestScheduleSearchesFromRotatingStart(t *testing.T) {
	snap := &Snapshot{}
	for i := range 250 {
		snap.Nodes = append(snap.Nodes, NewNodeInfo(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("n%03d", i)}}))
	}
	var calls int
	f := &Framework{Filters: []FilterPlugin{acceptAll{&calls}}}
	var got []string
	for range 3 {
		calls = 0
		res, err := f.Schedule(context.Background(), &v1.Pod{}, snap)
		if err != nil {
			t.Fatal(err)
		}
		// 250 nodes: 50-2 = 48%, so 120 nodes are enough.
		if calls != 120 || res.Feasible != 120 {
			t.Errorf("filtered %d nodes, %d feasible; want 120 of 250", calls, res.Feasible)
		}
		got = append(got, res.NodeName)
	}
	// Without scores every feasible node ties; the first evaluated wins.
	if diff := cmp.Diff([]string{"n000", "n120", "n240"}, got); diff != "" {
		t.Errorf("chosen nodes (-want +got):\n%s", diff)
	}
}
