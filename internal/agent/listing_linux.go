package agent

import (
	"context"
	"slices"
	"sync"
	"time"

	"berth.dev/berth/internal/agent/runtime"
)

// listingMaxAge is how long the workers share one container listing. A
// container that exits on its own shows at most this much later.
const listingMaxAge = 500 * time.Millisecond

// containerLister lists the node's containers (runtime.Runtime).
type containerLister interface {
	List(ctx context.Context) ([]runtime.Container, error)
}

// listing shares the runtime's container listing between the pod workers:
// each listing execs the OCI runtime and reads every container's files, and
// every worker syncs every second, so without sharing the node would list
// its containers once per pod per second. A listing is reused until it is
// listingMaxAge old (in real time: containers exit in real time) or until a
// worker changed containers, which calls changed before it lists again.
// One listing runs at a time, and the workers waiting for it share the
// next one: when many pods start at once, a change by one worker does not
// make every other worker list again in turn.
type listing struct {
	rt containerLister
	// maxAge is listingMaxAge when zero.
	maxAge time.Duration

	mu sync.Mutex
	// changes counts the calls of changed.
	changes uint64
	// cs is the latest listing, started at at when changes was
	// listedChanges; valid is false before the first.
	cs            []runtime.Container
	at            time.Time
	listedChanges uint64
	valid         bool
	// running is closed when the listing in progress ends; nil when none
	// runs.
	running chan struct{}
}

// get returns the node's containers as a listing shows them that started
// after every change reported (by changed) before get was called and less
// than listingMaxAge ago; the slice is the caller's.
func (l *listing) get(ctx context.Context) ([]runtime.Container, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	want := l.changes
	maxAge := l.maxAge
	if maxAge == 0 {
		maxAge = listingMaxAge
	}
	for {
		if l.valid && l.listedChanges >= want && time.Since(l.at) < maxAge {
			return slices.Clone(l.cs), nil
		}
		if l.running != nil {
			// Wait for it, then check whether it is recent enough.
			done := l.running
			l.mu.Unlock()
			select {
			case <-done:
			case <-ctx.Done():
				l.mu.Lock()
				return nil, ctx.Err()
			}
			l.mu.Lock()
			continue
		}
		done := make(chan struct{})
		l.running = done
		changes, at := l.changes, time.Now()
		l.mu.Unlock()
		cs, err := l.rt.List(ctx)
		l.mu.Lock()
		l.running = nil
		close(done)
		if err != nil {
			return nil, err
		}
		l.cs, l.at, l.listedChanges, l.valid = cs, at, changes, true
	}
}

// changed reports that a container was created, started, stopped or
// deleted: later gets list again.
func (l *listing) changed() {
	l.mu.Lock()
	l.changes++
	l.mu.Unlock()
}
