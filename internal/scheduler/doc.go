// Package scheduler is berth's pod scheduler, a client of the API in the
// shape of kube-scheduler: informers feed pending pods whose
// spec.schedulerName is ours into a priority queue and assigned pods and
// nodes into a cache; one loop pops a pod, takes a snapshot of the cache,
// asks the framework (internal/scheduler/framework, with the plugins of
// internal/scheduler/plugins) for a node, assumes the pod onto it in the
// cache and binds it through the pods/binding subresource in the
// background. A pod that fits nowhere gets the PodScheduled=False
// condition and a FailedScheduling event, and is parked until nodes or
// pods change, or for at most Config.UnschedulableTimeout.
//
// The scheduler owns spec.nodeName of pending pods with its scheduler name
// (through binding), their PodScheduled condition, and the Scheduled and
// FailedScheduling events. Leader election is the caller's.
package scheduler
