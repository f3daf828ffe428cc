// Package sim simulates nodes for tests and benchmarks, as kwok does.
//
// A Sim registers Node objects and plays their kubelets through the API
// alone: it keeps each node's Lease in kube-node-lease renewed, reports
// node status (every few minutes, or when it differs from what the node
// should report), moves the pods bound to its nodes to Running with
// addresses and ready containers, completes pods annotated with an exit
// code, and finishes graceful deletions. Nothing runs and no address it
// reports is ever dialled: node InternalIPs come from TEST-NET-1
// (192.0.2.0/24) and pod IPs are data from 10.42.0.0/16 onwards.
//
// With Config.Metrics, each node also serves the kubelet's resource
// metrics endpoint (/metrics/resource, internal/metrics' format) over TLS
// on a loopback port of its own, which its status advertises (InternalIP
// 127.0.0.1, daemonEndpoints.kubeletEndpoint.Port), so that the API
// server's collector scrapes it and `kubectl top` and
// HorizontalPodAutoscalers work. A running pod's usage is what its
// annotations say, shared evenly by its containers:
//
//	sim.berth.dev/cpu-usage: "250m"     # cores, as a quantity
//	sim.berth.dev/memory-usage: "64Mi"  # working set bytes, as a quantity
//
// CPU counters integrate the annotated rate between scrapes, so a changed
// annotation shows in the next window. The node's usage is its pods' sum.
//
// Three work queues carry the work — node status, Lease renewal and pod
// status — each drained by a few workers, so thousands of nodes cost no
// goroutine each. Lease renewals are scheduled per node with jitter and
// start spread over the renewal interval.
package sim
