// Package replicaset runs the ReplicaSet and ReplicationController
// controllers: for every apps/v1 ReplicaSet and core/v1
// ReplicationController it keeps exactly spec.replicas active pods that
// match the selector and are controlled by it.
//
// Both kinds share one code path: a ReplicationController is converted to
// a ReplicaSet view (its selector map becomes matchLabels) and its status
// is converted back when written. A sync claims pods (adopting matching
// orphans, releasing controlled pods that no longer match), creates
// missing pods from the template in slow-start batches or deletes the
// surplus in upstream's ranking order, and writes status (replicas,
// fullyLabeledReplicas, readyReplicas, availableReplicas,
// terminatingReplicas for ReplicaSets, observedGeneration and the
// ReplicaFailure condition). Expectations keep it from acting twice on the
// same decision while the pod informer catches up with its own writes.
//
// The controller owns pods' controller ownerReferences to ReplicaSets and
// ReplicationControllers and the status of both kinds; nothing else.
package replicaset
