// Package framework is the pure core of berth's scheduler, in the shape of
// kube-scheduler's scheduling framework: a Snapshot of NodeInfos, small
// plugin interfaces (PreFilter, Filter, PreScore, Score with
// normalisation), the Status and FitError values that explain a decision,
// and Framework.Schedule, which filters every node (counting the pods
// nominated to it), scores the feasible ones and picks the best; when none
// fits it chooses preemption victims as upstream's DefaultPreemption
// (FitError.Preemption).
//
// Nothing here does I/O or keeps global state; a Framework is safe for
// concurrent use as long as its plugins are. Plugins live in
// internal/scheduler/plugins; the running scheduler (queue, cache, binding)
// in internal/scheduler.
package framework
