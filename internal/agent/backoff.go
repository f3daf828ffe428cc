package agent

import (
	"sync"
	"time"
)

// Back-off of restarts and image pulls, as kubelet's.
const (
	backoffInitial = 10 * time.Second
	backoffMax     = 5 * time.Minute
	// backoffReset is how long after the last retry a failure starts the
	// back-off over: a container that ran that long, or a key left alone.
	backoffReset = 10 * time.Minute
)

// backoff tracks, per key, the delay before the next retry of something
// that failed at a known time. The first failure is retried at once; each
// retry within the back-off doubles the delay, up to backoffMax. Safe for
// concurrent use.
type backoff struct {
	mu sync.Mutex
	// entries by key; guarded by mu.
	entries map[string]backoffEntry
}

type backoffEntry struct {
	delay time.Duration
	// last is the failure time of the last retry.
	last time.Time
}

func newBackoff() *backoff { return &backoff{entries: map[string]backoffEntry{}} }

// wait returns how long after now a retry of key, whose last failure was
// at failed, must wait; 0 means it may be retried now.
func (b *backoff) wait(key string, failed, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || failed.Sub(e.last) > backoffReset {
		return 0
	}
	return max(failed.Add(e.delay).Sub(now), 0)
}

// retried records a retry of key after a failure at failed: the delay
// doubles, or starts over after backoffReset.
func (b *backoff) retried(key string, failed time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	switch {
	case !ok || failed.Sub(e.last) > backoffReset:
		e.delay = backoffInitial
	default:
		e.delay = min(2*e.delay, backoffMax)
	}
	e.last = failed
	b.entries[key] = e
}

// delay is key's current delay.
func (b *backoff) delay(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.entries[key].delay
}

// forget drops the keys for which keep returns false.
func (b *backoff) forget(keep func(key string) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.entries {
		if !keep(k) {
			delete(b.entries, k)
		}
	}
}
