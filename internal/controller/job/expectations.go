package job

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// expectationsTimeout bounds how long a Job waits for the informer to
// report its own pod creations and deletions; after it, a lost watch
// event no longer blocks the Job.
const expectationsTimeout = 5 * time.Minute

// expectations holds, per Job, the pod creations and deletions a sync
// issued that the pod informer has not reported yet, so that the next
// sync does not act on a cache missing them. Safe for concurrent use.
type expectations struct {
	clock clock.PassiveClock

	mu sync.Mutex // guards byJob
	// byJob holds each Job's pending writes; no entry means none.
	byJob map[cache.ObjectName]*pending
}

type pending struct {
	creates  int
	deletes  map[types.UID]bool // pods whose deletion is not yet observed
	deadline time.Time
}

func newExpectations(c clock.PassiveClock) *expectations {
	return &expectations{clock: c, byJob: map[cache.ObjectName]*pending{}}
}

// satisfied reports whether k's cache shows all its writes, or they have
// been pending longer than expectationsTimeout.
func (e *expectations) satisfied(k cache.ObjectName) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.byJob[k]
	return p == nil || p.creates <= 0 && len(p.deletes) == 0 || e.clock.Now().After(p.deadline)
}

// entryLocked returns k's entry with a fresh deadline; a settled or
// expired entry starts over.
func (e *expectations) entryLocked(k cache.ObjectName) *pending {
	p := e.byJob[k]
	if p == nil || p.creates <= 0 && len(p.deletes) == 0 || e.clock.Now().After(p.deadline) {
		p = &pending{deletes: map[types.UID]bool{}}
		e.byJob[k] = p
	}
	p.deadline = e.clock.Now().Add(expectationsTimeout)
	return p
}

// expectCreations records n pod creations about to be issued for k.
func (e *expectations) expectCreations(k cache.ObjectName, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.entryLocked(k).creates += n
}

// expectDeletions records the deletions of pods about to be issued for k.
func (e *expectations) expectDeletions(k cache.ObjectName, pods []*corev1.Pod) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.entryLocked(k)
	for _, pod := range pods {
		p.deletes[pod.UID] = true
	}
}

// creationObserved records that the informer saw a new pod of k; a failed
// creation counts the same, as it will never be seen.
func (e *expectations) creationObserved(k cache.ObjectName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.byJob[k]; p != nil && p.creates > 0 {
		p.creates--
	}
}

// deletionObserved records that pod uid of k is gone or going, or that
// its deletion was refused.
func (e *expectations) deletionObserved(k cache.ObjectName, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.byJob[k]; p != nil {
		delete(p.deletes, uid)
	}
}

// forget drops k's expectations, as when the Job is deleted.
func (e *expectations) forget(k cache.ObjectName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byJob, k)
}
