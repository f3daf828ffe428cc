package daemonset

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// expectationsTimeout bounds how long a sync waits for the informer to
// report the controller's own creations and deletions; after it they are
// ignored (a watch event may have been lost).
const expectationsTimeout = 5 * time.Minute

// expectations records, per DaemonSet key, the pod creations and
// deletions a sync made that the informer has not reported yet, so that
// the next sync does not act on a stale cache (and create a second pod
// for a node). Safe for concurrent use.
type expectations struct {
	clock clock.PassiveClock

	mu sync.Mutex // guards byKey
	// byKey holds what each DaemonSet waits for; no entry means nothing.
	byKey map[string]*expectation
}

type expectation struct {
	creates  int
	deletes  map[types.UID]bool
	deadline time.Time
}

func newExpectations(c clock.PassiveClock) *expectations {
	return &expectations{clock: c, byKey: map[string]*expectation{}}
}

// satisfied reports whether key waits for nothing, or has waited longer
// than expectationsTimeout.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.byKey[key]
	return x == nil || x.creates <= 0 && len(x.deletes) == 0 || e.clock.Now().After(x.deadline)
}

// expect replaces key's expectations with creates creations and the
// deletion of pods.
func (e *expectations) expect(key string, creates int, deletes []types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{creates: creates, deletes: map[types.UID]bool{}, deadline: e.clock.Now().Add(expectationsTimeout)}
	for _, uid := range deletes {
		x.deletes[uid] = true
	}
	e.byKey[key] = x
}

// created records n creations seen (or never to be seen: failed).
func (e *expectations) created(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x := e.byKey[key]; x != nil {
		x.creates -= n
	}
}

// deleted records that pod uid is gone or going (or will not go: its
// deletion failed).
func (e *expectations) deleted(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x := e.byKey[key]; x != nil {
		delete(x.deletes, uid)
	}
}

// forget drops key's expectations, for a DaemonSet that is gone.
func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byKey, key)
}
