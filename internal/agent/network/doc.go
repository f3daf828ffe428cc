// Package network connects pods to the node's network with the standard CNI
// plugins from the distribution, driven through libcni.
//
// Every pod of a node hangs off one bridge (Config.Bridge, berth0 by
// default) through the "bridge" plugin, which is the pods' gateway;
// "host-local" hands out
// addresses from the node's pod CIDR; "portmap" publishes hostPorts;
// "loopback" brings up the pod's lo. Setup runs them against a pod's pinned
// network namespace (runtime.Sandbox.NetNSPath) and returns its IPs.
//
// State lives under Config.StateDir: host-local's allocations (ipam/),
// libcni's cache of each attachment (cache/), and one file per attached pod
// (pods/<id>.json) with what Teardown needs. So Teardown works after the
// agent restarts, and again after it has succeeded (it is idempotent), and
// Pods lists the attachments for the agent to reconcile with its sandboxes.
//
// InstallMasquerade masquerades the pods' traffic leaving the cluster with
// one nftables table for the node (<bridge>-masquerade, family inet), not
// the bridge plugin's per-pod iptables chains.
//
// InstallRoutes makes the cluster and service CIDRs unreachable from the
// node, so traffic to an address no pod or Service holds fails at once
// instead of leaving by the default route; the bridge's route for the
// node's own pod CIDR is more specific and wins.
//
// The plugins run in the network namespace of the calling thread; the node
// agent calls from the host's. Methods are safe for concurrent use on
// distinct pods.
package network
