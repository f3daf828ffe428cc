package plugins

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"

	"berth.dev/berth/internal/scheduler/framework"
)

// outcome is a comparable view of a *framework.Status.
type outcome struct {
	Code    framework.Code
	Reasons []string
}

func outcomeOf(st *framework.Status) outcome {
	return outcome{Code: st.Code(), Reasons: st.Reasons()}
}

func ok() outcome { return outcome{Code: framework.Success} }

func unresolvable(reasons ...string) outcome {
	return outcome{Code: framework.UnschedulableAndUnresolvable, Reasons: reasons}
}

func unschedulable(reasons ...string) outcome {
	return outcome{Code: framework.Unschedulable, Reasons: reasons}
}

type filterCase struct {
	name     string
	pod      *v1.Pod
	node     *v1.Node
	existing []*v1.Pod
	want     outcome
}

func runFilterCases(t *testing.T, pl framework.FilterPlugin, cases []filterCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			state := framework.NewCycleState()
			if pf, isPre := pl.(framework.PreFilterPlugin); isPre {
				if st := pf.PreFilter(context.Background(), state, tc.pod, nil); !st.IsSuccess() {
					t.Fatalf("PreFilter: %v", st.Message())
				}
			}
			got := outcomeOf(pl.Filter(context.Background(), state, tc.pod, framework.NewNodeInfo(tc.node, tc.existing...)))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Filter (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeUnschedulable(t *testing.T) {
	runFilterCases(t, NodeUnschedulable{}, []filterCase{
		{name: "schedulable", pod: newPod("p").obj(), node: newNode("n").obj(), want: ok()},
		{name: "cordoned", pod: newPod("p").obj(), node: newNode("n").unschedulable().obj(),
			want: unresolvable("node(s) were unschedulable")},
		{name: "cordoned, tolerated", node: newNode("n").unschedulable().obj(),
			pod:  newPod("p").toleration(v1.TaintNodeUnschedulable, v1.TolerationOpExists, "", v1.TaintEffectNoSchedule).obj(),
			want: ok()},
		{name: "cordoned, tolerating another effect", node: newNode("n").unschedulable().obj(),
			pod:  newPod("p").toleration(v1.TaintNodeUnschedulable, v1.TolerationOpExists, "", v1.TaintEffectNoExecute).obj(),
			want: unresolvable("node(s) were unschedulable")},
	})
}

func TestNodeName(t *testing.T) {
	runFilterCases(t, NodeName{}, []filterCase{
		{name: "no name", pod: newPod("p").obj(), node: newNode("n").obj(), want: ok()},
		{name: "same", pod: newPod("p").nodeName("n").obj(), node: newNode("n").obj(), want: ok()},
		{name: "other", pod: newPod("p").nodeName("m").obj(), node: newNode("n").obj(),
			want: unresolvable("node(s) didn't match the requested node name")},
	})
}

func TestNodeReady(t *testing.T) {
	runFilterCases(t, NodeReady{}, []filterCase{
		{name: "ready", pod: newPod("p").obj(), node: newNode("n").obj(), want: ok()},
		{name: "not ready", pod: newPod("p").obj(), node: newNode("n").ready(v1.ConditionFalse).obj(),
			want: unresolvable("node(s) were not ready")},
		{name: "unknown", pod: newPod("p").obj(), node: newNode("n").ready(v1.ConditionUnknown).obj(),
			want: unresolvable("node(s) were not ready")},
		{name: "no condition", pod: newPod("p").obj(), node: newNode("n").ready("").obj(),
			want: unresolvable("node(s) were not ready")},
		{name: "not ready, tolerated", node: newNode("n").ready(v1.ConditionFalse).obj(),
			pod:  newPod("p").toleration(v1.TaintNodeNotReady, v1.TolerationOpExists, "", "").obj(),
			want: ok()},
		{name: "not ready, only unreachable tolerated", node: newNode("n").ready(v1.ConditionFalse).obj(),
			pod:  newPod("p").toleration(v1.TaintNodeUnreachable, v1.TolerationOpExists, "", "").obj(),
			want: unresolvable("node(s) were not ready")},
		{name: "unknown, unreachable tolerated", node: newNode("n").ready(v1.ConditionUnknown).obj(),
			pod:  newPod("p").toleration(v1.TaintNodeUnreachable, v1.TolerationOpExists, "", v1.TaintEffectNoSchedule).obj(),
			want: ok()},
		{name: "tolerate everything", node: newNode("n").ready("").obj(),
			pod: newPod("p").toleration("", v1.TolerationOpExists, "", "").obj(), want: ok()},
	})
}

func TestNodePorts(t *testing.T) {
	const reason = "node(s) didn't have free ports for the requested pod ports"
	runFilterCases(t, NodePorts{}, []filterCase{
		{name: "no ports", pod: newPod("p").obj(), node: newNode("n").obj(),
			existing: []*v1.Pod{newPod("e").hostPort(80, "", "").obj()}, want: ok()},
		{name: "free", pod: newPod("p").hostPort(8080, "", "").obj(), node: newNode("n").obj(),
			existing: []*v1.Pod{newPod("e").hostPort(80, "", "").obj()}, want: ok()},
		{name: "taken, default protocol and IP", pod: newPod("p").hostPort(80, v1.ProtocolTCP, "").obj(), node: newNode("n").obj(),
			existing: []*v1.Pod{newPod("e").hostPort(80, "", "0.0.0.0").obj()}, want: unschedulable(reason)},
		{name: "other protocol", pod: newPod("p").hostPort(53, v1.ProtocolUDP, "").obj(), node: newNode("n").obj(),
			existing: []*v1.Pod{newPod("e").hostPort(53, v1.ProtocolTCP, "").obj()}, want: ok()},
		{name: "different IPs", pod: newPod("p").hostPort(80, "", "10.0.0.1").obj(), node: newNode("n").obj(),
			existing: []*v1.Pod{newPod("e").hostPort(80, "", "10.0.0.2").obj()}, want: ok()},
		{name: "specific IP against any", pod: newPod("p").hostPort(80, "", "10.0.0.1").obj(), node: newNode("n").obj(),
			existing: []*v1.Pod{newPod("e").hostPort(80, "", "").obj()}, want: unschedulable(reason)},
	})
}

func TestTaintTolerationFilter(t *testing.T) {
	cp := newNode("cp").taint("node-role.kubernetes.io/control-plane", "", v1.TaintEffectNoSchedule).obj()
	runFilterCases(t, TaintToleration{}, []filterCase{
		{name: "no taints", pod: newPod("p").obj(), node: newNode("n").obj(), want: ok()},
		{name: "untolerated", pod: newPod("p").obj(), node: cp,
			want: unresolvable("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }")},
		{name: "tolerated by Exists", node: cp,
			pod:  newPod("p").toleration("node-role.kubernetes.io/control-plane", v1.TolerationOpExists, "", v1.TaintEffectNoSchedule).obj(),
			want: ok()},
		{name: "NoExecute with value", pod: newPod("p").obj(), node: newNode("n").taint("dedicated", "gpu", v1.TaintEffectNoExecute).obj(),
			want: unresolvable("node(s) had untolerated taint {dedicated: gpu}")},
		{name: "Equal with wrong value", node: newNode("n").taint("dedicated", "gpu", v1.TaintEffectNoSchedule).obj(),
			pod:  newPod("p").toleration("dedicated", v1.TolerationOpEqual, "db", "").obj(),
			want: unresolvable("node(s) had untolerated taint {dedicated: gpu}")},
		{name: "Equal with value", node: newNode("n").taint("dedicated", "gpu", v1.TaintEffectNoSchedule).obj(),
			pod:  newPod("p").toleration("dedicated", "", "gpu", "").obj(),
			want: ok()},
		{name: "PreferNoSchedule is not filtered", pod: newPod("p").obj(),
			node: newNode("n").taint("soft", "", v1.TaintEffectPreferNoSchedule).obj(), want: ok()},
		{name: "first untolerated taint named", pod: newPod("p").toleration("a", v1.TolerationOpExists, "", "").obj(),
			node: newNode("n").taint("a", "1", v1.TaintEffectNoSchedule).taint("b", "2", v1.TaintEffectNoSchedule).taint("c", "3", v1.TaintEffectNoSchedule).obj(),
			want: unresolvable("node(s) had untolerated taint {b: 2}")},
	})
}

func TestNodeAffinityFilter(t *testing.T) {
	const reason = "node(s) didn't match Pod's node affinity/selector"
	required := func(terms ...v1.NodeSelectorTerm) *v1.NodeAffinity {
		return &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{NodeSelectorTerms: terms}}
	}
	expr := func(key string, op v1.NodeSelectorOperator, values ...string) v1.NodeSelectorTerm {
		return v1.NodeSelectorTerm{MatchExpressions: []v1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}}}
	}
	node := newNode("n1").label("zone", "a").label("cores", "8").obj()
	runFilterCases(t, NodeAffinity{}, []filterCase{
		{name: "nothing asked", pod: newPod("p").obj(), node: node, want: ok()},
		{name: "selector matches", pod: newPod("p").nodeSelector("zone", "a").obj(), node: node, want: ok()},
		{name: "selector mismatch", pod: newPod("p").nodeSelector("zone", "b").obj(), node: node, want: unresolvable(reason)},
		{name: "selector missing label", pod: newPod("p").nodeSelector("disk", "ssd").obj(), node: node, want: unresolvable(reason)},
		{name: "In", pod: newPod("p").nodeAffinity(required(expr("zone", v1.NodeSelectorOpIn, "a", "b"))).obj(), node: node, want: ok()},
		{name: "NotIn", pod: newPod("p").nodeAffinity(required(expr("zone", v1.NodeSelectorOpNotIn, "a"))).obj(), node: node, want: unresolvable(reason)},
		{name: "Exists", pod: newPod("p").nodeAffinity(required(expr("zone", v1.NodeSelectorOpExists))).obj(), node: node, want: ok()},
		{name: "DoesNotExist", pod: newPod("p").nodeAffinity(required(expr("zone", v1.NodeSelectorOpDoesNotExist))).obj(), node: node, want: unresolvable(reason)},
		{name: "Gt", pod: newPod("p").nodeAffinity(required(expr("cores", v1.NodeSelectorOpGt, "4"))).obj(), node: node, want: ok()},
		{name: "Lt", pod: newPod("p").nodeAffinity(required(expr("cores", v1.NodeSelectorOpLt, "4"))).obj(), node: node, want: unresolvable(reason)},
		{name: "terms are ORed", node: node,
			pod:  newPod("p").nodeAffinity(required(expr("zone", v1.NodeSelectorOpIn, "b"), expr("zone", v1.NodeSelectorOpIn, "a"))).obj(),
			want: ok()},
		{name: "empty term matches nothing", pod: newPod("p").nodeAffinity(required(v1.NodeSelectorTerm{})).obj(), node: node, want: unresolvable(reason)},
		{name: "invalid term matches nothing", pod: newPod("p").nodeAffinity(required(expr("cores", v1.NodeSelectorOpGt, "x"))).obj(), node: node, want: unresolvable(reason)},
		{name: "match field metadata.name", node: node,
			pod: newPod("p").nodeAffinity(required(v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{
				{Key: "metadata.name", Operator: v1.NodeSelectorOpIn, Values: []string{"n1"}}}})).obj(),
			want: ok()},
		{name: "match field other name", node: node,
			pod: newPod("p").nodeAffinity(required(v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{
				{Key: "metadata.name", Operator: v1.NodeSelectorOpIn, Values: []string{"n2"}}}})).obj(),
			want: unresolvable(reason)},
		{name: "selector and affinity both needed", node: node,
			pod:  newPod("p").nodeSelector("zone", "b").nodeAffinity(required(expr("zone", v1.NodeSelectorOpExists))).obj(),
			want: unresolvable(reason)},
	})
}

func TestNodeResourcesFitFilter(t *testing.T) {
	node := newNode("n").alloc("cpu", "2", "memory", "4Gi", "ephemeral-storage", "10Gi", "example.com/gpu", "1").obj()
	runFilterCases(t, &NodeResourcesFit{}, []filterCase{
		{name: "fits", pod: newPod("p").req("cpu", "1", "memory", "1Gi").obj(), node: node,
			existing: []*v1.Pod{newPod("e").req("cpu", "1").obj()}, want: ok()},
		{name: "no requests fit a full node", pod: newPod("p").obj(), node: node,
			existing: []*v1.Pod{newPod("e").req("cpu", "2", "memory", "4Gi").obj()}, want: ok()},
		{name: "insufficient cpu", pod: newPod("p").req("cpu", "1500m").obj(), node: node,
			existing: []*v1.Pod{newPod("e").req("cpu", "1").obj()}, want: unschedulable("Insufficient cpu")},
		{name: "cpu beyond allocatable is unresolvable", pod: newPod("p").req("cpu", "3").obj(), node: node,
			want: unresolvable("Insufficient cpu")},
		{name: "several shortages", pod: newPod("p").req("cpu", "2", "memory", "4Gi", "ephemeral-storage", "1Gi", "example.com/gpu", "1").obj(), node: node,
			existing: []*v1.Pod{newPod("e").req("cpu", "1", "memory", "1Gi", "ephemeral-storage", "10Gi", "example.com/gpu", "1").obj()},
			want:     unschedulable("Insufficient cpu", "Insufficient memory", "Insufficient ephemeral-storage", "Insufficient example.com/gpu")},
		{name: "extended resource the node lacks", pod: newPod("p").req("example.com/fpga", "1").obj(), node: node,
			want: unresolvable("Insufficient example.com/fpga")},
		{name: "too many pods", pod: newPod("p").obj(), node: newNode("n").alloc("pods", "1").obj(),
			existing: []*v1.Pod{newPod("e").obj()}, want: unschedulable("Too many pods")},
		{name: "init container max counts", pod: newPod("p").req("cpu", "500m").initContainer(false, "cpu", "1500m").obj(), node: node,
			existing: []*v1.Pod{newPod("e").req("cpu", "1").obj()}, want: unschedulable("Insufficient cpu")},
		{name: "sidecar adds to containers", pod: newPod("p").req("cpu", "600m").initContainer(true, "cpu", "500m").obj(), node: node,
			existing: []*v1.Pod{newPod("e").req("cpu", "1").obj()}, want: unschedulable("Insufficient cpu")},
		{name: "overhead counts", pod: newPod("p").req("cpu", "1").overhead("cpu", "100m").obj(), node: node,
			existing: []*v1.Pod{newPod("e").req("cpu", "1").obj()}, want: unschedulable("Insufficient cpu")},
	})
}

func TestPodRequests(t *testing.T) {
	tests := []struct {
		name    string
		pod     *v1.Pod
		nonZero bool
		want    framework.Resource
	}{
		{name: "sum of containers", pod: newPod("p").req("cpu", "100m", "memory", "1Ki").container("cpu", "200m").obj(),
			want: framework.Resource{MilliCPU: 300, Memory: 1024}},
		{name: "init container larger", pod: newPod("p").req("cpu", "100m").initContainer(false, "cpu", "1", "memory", "1Ki").obj(),
			want: framework.Resource{MilliCPU: 1000, Memory: 1024}},
		{name: "init container runs beside earlier sidecars", pod: newPod("p").req("cpu", "100m").
			initContainer(true, "cpu", "200m").initContainer(false, "cpu", "500m").obj(),
			want: framework.Resource{MilliCPU: 700}},
		{name: "sidecar stays for the pod's life", pod: newPod("p").req("cpu", "1").
			initContainer(false, "cpu", "500m").initContainer(true, "cpu", "200m").obj(),
			want: framework.Resource{MilliCPU: 1200}},
		{name: "overhead and extended", pod: newPod("p").req("example.com/gpu", "2").overhead("memory", "1Ki").obj(),
			want: framework.Resource{Memory: 1024, Scalar: map[v1.ResourceName]int64{"example.com/gpu": 2}}},
		{name: "non-zero defaults", pod: newPod("p").container("cpu", "1").obj(), nonZero: true,
			want: framework.Resource{MilliCPU: 1100, Memory: 2 * framework.DefaultMemoryRequest}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, framework.PodRequests(tc.pod, tc.nonZero)); diff != "" {
				t.Errorf("PodRequests (-want +got):\n%s", diff)
			}
		})
	}
}
