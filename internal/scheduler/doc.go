// Package scheduler is berth's pod scheduler, a client of the API in the
// shape of kube-scheduler: informers feed pending pods whose
// spec.schedulerName is ours into a priority queue and assigned pods and
// nodes into a cache; one loop pops a pod, takes a snapshot of the cache,
// asks the framework (internal/scheduler/framework, with the plugins of
// internal/scheduler/plugins) for a node, assumes the pod onto it in the
// cache and binds it through the pods/binding subresource in the
// background, after the pod's WaitForFirstConsumer claims are bound (the
// scheduler pre-binds a matching volume or sets the
// volume.kubernetes.io/selected-node annotation for the provisioner, and
// waits up to Config.VolumeBindTimeout). A pod that fits nowhere gets the
// PodScheduled=False condition and a FailedScheduling event, and is parked
// until nodes, pods or volumes change, or for at most
// Config.UnschedulableTimeout; if evicting pods of lower priority would
// make it fit, it preempts them as upstream's DefaultPreemption (the
// victims get the DisruptionTarget condition and are deleted, the pod gets
// status.nominatedNodeName).
//
// The scheduler owns spec.nodeName of pending pods with its scheduler name
// (through binding), their PodScheduled condition and nominatedNodeName,
// the Scheduled, FailedScheduling and Preempted events, the deletion of
// preemption victims, the claimRef of volumes it pre-binds and the
// selected-node annotation of claims. Leader election is the caller's.
package scheduler
