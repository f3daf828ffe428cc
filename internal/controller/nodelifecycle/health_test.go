package nodelifecycle

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func readyNode(heartbeat time.Time, status corev1.ConditionStatus) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1", CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: status, LastHeartbeatTime: metav1.NewTime(heartbeat), LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour)),
		}}},
	}
}

func lease(renew time.Time) *coordinationv1.Lease {
	rt := metav1.NewMicroTime(renew)
	return &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{RenewTime: &rt}}
}

func TestObserve(t *testing.T) {
	const grace, startup = 40 * time.Second, 60 * time.Second
	now := t0.Add(time.Minute)
	seen := &health{probe: t0, ready: &readyNode(t0, corev1.ConditionTrue).Status.Conditions[0], renew: lease(t0).Spec.RenewTime}
	tests := []struct {
		name      string
		have      *health
		node      *corev1.Node
		lease     *coordinationv1.Lease
		wantProbe time.Time
		wantGrace time.Duration
	}{
		{name: "first sight counts from now", node: readyNode(t0, corev1.ConditionTrue), wantProbe: now, wantGrace: grace},
		{name: "never reported Ready counts from creation with the startup grace",
			node: &corev1.Node{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(t0)}}, wantProbe: t0, wantGrace: startup},
		{name: "nothing new keeps the probe", have: seen, node: readyNode(t0, corev1.ConditionTrue), lease: lease(t0), wantProbe: t0, wantGrace: grace},
		{name: "new heartbeat", have: seen, node: readyNode(t0.Add(time.Second), corev1.ConditionTrue), lease: lease(t0), wantProbe: now, wantGrace: grace},
		{name: "renewed lease", have: seen, node: readyNode(t0, corev1.ConditionTrue), lease: lease(t0.Add(time.Second)), wantProbe: now, wantGrace: grace},
		{name: "older lease is no renewal", have: seen, node: readyNode(t0, corev1.ConditionTrue), lease: lease(t0.Add(-time.Second)), wantProbe: t0, wantGrace: grace},
		{name: "a Ready condition that went away", have: seen,
			node: &corev1.Node{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(t0)}}, wantProbe: now, wantGrace: startup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, g := observe(tt.have, tt.node, tt.lease, now, grace, startup)
			if !h.probe.Equal(tt.wantProbe) || g != tt.wantGrace {
				t.Errorf("probe %v grace %v, want %v and %v", h.probe, g, tt.wantProbe, tt.wantGrace)
			}
			if tt.have != nil && !tt.have.probe.Equal(t0) {
				t.Error("observe changed the health it was given")
			}
		})
	}
}

func TestMarkUnknown(t *testing.T) {
	created := metav1.NewTime(t0.Add(-time.Hour))
	old := metav1.NewTime(t0.Add(-time.Minute))
	now := metav1.NewTime(t0)
	status := corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "ready", LastHeartbeatTime: old, LastTransitionTime: created},
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", LastHeartbeatTime: old, LastTransitionTime: created},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionUnknown, Reason: "Earlier", Message: "earlier", LastHeartbeatTime: old, LastTransitionTime: old},
		{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, Reason: "RouteCreated", LastHeartbeatTime: old, LastTransitionTime: created},
	}}
	markUnknown(&status, created, t0)
	want := []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: reasonUnknown, Message: messageUnknown, LastHeartbeatTime: old, LastTransitionTime: now},
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionUnknown, Reason: reasonUnknown, Message: messageUnknown, LastHeartbeatTime: old, LastTransitionTime: now},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionUnknown, Reason: "Earlier", Message: "earlier", LastHeartbeatTime: old, LastTransitionTime: old},
		{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, Reason: "RouteCreated", LastHeartbeatTime: old, LastTransitionTime: created},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionUnknown, Reason: reasonNeverUpdated, Message: messageNeverPosted, LastHeartbeatTime: created, LastTransitionTime: now},
	}
	if diff := cmp.Diff(want, status.Conditions); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
}
