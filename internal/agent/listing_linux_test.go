package agent

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"berth.dev/berth/internal/agent/runtime"
)

// fakeLister returns one container whose ID is the number of its call,
// or the error in errs for that call. When gate is set, every call waits
// for a value on it; started receives the call's number first.
type fakeLister struct {
	mu      sync.Mutex
	calls   int
	errs    map[int]error
	gate    chan struct{}
	started chan int
}

func (f *fakeLister) List(ctx context.Context) ([]runtime.Container, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	if f.started != nil {
		f.started <- n
	}
	if f.gate != nil {
		<-f.gate
	}
	if err := f.errs[n]; err != nil {
		return nil, err
	}
	return []runtime.Container{{ID: strconv.Itoa(n)}}, nil
}

func (f *fakeLister) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// getIDs returns the IDs of l.get's containers.
func getIDs(t *testing.T, l *listing) []string {
	t.Helper()
	cs, err := l.get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func TestListingReusedUntilChanged(t *testing.T) {
	f := &fakeLister{errs: map[int]error{2: errors.New("runc list failed")}}
	l := &listing{rt: f, maxAge: time.Hour}
	ctx := context.Background()
	var got [][]string
	got = append(got, getIDs(t, l))
	got = append(got, getIDs(t, l))
	l.changed()
	if _, err := l.get(ctx); err == nil {
		t.Fatal("get after a failed listing: no error")
	}
	// A failed listing is not kept: the next get lists again.
	got = append(got, getIDs(t, l))
	got = append(got, getIDs(t, l))
	if diff := cmp.Diff([][]string{{"1"}, {"1"}, {"3"}, {"3"}}, got); diff != "" {
		t.Errorf("listings seen (-want +got):\n%s", diff)
	}
}

// Changes made while a listing runs do not wait for it, and every get
// waiting for it shares the one listing that follows.
func TestListingWaitersShareTheNextListing(t *testing.T) {
	f := &fakeLister{gate: make(chan struct{}), started: make(chan int, 10)}
	// However slow the machine, the second listing stays fresh.
	l := &listing{rt: f, maxAge: time.Hour}
	ctx := context.Background()
	first := make(chan []string, 1)
	go func() {
		cs, err := l.get(ctx)
		if err != nil {
			t.Error(err)
		}
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		first <- out
	}()
	if n := <-f.started; n != 1 {
		t.Fatalf("listing %d started, want 1", n)
	}

	changed := make(chan struct{})
	go func() {
		for range 10 {
			l.changed()
		}
		close(changed)
	}()
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("changed waits for the listing in progress")
	}

	const waiters = 10
	results := make([][]string, waiters)
	var wg sync.WaitGroup
	for i := range waiters {
		wg.Go(func() {
			cs, err := l.get(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			for _, c := range cs {
				results[i] = append(results[i], c.ID)
			}
		})
	}
	f.gate <- struct{}{} // the first listing ends
	if got := <-first; !cmp.Equal(got, []string{"1"}) {
		t.Errorf("first get: %v, want [1]", got)
	}
	if n := <-f.started; n != 2 {
		t.Fatalf("listing %d started, want 2", n)
	}
	f.gate <- struct{}{} // the second listing ends
	wg.Wait()
	for i, r := range results {
		if !cmp.Equal(r, []string{"2"}) {
			t.Errorf("waiter %d got %v, want [2]", i, r)
		}
	}
	if n := f.count(); n != 2 {
		t.Errorf("%d listings, want 2", n)
	}
}

func TestListingWaitEndsWithContext(t *testing.T) {
	f := &fakeLister{gate: make(chan struct{}), started: make(chan int, 1)}
	l := &listing{rt: f}
	go l.get(context.Background())
	<-f.started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.get(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("get with an ended context while a listing runs: %v, want context.Canceled", err)
	}
	f.gate <- struct{}{}
}
