// Package node registers the machine the agent runs on as a Node and
// keeps it alive: it owns the Node named for the machine (its status:
// capacity, allocatable, addresses, nodeInfo and the Ready,
// MemoryPressure, DiskPressure and PIDPressure conditions) and the node's
// Lease in kube-node-lease, as upstream's kubelet does.
//
// Run registers the Node (keeping an existing one of that name), then
// renews the Lease every RenewInterval (10 s) and reads the machine every
// StatusInterval (10 s), writing the Node's status when it changed and at
// least every ReportInterval (5 minutes), as the kubelet's heartbeats.
//
// Machine facts come from the host: CPUs from the scheduler's CPU set and
// the cgroup's cpu.max, memory from /proc/meminfo, ephemeral storage from
// statfs of the data directory, the first global unicast address as
// InternalIP, kernel, OS image (/etc/os-release), machine and boot IDs,
// and the runc version. Allocatable keeps upstream's default hard
// eviction reserves (memory 100Mi, 10% of ephemeral storage).
//
// Running pods is a later step: the agent reports the node Ready but does
// not yet start the pods bound to it.
package node
