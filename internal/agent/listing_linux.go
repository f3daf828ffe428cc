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

// listing shares the runtime's container listing between the pod workers:
// each listing execs the OCI runtime and reads every container's files, and
// every worker syncs every second, so without sharing the node would list
// its containers once per pod per second. A listing is reused until it is
// listingMaxAge old (in real time: containers exit in real time) or until a
// worker changed containers, which calls changed before it lists again.
type listing struct {
	rt *runtime.Runtime

	mu    sync.Mutex // held while listing, so changed waits for it
	at    time.Time
	valid bool
	cs    []runtime.Container
}

// get returns the node's containers; the slice is the caller's.
func (l *listing) get(ctx context.Context) ([]runtime.Container, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.valid || time.Since(l.at) >= listingMaxAge {
		cs, err := l.rt.List(ctx)
		if err != nil {
			return nil, err
		}
		l.cs, l.at, l.valid = cs, time.Now(), true
	}
	return slices.Clone(l.cs), nil
}

// changed drops the shared listing: a container was created, started,
// stopped or deleted.
func (l *listing) changed() {
	l.mu.Lock()
	l.valid = false
	l.mu.Unlock()
}
