// Package framework is the pure core of berth's scheduler, in the shape of
// kube-scheduler's scheduling framework: a Snapshot of NodeInfos, small
// plugin interfaces (PreFilter, Filter, Score with normalisation), the
// Status and FitError values that explain a decision, and Framework.Schedule,
// which filters every node, scores the feasible ones and picks the best.
//
// Nothing here does I/O or keeps global state; a Framework is safe for
// concurrent use as long as its plugins are. Plugins live in
// internal/scheduler/plugins; the running scheduler (queue, cache, binding)
// in internal/scheduler.
package framework
