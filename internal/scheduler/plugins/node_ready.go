package plugins

import (
	"context"

	v1 "k8s.io/api/core/v1"

	"berth.dev/berth/internal/scheduler/framework"
)

// NodeReady rejects nodes whose Ready condition is not True, unless the
// pod tolerates the NoSchedule taint the node lifecycle controller would
// put on such a node: node.kubernetes.io/not-ready when Ready is False,
// node.kubernetes.io/unreachable when it is Unknown or missing. Upstream
// relies on those taints alone; berth checks the condition too, so a node
// is not used before the controller has tainted it.
type NodeReady struct{}

var _ framework.FilterPlugin = NodeReady{}

// ReasonNodeNotReady is NodeReady's reason.
const ReasonNodeNotReady = "node(s) were not ready"

// Name returns "NodeReady".
func (NodeReady) Name() string { return "NodeReady" }

// Filter implements framework.FilterPlugin.
func (NodeReady) Filter(_ context.Context, _ *framework.CycleState, pod *v1.Pod, n *framework.NodeInfo) *framework.Status {
	if n.Node == nil {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonNodeUnknown)
	}
	key := v1.TaintNodeUnreachable
	for _, c := range n.Node.Status.Conditions {
		if c.Type != v1.NodeReady {
			continue
		}
		switch c.Status {
		case v1.ConditionTrue:
			return nil
		case v1.ConditionFalse:
			key = v1.TaintNodeNotReady
		}
	}
	if tolerates(pod.Spec.Tolerations, &v1.Taint{Key: key, Effect: v1.TaintEffectNoSchedule}) {
		return nil
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonNodeNotReady)
}
