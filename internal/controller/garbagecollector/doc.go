// Package garbagecollector deletes objects whose owners are gone and
// completes foreground and orphan deletions.
//
// It owns no API objects of its own. It watches the metadata of every
// resource that supports list, watch and delete (found through discovery,
// re-discovered periodically so custom resources added later are covered)
// and keeps an in-memory graph from owner UIDs to dependent UIDs built from
// ownerReferences. Informer events update the graph and enqueue the UIDs
// whose state may call for action; workers then decide with fresh reads:
//
//   - an object all of whose owners are absent (confirmed by a live GET: no
//     object with that name and UID exists) is deleted with a UID
//     precondition; references to absent owners are removed from an object
//     that still has a live owner;
//   - an owner being deleted with the foregroundDeletion finalizer has its
//     dependents deleted, and loses the finalizer once no dependent whose
//     reference has blockOwnerDeletion remains;
//   - an owner being deleted with the orphan finalizer has its references
//     removed from all dependents, then loses the finalizer.
package garbagecollector
