// Package expectations records the pod creations and deletions a
// controller has issued and its informer has not reported yet, so that a
// sync does not act again on a cache missing its own writes, like
// upstream's UIDTrackingControllerExpectations.
package expectations

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// Timeout bounds how long an owner waits for the informer to report its
// writes; after it, its expectations are ignored (a watch event may have
// been lost).
const Timeout = 5 * time.Minute

// Expectations holds, per owner key K, the writes still to be observed.
// Safe for concurrent use.
type Expectations[K comparable] struct {
	clock clock.PassiveClock

	mu sync.Mutex // guards byKey
	// byKey holds each owner's pending writes; no entry means none.
	byKey map[K]*pending
}

type pending struct {
	creates  int
	deletes  map[types.UID]bool // pods whose deletion is not yet observed
	deadline time.Time
}

// New returns empty Expectations timed by c.
func New[K comparable](c clock.PassiveClock) *Expectations[K] {
	return &Expectations[K]{clock: c, byKey: map[K]*pending{}}
}

// settledLocked reports whether p waits for nothing, or has waited longer
// than Timeout.
func (e *Expectations[K]) settledLocked(p *pending) bool {
	return p == nil || p.creates <= 0 && len(p.deletes) == 0 || e.clock.Now().After(p.deadline)
}

// Satisfied reports whether k may act on the cache: it waits for nothing,
// or has waited longer than Timeout.
func (e *Expectations[K]) Satisfied(k K) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.settledLocked(e.byKey[k])
}

// Expect records creates pod creations and the deletion of pods about to
// be issued for k, and restarts its Timeout. They add to what k still
// waits for; a satisfied k starts over.
func (e *Expectations[K]) Expect(k K, creates int, pods []*corev1.Pod) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.byKey[k]
	if e.settledLocked(p) {
		p = &pending{deletes: map[types.UID]bool{}}
		e.byKey[k] = p
	}
	p.creates += creates
	for _, pod := range pods {
		p.deletes[pod.UID] = true
	}
	p.deadline = e.clock.Now().Add(Timeout)
}

// CreationsObserved records that the informer saw n new pods of k, or
// that n creations failed or were never attempted and so will never be
// seen. Observations beyond what k expects are ignored.
func (e *Expectations[K]) CreationsObserved(k K, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.byKey[k]; p != nil {
		p.creates = max(p.creates-n, 0)
	}
}

// DeletionObserved records that pod uid of k, expected or not, is gone or
// going, or that its deletion was refused.
func (e *Expectations[K]) DeletionObserved(k K, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.byKey[k]; p != nil {
		delete(p.deletes, uid)
	}
}

// Forget drops k's expectations, for an owner that no longer exists.
func (e *Expectations[K]) Forget(k K) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byKey, k)
}
