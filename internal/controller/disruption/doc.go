// Package disruption is the PodDisruptionBudget controller, as upstream's
// disruption controller. It owns the status of every PodDisruptionBudget:
//
//   - expectedPods: the pods the budget's selector matches when
//     minAvailable is a number; otherwise the summed scale of the
//     controllers of those pods — ReplicationControllers, Deployments
//     (through their ReplicaSets), ReplicaSets, StatefulSets from the
//     shared informers, any other kind through its scale subresource;
//   - desiredHealthy: minAvailable, or expectedPods less maxUnavailable,
//     percentages rounded up against expectedPods;
//   - currentHealthy: the matching pods that are Ready, not being deleted
//     and not listed in disruptedPods;
//   - disruptionsAllowed: currentHealthy less desiredHealthy, never below
//     zero, and zero while expectedPods is zero;
//   - disruptedPods: the eviction API's entries for pods not yet being
//     deleted, each dropped two minutes after its time;
//   - observedGeneration and the DisruptionAllowed condition
//     (SufficientPods, InsufficientPods, or SyncFailed with
//     disruptionsAllowed 0 when the status cannot be computed).
//
// It also sets a pod's DisruptionTarget condition back to False when the
// pod still runs, not being deleted, two minutes after the condition was
// set (by an eviction or deletion that never happened).
//
// The eviction subresource of the API server reads this status and
// decrements disruptionsAllowed as it evicts.
package disruption
