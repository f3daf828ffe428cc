package nodelifecycle

import (
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reasons and messages of the conditions the monitor sets.
const (
	reasonUnknown      = "NodeStatusUnknown"
	messageUnknown     = "Kubelet stopped posting node status."
	reasonNeverUpdated = "NodeStatusNeverUpdated"
	messageNeverPosted = "Kubelet never posted node status."
)

// monitoredConditions are the conditions that turn Unknown when a node
// falls silent.
var monitoredConditions = []corev1.NodeConditionType{
	corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure,
}

// health is what the monitor last saw of one node.
type health struct {
	// probe is when, on the controller's clock, the node last showed it
	// was alive.
	probe time.Time
	// ready is the node's Ready condition as last seen, nil if it had none.
	ready *corev1.NodeCondition
	// renew is the Lease renewTime last seen, nil if there was none.
	renew *metav1.MicroTime
}

// observe returns h updated with what the node and its Lease (nil when it
// has none) show at now, and the grace period the node gets: the probe
// time moves to now when the node's Ready condition appears, disappears or
// has a new heartbeat, or when its Lease was renewed. A node first seen
// without a Ready condition counts from its creation and gets startup
// instead of grace. h may be nil for a node not seen before.
func observe(h *health, node *corev1.Node, lease *coordinationv1.Lease, now time.Time, grace, startup time.Duration) (*health, time.Duration) {
	ready := condition(node.Status.Conditions, corev1.NodeReady)
	if ready == nil {
		grace = startup
	}
	switch {
	case h == nil && ready == nil:
		h = &health{probe: node.CreationTimestamp.Time}
	case h == nil:
		h = &health{probe: now, ready: ready.DeepCopy()}
	case (h.ready == nil) != (ready == nil),
		ready != nil && !h.ready.LastHeartbeatTime.Equal(&ready.LastHeartbeatTime):
		h = &health{probe: now, ready: ready.DeepCopy(), renew: h.renew}
	default:
		h = &health{probe: h.probe, ready: h.ready, renew: h.renew}
	}
	if lease != nil && lease.Spec.RenewTime != nil && (h.renew == nil || h.renew.Before(lease.Spec.RenewTime)) {
		h.renew = lease.Spec.RenewTime.DeepCopy()
		h.probe = now
	}
	return h, grace
}

// markUnknown sets the monitored conditions of status to Unknown, as the
// controller reports a node that stopped posting its status: a condition
// that is not Unknown yet keeps its heartbeat and gets a new transition
// time, reason and message; a missing one is added with the node's
// creation as its heartbeat.
func markUnknown(status *corev1.NodeStatus, created metav1.Time, now time.Time) {
	stamp := metav1.NewTime(now)
	for _, typ := range monitoredConditions {
		c := condition(status.Conditions, typ)
		switch {
		case c == nil:
			status.Conditions = append(status.Conditions, corev1.NodeCondition{
				Type: typ, Status: corev1.ConditionUnknown, Reason: reasonNeverUpdated, Message: messageNeverPosted,
				LastHeartbeatTime: created, LastTransitionTime: stamp,
			})
		case c.Status != corev1.ConditionUnknown:
			c.Status, c.Reason, c.Message, c.LastTransitionTime = corev1.ConditionUnknown, reasonUnknown, messageUnknown, stamp
		}
	}
}

// condition returns the condition of type typ in conds, nil if there is none.
func condition(conds []corev1.NodeCondition, typ corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

// readyStatus is the status of the node's Ready condition, "" if it has none.
func readyStatus(node *corev1.Node) corev1.ConditionStatus {
	if c := condition(node.Status.Conditions, corev1.NodeReady); c != nil {
		return c.Status
	}
	return ""
}
