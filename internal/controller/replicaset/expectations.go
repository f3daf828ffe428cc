package replicaset

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// expectationsTimeout bounds how long a sync waits for the informer to
// report its own creates and deletes; after it, expectations are ignored
// (a watch event may have been lost).
const expectationsTimeout = 5 * time.Minute

// expectations records, per owner, the pod creations and deletions a sync
// started and the informer has not reported yet, like upstream's
// UIDTrackingControllerExpectations. Safe for concurrent use.
type expectations struct {
	clock clock.PassiveClock

	mu sync.Mutex // guards byKey
	// byKey holds the pending expectations of each owner; no entry means none.
	byKey map[key]*expectation
}

type expectation struct {
	creates  int
	deletes  map[types.UID]bool // pods whose deletion is not yet observed
	deadline time.Time
}

func newExpectations(c clock.PassiveClock) *expectations {
	return &expectations{clock: c, byKey: map[key]*expectation{}}
}

// satisfied reports whether k may act: it has nothing pending, or what
// it expected has taken longer than expectationsTimeout.
func (e *expectations) satisfied(k key) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.byKey[k]
	return x == nil || x.creates <= 0 && len(x.deletes) == 0 || e.clock.Now().After(x.deadline)
}

// expectCreations replaces k's expectations with n creations.
func (e *expectations) expectCreations(k key, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.byKey[k] = &expectation{creates: n, deadline: e.clock.Now().Add(expectationsTimeout)}
}

// expectDeletions replaces k's expectations with the deletion of pods.
func (e *expectations) expectDeletions(k key, pods []types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{deletes: map[types.UID]bool{}, deadline: e.clock.Now().Add(expectationsTimeout)}
	for _, uid := range pods {
		x.deletes[uid] = true
	}
	e.byKey[k] = x
}

// creationObserved lowers k's expected creations by one.
func (e *expectations) creationObserved(k key) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x := e.byKey[k]; x != nil {
		x.creates--
	}
}

// deletionObserved records that pod uid, expected or not, is gone or going.
func (e *expectations) deletionObserved(k key, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x := e.byKey[k]; x != nil {
		delete(x.deletes, uid)
	}
}

// forget drops k's expectations, for an owner that no longer exists.
func (e *expectations) forget(k key) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byKey, k)
}
