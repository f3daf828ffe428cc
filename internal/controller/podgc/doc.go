// Package podgc is the pod garbage collector, as upstream's PodGC
// controller. Every GCPeriod it force-deletes (grace period 0), after
// marking them Failed when they are not finished yet:
//
//   - finished pods (Succeeded or Failed) beyond TerminatedPodThreshold,
//     evicted ones first, then the oldest;
//   - terminating pods on a node that is not Ready and carries the
//     node.kubernetes.io/out-of-service taint;
//   - pods bound to a node that no longer exists, once it has been gone
//     for the Quarantine period (checked against the API, not the cache),
//     with the DisruptionTarget condition (reason DeletionByPodGC);
//   - terminating pods never bound to a node.
//
// It reads pods and nodes from shared informers; its only state is the
// set of missing nodes in quarantine.
package podgc
