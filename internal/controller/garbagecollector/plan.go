package garbagecollector

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ownerState is what a dependent's reference finds at its owner.
type ownerState int

const (
	// ownerSolid: the owner exists and does not wait for its dependents.
	ownerSolid ownerState = iota
	// ownerAbsent: no object with the reference's UID exists where it points.
	ownerAbsent
	// ownerWaiting: the owner is being deleted in the foreground.
	ownerWaiting
)

// action is what to do with a dependent.
type action struct {
	// RemoveOwners, when not empty, are the owner UIDs whose references are
	// removed from the dependent, which stays.
	RemoveOwners []types.UID
	// Delete says to delete the dependent with Propagation.
	Delete      bool
	Propagation metav1.DeletionPropagation
}

// planDependent decides the fate of an object that is not being deleted,
// from the states of its owners (by UID; every reference must have one), its
// finalizers and whether it has dependents of its own. An object keeps living
// while one owner is solid, losing its references to the others; otherwise
// it goes: in the foreground if an owner waits for it and it has dependents,
// so the owner's wait covers them too, else as a deletion finalizer already
// on it asks, else in the background.
func planDependent(owners []metav1.OwnerReference, state map[types.UID]ownerState, finalizers []string, hasDependents bool) action {
	var solid, waiting bool
	var remove []types.UID
	for _, r := range owners {
		switch state[r.UID] {
		case ownerSolid:
			solid = true
		case ownerWaiting:
			waiting = true
			remove = append(remove, r.UID)
		case ownerAbsent:
			remove = append(remove, r.UID)
		}
	}
	switch {
	case len(owners) == 0:
		return action{}
	case solid:
		return action{RemoveOwners: remove}
	case waiting && hasDependents:
		return action{Delete: true, Propagation: metav1.DeletePropagationForeground}
	case slices.Contains(finalizers, metav1.FinalizerOrphanDependents):
		return action{Delete: true, Propagation: metav1.DeletePropagationOrphan}
	case slices.Contains(finalizers, metav1.FinalizerDeleteDependents):
		return action{Delete: true, Propagation: metav1.DeletePropagationForeground}
	default:
		return action{Delete: true, Propagation: metav1.DeletePropagationBackground}
	}
}

// blocking returns the dependents whose reference to owner has
// blockOwnerDeletion set: while any remains, a foreground deletion of owner
// cannot finish.
func blocking(dependents []node, owner types.UID) []node {
	var out []node
	for _, d := range dependents {
		if r, ok := d.ownerRef(owner); ok && r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
			out = append(out, d)
		}
	}
	return out
}

// withoutOwners returns refs less those to the given UIDs, and whether any
// was dropped.
func withoutOwners(refs []metav1.OwnerReference, uids []types.UID) ([]metav1.OwnerReference, bool) {
	out := slices.DeleteFunc(slices.Clone(refs), func(r metav1.OwnerReference) bool {
		return slices.Contains(uids, r.UID)
	})
	return out, len(out) != len(refs)
}

// unblocked returns refs with blockOwnerDeletion cleared, and whether any
// was set.
func unblocked(refs []metav1.OwnerReference) ([]metav1.OwnerReference, bool) {
	out := slices.Clone(refs)
	changed := false
	for i, r := range out {
		if r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
			out[i].BlockOwnerDeletion = nil
			changed = true
		}
	}
	return out, changed
}
