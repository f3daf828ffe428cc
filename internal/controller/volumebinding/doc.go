// Package volumebinding runs the PersistentVolume binder, as upstream's
// PersistentVolume controller: it binds each PersistentVolumeClaim to a
// PersistentVolume — the one its volumeName names, one pre-bound to it
// through claimRef (a provisioned volume), or the smallest Available
// volume of its StorageClass, volume mode and selector that offers its
// access modes and storage — setting claimRef and volumeName both ways
// with the pv.kubernetes.io/bind-completed and bound-by-controller
// annotations and the phases (claims Pending, Bound, Lost; volumes
// Available, Bound, Released). Claims of a WaitForFirstConsumer class bind
// only to pre-bound volumes until the scheduler names their node
// (volume.kubernetes.io/selected-node); then volumes whose node affinity
// admits that node match too. A volume whose claim is gone is Released
// and, with reclaim policy Delete, deleted; Retain keeps it.
//
// The controller owns claims' volumeName and phase and volumes' claimRef
// and phase; provisioning is a provisioner's (package localpath).
package volumebinding
