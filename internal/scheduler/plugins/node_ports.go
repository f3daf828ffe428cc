package plugins

import (
	"context"

	v1 "k8s.io/api/core/v1"

	"berth.dev/berth/internal/scheduler/framework"
)

// NodePorts rejects nodes where a host port the pod asks for is taken.
type NodePorts struct{}

var _ framework.FilterPlugin = NodePorts{}

// ReasonNodePorts is NodePorts' reason.
const ReasonNodePorts = "node(s) didn't have free ports for the requested pod ports"

// Name returns "NodePorts".
func (NodePorts) Name() string { return "NodePorts" }

// Filter implements framework.FilterPlugin.
func (NodePorts) Filter(_ context.Context, _ *framework.CycleState, pod *v1.Pod, n *framework.NodeInfo) *framework.Status {
	for _, want := range framework.PodHostPorts(pod) {
		for _, used := range n.UsedPorts {
			if want.Conflicts(used) {
				return framework.NewStatus(framework.Unschedulable, ReasonNodePorts)
			}
		}
	}
	return nil
}
