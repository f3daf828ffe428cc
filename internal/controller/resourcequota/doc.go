// Package resourcequota runs the ResourceQuota controller: it keeps each
// ResourceQuota's status.hard equal to its spec.hard and status.used equal
// to what the objects of its namespace in its scopes use now (package
// quota says what counts). It recounts a quota when it is created or its
// spec.hard changes, when an object it counts is deleted or starts to
// charge less (a pod ends, a service changes type, a claim's storage
// changes), and every quota every resync period. Creates need no recount:
// the ResourceQuota admission plugin charges them as they are admitted.
//
// The controller owns ResourceQuota status; nothing else.
package resourcequota
