package plugins

import (
	"context"

	v1 "k8s.io/api/core/v1"

	"berth.dev/berth/internal/scheduler/framework"
)

// NodeName rejects every node but the one a pod names in spec.nodeName.
type NodeName struct{}

var _ framework.FilterPlugin = NodeName{}

// ReasonNodeName is NodeName's reason.
const ReasonNodeName = "node(s) didn't match the requested node name"

// Name returns "NodeName".
func (NodeName) Name() string { return "NodeName" }

// Filter implements framework.FilterPlugin.
func (NodeName) Filter(_ context.Context, _ *framework.CycleState, pod *v1.Pod, n *framework.NodeInfo) *framework.Status {
	if pod.Spec.NodeName == "" || pod.Spec.NodeName == n.Name() {
		return nil
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonNodeName)
}
