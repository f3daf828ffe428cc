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
// Three work queues carry the work — node status, Lease renewal and pod
// status — each drained by a few workers, so thousands of nodes cost no
// goroutine each. Lease renewals are scheduled per node with jitter and
// start spread over the renewal interval.
package sim
