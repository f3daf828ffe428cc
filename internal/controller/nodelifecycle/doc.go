// Package nodelifecycle is the node lifecycle controller, as upstream's
// node lifecycle and taint eviction controllers together.
//
// It owns three things:
//
//   - Node health. A monitor pass runs every MonitorPeriod. It notes, on
//     the controller's clock, when each node's Lease in kube-node-lease
//     was last renewed or its Ready heartbeat last changed; a node silent
//     for longer than GracePeriod (StartupGracePeriod before it ever
//     reported Ready) gets its Ready, MemoryPressure, DiskPressure and
//     PIDPressure conditions set to Unknown, and when that turns Ready
//     from True, its pods' Ready condition is set to False.
//   - Node taints. A node whose Ready condition is False gets the
//     node.kubernetes.io/not-ready NoExecute taint, Unknown the
//     node.kubernetes.io/unreachable one, each replacing the other at
//     once; both go when the node is Ready again. New NoExecute taints are
//     rate limited per zone (topology.kubernetes.io/region and zone): a
//     token bucket of EvictionRate nodes a second, SecondaryEvictionRate
//     when at least UnhealthyZoneThreshold of a zone's nodes (and more than
//     two) are not Ready and the zone has more than LargeClusterThreshold
//     nodes (none at all when it is smaller), the primary rate again in a
//     zone with no Ready node while other zones have some, and none
//     anywhere while every zone is entirely not Ready — then the control
//     plane, not the nodes, is the likely fault, and existing NoExecute
//     taints are removed. Independently, each node carries the NoSchedule
//     taints its conditions call for (not-ready, unreachable,
//     memory-pressure, disk-pressure, pid-pressure, network-unavailable)
//     and node.kubernetes.io/unschedulable while cordoned.
//   - Taint-based eviction. A pod bound to a node with NoExecute taints it
//     does not all tolerate is deleted at once; one that tolerates them
//     with tolerationSeconds is deleted when the smallest of those has
//     passed since the controller first saw it so exposed; one that
//     tolerates them without tolerationSeconds stays. Deleted pods get the
//     DisruptionTarget condition (reason DeletionByTaintManager) first.
//
// The monitor and the tainting pass run on one goroutine that owns their
// state; the NoSchedule taints and evictions have work queues of their
// own. All timing comes from Config.Clock.
package nodelifecycle
