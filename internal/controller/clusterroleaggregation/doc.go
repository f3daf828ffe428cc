// Package clusterroleaggregation is upstream's ClusterRole aggregation
// controller: it owns the rules of every ClusterRole that has an
// aggregationRule, which it keeps equal to the union, without duplicates,
// of the rules of the ClusterRoles its selectors match (by name within
// each selector, selectors in order), so that admin, edit and view grow
// when a ClusterRole labelled aggregate-to-admin/edit/view appears.
//
// Any ClusterRole change enqueues every aggregating ClusterRole; a worker
// recomputes one from the informer cache and updates it when it differs.
package clusterroleaggregation
