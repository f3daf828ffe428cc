package registry

import (
	"slices"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

func testNode(name string, labels map[string]string, conditions ...corev1.NodeCondition) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, CreationTimestamp: ago(20 * 24 * time.Hour)}}
	n.Status.Conditions = conditions
	return n
}

func ready(s corev1.ConditionStatus) corev1.NodeCondition {
	return corev1.NodeCondition{Type: corev1.NodeReady, Status: s}
}

func TestNodeStatusAndRoles(t *testing.T) {
	pressure := corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue}
	cordoned := func(n *corev1.Node) *corev1.Node { n.Spec.Unschedulable = true; return n }
	tests := []struct {
		name       string
		node       *corev1.Node
		wantStatus string
		wantRoles  []string
	}{
		{"ready worker", testNode("n", nil, ready(corev1.ConditionTrue)), "Ready", nil},
		{"not ready", testNode("n", nil, pressure, ready(corev1.ConditionFalse)), "NotReady", nil},
		{"ready unknown", testNode("n", nil, ready(corev1.ConditionUnknown)), "NotReady", nil},
		{"no ready condition", testNode("n", nil, pressure), "Unknown", nil},
		{"last ready condition counts", testNode("n", nil, ready(corev1.ConditionFalse), ready(corev1.ConditionTrue)), "Ready", nil},
		{"cordoned", cordoned(testNode("n", nil, ready(corev1.ConditionTrue))), "Ready,SchedulingDisabled", nil},
		{"cordoned without conditions", cordoned(testNode("n", nil)), "Unknown,SchedulingDisabled", nil},
		{"control plane roles sorted", testNode("n", map[string]string{
			"node-role.kubernetes.io/master":        "",
			"node-role.kubernetes.io/control-plane": "",
			"node-role.kubernetes.io/":              "",
			"kubernetes.io/hostname":                "n",
		}, ready(corev1.ConditionTrue)), "Ready", []string{"control-plane", "master"}},
		{"legacy role label", testNode("n", map[string]string{"kubernetes.io/role": "etcd", "node-role.kubernetes.io/etcd": "true"}), "Unknown", []string{"etcd"}},
		{"empty legacy role", testNode("n", map[string]string{"kubernetes.io/role": ""}), "Unknown", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nodeStatus(tt.node); got != tt.wantStatus {
				t.Errorf("nodeStatus = %q, want %q", got, tt.wantStatus)
			}
			if got := nodeRoles(tt.node); !slices.Equal(got, tt.wantRoles) {
				t.Errorf("nodeRoles = %q, want %q", got, tt.wantRoles)
			}
		})
	}
}

func clusterGolden() map[schema.GroupKind][]runtime.Object {
	server := testNode("server-1", map[string]string{"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "true"}, ready(corev1.ConditionTrue))
	server.Status.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeHostName, Address: "server-1"},
		{Type: corev1.NodeInternalIP, Address: "10.0.0.1"},
		{Type: corev1.NodeInternalIP, Address: "fd00::1"},
		{Type: corev1.NodeExternalIP, Address: "203.0.113.5"},
	}
	server.Status.NodeInfo = corev1.NodeSystemInfo{
		KubeletVersion: "v1.37.2+berth", OSImage: "Debian GNU/Linux 13 (trixie)", KernelVersion: "6.12.0-1-amd64", ContainerRuntimeVersion: "berth://0.1.0",
	}
	worker := testNode("worker-1", nil, ready(corev1.ConditionFalse))
	worker.Spec.Unschedulable = true
	worker.CreationTimestamp = ago(90 * time.Minute)

	return map[schema.GroupKind][]runtime.Object{
		{Kind: "Node"}: {server, worker},
		{Kind: "Namespace"}: {
			&corev1.Namespace{ObjectMeta: om("default", 100*24*time.Hour), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
			&corev1.Namespace{ObjectMeta: om("old", 2*time.Hour), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
		},
		{Group: "coordination.k8s.io", Kind: "Lease"}: {
			&coordinationv1.Lease{ObjectMeta: om("server-1", 5*time.Hour), Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("server-1")}},
			&coordinationv1.Lease{ObjectMeta: om("free", 5*time.Hour)},
		},
		{Group: "node.k8s.io", Kind: "RuntimeClass"}: {
			&nodev1.RuntimeClass{ObjectMeta: om("crun", time.Hour), Handler: "crun"},
		},
		{Group: "scheduling.k8s.io", Kind: "PriorityClass"}: {
			&schedulingv1.PriorityClass{ObjectMeta: om("system-node-critical", time.Hour), Value: 2000001000},
			&schedulingv1.PriorityClass{ObjectMeta: om("batch", time.Hour), Value: -10, GlobalDefault: true, PreemptionPolicy: ptr.To(corev1.PreemptNever)},
		},
		{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}: {
			&metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "widgets.example.com", CreationTimestamp: metav1.NewTime(time.Date(2024, 4, 1, 10, 30, 0, 0, time.FixedZone("CEST", 2*3600)))}},
		},
		{Kind: "LimitRange"}: {&corev1.LimitRange{ObjectMeta: om("limits", 48*time.Hour)}},
	}
}
