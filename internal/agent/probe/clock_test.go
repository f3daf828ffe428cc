package probe

import (
	"sync"
	"testing"
	"time"

	"k8s.io/utils/clock"
	testclock "k8s.io/utils/clock/testing"
)

// stepClock is a fake clock whose tickers let a test know when every probe
// loop is waiting for its next tick, so it can step time without racing.
type stepClock struct {
	*testclock.FakeClock

	// loops is how many probe loops the test expects to start.
	loops int

	mu      sync.Mutex // guards tickers
	tickers []*stepTicker
}

type stepTicker struct {
	c       *stepClock
	period  time.Duration
	next    time.Time
	ch      chan time.Time
	waiting bool // blocked on ch with nothing in it; guarded by c.mu
	stopped bool // guarded by c.mu
}

func newStepClock(loops int) *stepClock {
	return &stepClock{loops: loops, FakeClock: testclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
}

func (c *stepClock) NewTicker(d time.Duration) clock.Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &stepTicker{c: c, period: d, next: c.Now().Add(d), ch: make(chan time.Time, 1)}
	c.tickers = append(c.tickers, t)
	return t
}

func (t *stepTicker) C() <-chan time.Time {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.waiting = len(t.ch) == 0
	return t.ch
}

func (t *stepTicker) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.stopped = true
}

// settle waits until every live probe loop is blocked on its ticker.
func (c *stepClock) settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		idle := len(c.tickers) >= c.loops
		for _, tk := range c.tickers {
			if !tk.stopped && !tk.waiting {
				idle = false
			}
		}
		c.mu.Unlock()
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("probe loops did not settle")
		}
		time.Sleep(time.Millisecond)
	}
}

// advance settles, moves time by d and fires due tickers, then settles again.
func (c *stepClock) advance(t *testing.T, d time.Duration) {
	t.Helper()
	c.settle(t)
	c.mu.Lock()
	c.Step(d)
	now := c.Now()
	for _, tk := range c.tickers {
		if tk.stopped || tk.next.After(now) {
			continue
		}
		for !tk.next.After(now) {
			tk.next = tk.next.Add(tk.period)
		}
		select {
		case tk.ch <- now:
			tk.waiting = false
		default:
		}
	}
	c.mu.Unlock()
	c.settle(t)
}
