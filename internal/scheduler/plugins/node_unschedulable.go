package plugins

import (
	"context"

	v1 "k8s.io/api/core/v1"

	"berth.dev/berth/internal/scheduler/framework"
)

// NodeUnschedulable rejects cordoned nodes (spec.unschedulable) unless the
// pod tolerates the node.kubernetes.io/unschedulable:NoSchedule taint.
type NodeUnschedulable struct{}

var _ framework.FilterPlugin = NodeUnschedulable{}

// Reasons of NodeUnschedulable.
const (
	ReasonNodeUnschedulable = "node(s) were unschedulable"
	ReasonNodeUnknown       = "node(s) had unknown conditions"
)

// Name returns "NodeUnschedulable".
func (NodeUnschedulable) Name() string { return "NodeUnschedulable" }

// Filter implements framework.FilterPlugin.
func (NodeUnschedulable) Filter(_ context.Context, _ *framework.CycleState, pod *v1.Pod, n *framework.NodeInfo) *framework.Status {
	if n.Node == nil {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonNodeUnknown)
	}
	if !n.Node.Spec.Unschedulable {
		return nil
	}
	taint := &v1.Taint{Key: v1.TaintNodeUnschedulable, Effect: v1.TaintEffectNoSchedule}
	if tolerates(pod.Spec.Tolerations, taint) {
		return nil
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonNodeUnschedulable)
}
