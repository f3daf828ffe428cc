// Package statefulset runs the StatefulSet controller, as upstream's: for
// every apps/v1 StatefulSet it keeps spec.replicas pods with stable
// identities — named <set>-<ordinal> from spec.ordinals.start on, with
// hostname and subdomain (serviceName) and the
// statefulset.kubernetes.io/pod-name and apps.kubernetes.io/pod-index
// labels — and their PersistentVolumeClaims <claim>-<set>-<ordinal> from
// volumeClaimTemplates, created before the pod and mounted by it.
//
// A sync reads the set, its pods (adopting matching orphans whose names
// make them members) and its ControllerRevisions from the cache, records
// the pod template as a ControllerRevision (package history) when it
// changed, asks the pure plan (plan.go) for the writes of one step and
// makes them: with podManagementPolicy OrderedReady, pods are created in
// ordinal order, each after its predecessors are Running and Ready for
// minReadySeconds, and removed in reverse; with Parallel, all at once.
// RollingUpdate replaces pods at an old revision from the highest ordinal
// down to the partition, at most maxUnavailable at a time; OnDelete
// leaves that to the user. Failed or finished pods are replaced. The
// claims' owner references follow persistentVolumeClaimRetentionPolicy
// (the set for whenDeleted=Delete, a scaled-away pod for
// whenScaled=Delete) so that the garbage collector deletes them. The sync
// then writes the status and deletes revisions beyond
// revisionHistoryLimit that no pod uses.
//
// The controller owns the pods and ControllerRevisions StatefulSets
// control, the claims it creates (and their owner references to sets and
// pods), and StatefulSet status.
package statefulset
