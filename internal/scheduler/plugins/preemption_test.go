package plugins

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"berth.dev/berth/internal/scheduler/framework"
)

func (b *podBuilder) started(minutesAgo int) *podBuilder {
	t := metav1.NewTime(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).Add(-time.Duration(minutesAgo) * time.Minute))
	b.p.Status.StartTime = &t
	return b
}

func TestPreemption(t *testing.T) {
	cpuNode := func(name string, pods ...*v1.Pod) scoreNode {
		return scoreNode{node: newNode(name).alloc("cpu", "1", "memory", "1Gi").obj(), pods: pods}
	}
	low := func(name string, prio int32, cpu string) *v1.Pod {
		return newPod(name).priority(prio).req("cpu", cpu).obj()
	}
	protected := low("protected", 1, "600m")
	protected.Labels = map[string]string{"app": "db"}
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db"},
		Spec:   policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
		Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 0}}
	terminating := low("terminating", 1, "600m")
	terminating.DeletionTimestamp = &metav1.Time{}
	nominatedPod := newPod("p").priority(10).req("cpu", "600m").obj()
	nominatedPod.Status.NominatedNodeName = "a"
	highNominee := framework.NewPodInfo(newPod("nominee").priority(100).req("cpu", "600m").obj())
	type want struct {
		Node       string
		Victims    []string
		Violations int
		Message    string
	}
	tests := []struct {
		name      string
		pod       *v1.Pod
		nodes     []scoreNode
		pdbs      []*policyv1.PodDisruptionBudget
		nominated map[string][]*framework.PodInfo
		want      want
	}{
		{
			name:  "evicts the lower-priority pod",
			pod:   newPod("p").priority(10).req("cpu", "600m").obj(),
			nodes: []scoreNode{cpuNode("a", low("low", 1, "600m"), low("high", 100, "300m"))},
			want:  want{Node: "a", Victims: []string{"low"}},
		},
		{
			name:  "reprieves the most important pods that still leave room",
			pod:   newPod("p").priority(10).req("cpu", "500m").obj(),
			nodes: []scoreNode{cpuNode("a", low("l1", 1, "500m"), low("l2", 2, "400m"))},
			want:  want{Node: "a", Victims: []string{"l1"}},
		},
		{
			name:  "prefers the node without PDB violations",
			pod:   newPod("p").priority(10).req("cpu", "600m").obj(),
			nodes: []scoreNode{cpuNode("a", protected), cpuNode("b", low("other", 5, "600m"))},
			pdbs:  []*policyv1.PodDisruptionBudget{pdb},
			want:  want{Node: "b", Victims: []string{"other"}},
		},
		{
			name:  "violates a PDB when nothing else helps",
			pod:   newPod("p").priority(10).req("cpu", "600m").obj(),
			nodes: []scoreNode{cpuNode("a", protected)},
			pdbs:  []*policyv1.PodDisruptionBudget{pdb},
			want:  want{Node: "a", Victims: []string{"protected"}, Violations: 1},
		},
		{
			name:  "lowest highest-priority victim",
			pod:   newPod("p").priority(10).req("cpu", "600m").obj(),
			nodes: []scoreNode{cpuNode("a", low("five", 5, "600m")), cpuNode("b", low("three", 3, "600m"))},
			want:  want{Node: "b", Victims: []string{"three"}},
		},
		{
			name: "lowest priority sum",
			pod:  newPod("p").priority(10).req("cpu", "600m").obj(),
			nodes: []scoreNode{cpuNode("a", low("a1", 1, "500m"), low("a2", 1, "500m")),
				cpuNode("b", low("b1", 1, "600m"))},
			want: want{Node: "b", Victims: []string{"b1"}},
		},
		{
			name: "latest start among equal victims",
			pod:  newPod("p").priority(10).req("cpu", "600m").obj(),
			nodes: []scoreNode{cpuNode("a", newPod("old").priority(1).req("cpu", "600m").started(60).obj()),
				cpuNode("b", newPod("new").priority(1).req("cpu", "600m").started(5).obj())},
			want: want{Node: "b", Victims: []string{"new"}},
		},
		{
			name:  "no lower-priority pods",
			pod:   newPod("p").priority(10).req("cpu", "600m").obj(),
			nodes: []scoreNode{cpuNode("a", low("same", 10, "600m"))},
			want:  want{Message: "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."},
		},
		{
			name:  "preemptionPolicy Never",
			pod:   newPod("p").priority(10).preemptNever().req("cpu", "600m").obj(),
			nodes: []scoreNode{cpuNode("a", low("low", 1, "600m"))},
			want:  want{Message: "preemption: not eligible due to preemptionPolicy=Never."},
		},
		{
			name:  "waits while a victim terminates on the nominated node",
			pod:   nominatedPod,
			nodes: []scoreNode{cpuNode("a", terminating)},
			want:  want{Message: "preemption: not eligible due to a terminating pod on the nominated node."},
		},
		{
			name: "evicts a lower-priority pod the pod's anti-affinity rejects",
			pod:  newPod("p").priority(10).requiredAntiAffinity(podTerm(v1.LabelHostname, "app", "x")).obj(),
			nodes: []scoreNode{cpuNode("a", newPod("low-x").priority(1).labels("app", "x").obj()),
				cpuNode("b", newPod("high-x").priority(100).labels("app", "x").obj())},
			want: want{Node: "a", Victims: []string{"low-x"}},
		},
		{
			name: "evicts only as many pods as the spread constraint needs",
			pod: newPod("p").priority(10).labels("foo", "").req("cpu", "500m").
				spreadConstraints(spread(1, v1.LabelHostname, v1.DoNotSchedule)).obj(),
			nodes: []scoreNode{
				cpuNode("a", newPod("l1").priority(1).labels("foo", "").obj(), newPod("l2").priority(1).labels("foo", "").obj()),
				cpuNode("b", newPod("hb").priority(100).labels("foo", "").req("cpu", "1").obj()),
				cpuNode("c", newPod("hc").priority(100).labels("foo", "").req("cpu", "1").obj()),
			},
			want: want{Node: "a", Victims: []string{"l2"}},
		},
		{
			name:      "leaves room for a higher-priority nominated pod",
			pod:       newPod("p").priority(10).req("cpu", "600m").obj(),
			nodes:     []scoreNode{cpuNode("a", low("low", 1, "300m")), cpuNode("b", low("low2", 1, "600m"))},
			nominated: map[string][]*framework.PodInfo{"a": {highNominee}},
			want:      want{Node: "b", Victims: []string{"low2"}},
		},
	}
	fw, err := NewInTreeRegistry(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap := snapshot(tc.nodes...)
			snap.PDBs, snap.Nominated = tc.pdbs, tc.nominated
			_, err := fw.Schedule(context.Background(), tc.pod, snap)
			var fitErr *framework.FitError
			if !errors.As(err, &fitErr) {
				t.Fatalf("Schedule: %v; want a FitError", err)
			}
			got := want{Message: fitErr.PostFilterMsg}
			if p := fitErr.Preemption; p != nil {
				got.Node, got.Violations = p.NodeName, p.PDBViolations
				for _, v := range p.Victims {
					got.Victims = append(got.Victims, v.Name)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("preemption (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScheduleWithNominatedPods(t *testing.T) {
	nodes := func() *framework.Snapshot {
		snap := snapshot(scoreNode{node: newNode("a").alloc("cpu", "1", "memory", "1Gi").obj()},
			scoreNode{node: newNode("b").alloc("cpu", "1", "memory", "1Gi").obj(), pods: []*v1.Pod{newPod("busy").req("cpu", "300m").obj()}})
		snap.Nominated = map[string][]*framework.PodInfo{"a": {framework.NewPodInfo(newPod("nominee").priority(100).labels("app", "x").obj())}}
		return snap
	}
	fw, err := NewInTreeRegistry(Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Without the nomination the emptier node a would win.
	res, err := fw.Schedule(context.Background(), newPod("p").priority(10).requiredAntiAffinity(podTerm(v1.LabelHostname, "app", "x")).obj(), nodes())
	if err != nil || res.NodeName != "b" {
		t.Errorf("anti-affinity to a nominated pod: Schedule = %+v, %v; want node b", res, err)
	}
	// Affinity satisfied only by a nominated pod does not count: it may
	// never come.
	_, err = fw.Schedule(context.Background(), newPod("p").priority(10).requiredAffinity(podTerm(v1.LabelHostname, "app", "x")).obj(), nodes())
	var fitErr *framework.FitError
	if !errors.As(err, &fitErr) {
		t.Errorf("affinity to a nominated pod only: Schedule error %v, want a FitError", err)
	}
}
