// Package nodeipam gives every Node a pod range: upstream's node IPAM
// controller with its range allocator. A Node without spec.podCIDR gets
// the lowest /24 (Config.NodeMaskSize) of the cluster CIDR that no other
// Node holds, in spec.podCIDR and spec.podCIDRs; its agent's CNI plugins
// take pod addresses from it. Ranges are never changed once set (the API
// refuses it), and a deleted Node's range is free again.
//
// One worker allocates, so two Nodes never get one range; the in-use set
// is read from the Node cache plus the ranges this controller handed out
// that the cache has not shown yet.
//
// The controller owns spec.podCIDR(s) of Nodes that have none; nothing else.
package nodeipam
