// Package daemonset runs the DaemonSet controller, as upstream's: for
// every apps/v1 DaemonSet it keeps one pod on each node the pod belongs
// on — matching its nodeSelector and required node affinity, with every
// NoSchedule and NoExecute taint tolerated — and none elsewhere.
//
// Pods are not bound by the controller: each is created with a required
// node affinity on metadata.name (matchFields) for its node, which the
// scheduler honours, and with upstream's default DaemonSet tolerations
// (not-ready and unreachable NoExecute without a time limit; disk, memory
// and PID pressure and unschedulable NoSchedule; network-unavailable for
// host-network pods). A node whose taints come to forbid the pod keeps an
// existing one unless a NoExecute taint is untolerated.
//
// A sync reads the DaemonSet, nodes, pods (adopting matching orphans) and
// ControllerRevisions from the cache; records the template as a
// ControllerRevision (package history) whose hash labels the pods
// (controller-revision-hash); asks the pure functions of rollout.go what
// to do — manage: create pods on nodes without one, delete pods from
// nodes that must not keep them, from nodes that no longer exist, failed
// (with backoff) and surplus ones; roll: one RollingUpdate step within
// maxUnavailable or maxSurge — and makes those writes under expectations,
// so that a lagging cache never yields a second pod for a node. OnDelete
// leaves old pods until the user deletes them. The sync then deletes
// revisions beyond revisionHistoryLimit that no pod uses and writes the
// status.
//
// The controller owns the pods and ControllerRevisions DaemonSets control
// and DaemonSet status.
package daemonset
