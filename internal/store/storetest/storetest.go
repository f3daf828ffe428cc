// Package storetest is the conformance suite for store.Store backends. Every
// backend runs it from its own tests:
//
//	storetest.Run(t, func(t *testing.T) store.Store { ... })
//
// The suite checks the contract written in package store: one global,
// strictly increasing revision; create and compare-and-swap semantics; lists
// by prefix that are consistent snapshots at a revision, also across pages;
// reads at past revisions; watches that replay history in order and then
// continue live; compaction; concurrency; and watchers that fall behind.
//
// It assumes only what the contract says: revisions need not start at 1 nor
// be contiguous (stores may share a revision counter with others, as prefixed
// stores on one etcd cluster do), and a watcher's buffer holds fewer than
// SlowWatcherWrites events.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"berth.dev/berth/internal/store"
)

// SlowWatcherWrites is how many changes the suite makes while a watcher reads
// nothing; a backend must have closed that watcher before buffering them all.
const SlowWatcherWrites = 3000

// equateEmpty makes nil and empty values (and item lists) equal: the
// contract does not tell them apart.
var equateEmpty = cmpopts.EquateEmpty()

// timeout bounds every subtest: nothing in the suite waits longer.
const timeout = 60 * time.Second

// Run runs the suite. newStore returns a new, empty store for one subtest,
// isolated from the stores of other subtests, and registers its Close with
// t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, s store.Store)
	}{
		{"Revisions", testRevisions},
		{"CreateExists", testCreateExists},
		{"RevisionChecks", testRevisionChecks},
		{"Get", testGet},
		{"ListPrefix", testListPrefix},
		{"ListPaging", testListPaging},
		{"ListAtRevision", testListAtRevision},
		{"ListFutureRevision", testListFutureRevision},
		{"WatchReplay", testWatchReplay},
		{"WatchPrefix", testWatchPrefix},
		{"Compact", testCompact},
		{"ConcurrentWriters", testConcurrentWriters},
		{"WatchCancel", testWatchCancel},
		{"SlowWatcher", testSlowWatcher},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			tc.fn(t, ctx, newStore(t))
		})
	}
}

func testRevisions(t *testing.T, ctx context.Context, s store.Store) {
	h := newHistory(t, ctx, s)
	h.create("/r/a", "1")
	h.create("/r/b", "1")
	h.update("/r/a", "2")
	h.delete("/r/b")
	h.create("/r/b", "2")
	h.delete("/r/a")
	for i := 1; i < len(h.revs); i++ {
		if h.revs[i] <= h.revs[i-1] {
			t.Fatalf("revisions do not increase: %v", h.revs)
		}
	}
	last := h.revs[len(h.revs)-1]
	if cur := currentRevision(t, ctx, s); cur != last {
		t.Fatalf("Revision() = %d after last write at %d", cur, last)
	}
	// A failed write makes no revision.
	if _, err := s.Create(ctx, "/r/b", []byte("x")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("Create existing: err = %v, want ErrExists", err)
	}
	if cur := currentRevision(t, ctx, s); cur != last {
		t.Fatalf("Revision() = %d after a failed write, want %d", cur, last)
	}
	if rev := h.create("/r/c", "1"); rev <= last {
		t.Fatalf("Create after %d returned revision %d", last, rev)
	}
}

func testCreateExists(t *testing.T, ctx context.Context, s store.Store) {
	rev, err := s.Create(ctx, "/e/a", []byte("first"))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := s.Create(ctx, "/e/a", []byte("second")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second Create: err = %v, want ErrExists", err)
	}
	got, err := s.Get(ctx, "/e/a")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	want := store.KeyValue{Key: "/e/a", Value: []byte("first"), CreateRevision: rev, ModRevision: rev}
	if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
		t.Fatalf("Get after failed Create (-want +got):\n%s", diff)
	}
}

func testRevisionChecks(t *testing.T, ctx context.Context, s store.Store) {
	// Another key first, so that rev-1 is a real revision, not "no check".
	if _, err := s.Create(ctx, "/c/other", []byte("v")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	rev, err := s.Create(ctx, "/c/a", []byte("v"))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	// Each failed operation must leave /c/a as it was.
	tests := []struct {
		name string
		op   func() (int64, error)
		want error
	}{
		{"update missing", func() (int64, error) { return s.Update(ctx, "/c/missing", []byte("x"), 0) }, store.ErrNotFound},
		{"update missing with revision", func() (int64, error) { return s.Update(ctx, "/c/missing", []byte("x"), rev) }, store.ErrNotFound},
		{"update older revision", func() (int64, error) { return s.Update(ctx, "/c/a", []byte("x"), rev-1) }, store.ErrConflict},
		{"update newer revision", func() (int64, error) { return s.Update(ctx, "/c/a", []byte("x"), rev+1) }, store.ErrConflict},
		{"delete missing", func() (int64, error) { return s.Delete(ctx, "/c/missing", 0) }, store.ErrNotFound},
		{"delete missing with revision", func() (int64, error) { return s.Delete(ctx, "/c/missing", rev) }, store.ErrNotFound},
		{"delete wrong revision", func() (int64, error) { return s.Delete(ctx, "/c/a", rev+1) }, store.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.op(); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			got, err := s.Get(ctx, "/c/a")
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if got.ModRevision != rev || string(got.Value) != "v" {
				t.Fatalf("key changed by a failed write: %+v", got)
			}
		})
	}

	upd, err := s.Update(ctx, "/c/a", []byte("w"), rev)
	if err != nil {
		t.Fatalf("Update with the right revision: %v", err)
	}
	upd2, err := s.Update(ctx, "/c/a", []byte("z"), 0)
	if err != nil {
		t.Fatalf("Update with no revision check: %v", err)
	}
	if upd2 <= upd {
		t.Fatalf("Update revisions %d then %d", upd, upd2)
	}
	if _, err := s.Delete(ctx, "/c/a", upd); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Delete with a stale revision: err = %v, want ErrConflict", err)
	}
	if _, err := s.Delete(ctx, "/c/a", upd2); err != nil {
		t.Fatalf("Delete with the right revision: %v", err)
	}
	if _, err := s.Get(ctx, "/c/a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after Delete: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Create(ctx, "/c/b", []byte("v")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := s.Delete(ctx, "/c/b", 0); err != nil {
		t.Fatalf("Delete with no revision check: %v", err)
	}
}

func testGet(t *testing.T, ctx context.Context, s store.Store) {
	h := newHistory(t, ctx, s)
	if _, err := s.Get(ctx, "/g/a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get missing: err = %v, want ErrNotFound", err)
	}
	check := func(key string) {
		t.Helper()
		got, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get %q: %v", key, err)
		}
		if diff := cmp.Diff(h.cur[key], got, equateEmpty); diff != "" {
			t.Fatalf("Get %q (-want +got):\n%s", key, diff)
		}
	}
	h.create("/g/a", "1")
	check("/g/a")
	h.create("/g/b", "")
	check("/g/b")
	h.update("/g/a", "2")
	check("/g/a")
	h.delete("/g/a")
	if _, err := s.Get(ctx, "/g/a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get deleted: err = %v, want ErrNotFound", err)
	}
	h.create("/g/a", "3")
	check("/g/a") // a new CreateRevision
}

func testListPrefix(t *testing.T, ctx context.Context, s store.Store) {
	h := newHistory(t, ctx, s)
	for _, k := range []string{"/a/3", "/ab/1", "/a/1", "/a", "/b/1", "/a/2/x", "/a/2", "/a0"} {
		h.create(k, "v"+k)
	}
	cur := h.revs[len(h.revs)-1]
	tests := []struct {
		prefix string
		want   []string
	}{
		{"/a/", []string{"/a/1", "/a/2", "/a/2/x", "/a/3"}},
		{"/ab/", []string{"/ab/1"}},
		{"/a/2", []string{"/a/2", "/a/2/x"}},
		{"/b/", []string{"/b/1"}},
		{"/c/", nil},
		{"/", []string{"/a", "/a/1", "/a/2", "/a/2/x", "/a/3", "/a0", "/ab/1", "/b/1"}},
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			got, err := s.List(ctx, tc.prefix, store.ListOptions{})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			want := store.ListResult{Revision: cur}
			for _, k := range tc.want {
				want.Items = append(want.Items, h.cur[k])
			}
			if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
				t.Fatalf("List %q (-want +got):\n%s", tc.prefix, diff)
			}
		})
	}
}

func testListPaging(t *testing.T, ctx context.Context, s store.Store) {
	h := newHistory(t, ctx, s)
	for i := range 10 {
		h.create(fmt.Sprintf("/p/%02d", i), "v1")
	}
	h.create("/q/0", "v1")
	snapshot := h.at(h.revs[len(h.revs)-1], "/p/")

	t.Run("no limit", func(t *testing.T) {
		got, err := s.List(ctx, "/p/", store.ListOptions{Limit: 10})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if diff := cmp.Diff(snapshot, got.Items, equateEmpty); diff != "" || got.More {
			t.Fatalf("List with Limit = key count: More = %v, items (-want +got):\n%s", got.More, diff)
		}
	})

	// Pages of 3 at the revision of the first page, with writes between pages.
	between := []func(){
		func() { h.update("/p/01", "v2"); h.update("/p/05", "v2"); h.delete("/p/06") },
		func() { h.create("/p/035", "v1"); h.create("/p/10", "v1"); h.delete("/p/00") },
		func() { h.update("/p/09", "v2"); h.delete("/p/08"); h.create("/p/08", "v3") },
		nil,
	}
	var got []store.KeyValue
	opts := store.ListOptions{Limit: 3}
	for page := 0; ; page++ {
		res, err := s.List(ctx, "/p/", opts)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if opts.Revision != 0 && res.Revision != opts.Revision {
			t.Fatalf("page %d read at revision %d, asked for %d", page, res.Revision, opts.Revision)
		}
		if len(res.Items) > 3 {
			t.Fatalf("page %d has %d items, limit 3", page, len(res.Items))
		}
		got = append(got, res.Items...)
		if !res.More {
			break
		}
		if page >= len(between)-1 || len(res.Items) == 0 {
			t.Fatalf("page %d: More with %d items after %d keys", page, len(res.Items), len(got))
		}
		between[page]()
		opts.Revision = res.Revision
		opts.Continue = res.Items[len(res.Items)-1].Key
	}
	if diff := cmp.Diff(snapshot, got, equateEmpty); diff != "" {
		t.Fatalf("pages differ from the snapshot (-want +got):\n%s", diff)
	}

	if _, err := s.List(ctx, "/p/", store.ListOptions{Continue: "/q/0"}); !errors.Is(err, store.ErrInvalidContinue) {
		t.Fatalf("Continue outside the prefix: err = %v, want ErrInvalidContinue", err)
	}
}

func testListAtRevision(t *testing.T, ctx context.Context, s store.Store) {
	h := newHistory(t, ctx, s)
	h.create("/h/a", "a1")
	h.create("/h/b", "b1")
	h.update("/h/a", "a2")
	h.create("/h/c", "c1")
	h.create("/hx", "x1")
	h.update("/h/a", "a3")
	h.update("/h/a", "a4")
	h.delete("/h/b")
	h.create("/h/d", "d1")
	h.delete("/h/c")
	h.create("/h/c", "c2")
	h.create("/h/b", "b2")
	h.update("/h/c", "c3")
	h.delete("/h/d")
	h.update("/h/b", "b3")
	h.checkLists("/h/", h.revs[0])
}

func testListFutureRevision(t *testing.T, ctx context.Context, s store.Store) {
	h := newHistory(t, ctx, s)
	h.create("/f/a", "1")
	cur := currentRevision(t, ctx, s)
	for _, rev := range []int64{cur + 1, cur + 1000} {
		if _, err := s.List(ctx, "/f/", store.ListOptions{Revision: rev}); !errors.Is(err, store.ErrFutureRevision) {
			t.Fatalf("List at %d (current %d): err = %v, want ErrFutureRevision", rev, cur, err)
		}
	}
}

func testWatchReplay(t *testing.T, ctx context.Context, s store.Store) {
	h := newHistory(t, ctx, s)
	start := currentRevision(t, ctx, s)
	h.create("/w/a", "a1")
	h.create("/w/b", "b1")
	h.update("/w/a", "a2")
	h.delete("/w/b")
	h.create("/w/b", "b2")
	h.update("/w/b", "b3")
	h.delete("/w/a")
	mid := h.revs[2]

	for _, after := range []int64{start, mid} {
		t.Run(fmt.Sprint("after ", after-start), func(t *testing.T) {
			ch, err := s.Watch(ctx, "/w/", after)
			if err != nil {
				t.Fatalf("Watch: %v", err)
			}
			want := h.eventsAfter(after, "/w/")
			if diff := cmp.Diff(want, receive(t, ctx, ch, len(want)), equateEmpty); diff != "" {
				t.Fatalf("replayed events (-want +got):\n%s", diff)
			}
			// Then live.
			key := fmt.Sprintf("/w/live%d", after)
			h.create(key, "1")
			h.update(key, "2")
			h.delete(key)
			want = h.events[len(h.events)-3:]
			if diff := cmp.Diff(want, receive(t, ctx, ch, 3), equateEmpty); diff != "" {
				t.Fatalf("live events (-want +got):\n%s", diff)
			}
		})
	}
}

func testWatchPrefix(t *testing.T, ctx context.Context, s store.Store) {
	h := newHistory(t, ctx, s)
	ch, err := s.Watch(ctx, "/w/", currentRevision(t, ctx, s))
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	h.create("/w/1", "v")
	h.create("/wx/1", "v")
	h.create("/v/1", "v")
	h.create("/w", "v")
	h.delete("/wx/1")
	h.create("/w/2", "v")
	want := []store.Event{h.events[0], h.events[5]}
	// Events are in revision order, so anything wrongly delivered would come
	// before /w/2.
	if diff := cmp.Diff(want, receive(t, ctx, ch, 2), equateEmpty); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

func testCompact(t *testing.T, ctx context.Context, s store.Store) {
	h := newHistory(t, ctx, s)
	h.create("/k/old", "o1") // unchanged until after the first compaction
	h.create("/k/a", "a1")
	h.create("/k/b", "b1")
	h.update("/k/a", "a2")
	h.create("/k/gone", "g1")
	first := h.create("/k/c", "c1")
	h.update("/k/old", "o2")
	h.delete("/k/gone")
	h.update("/k/a", "a3")
	h.create("/k/d", "d1")

	check := func(compacted int64) {
		t.Helper()
		cur, gotCompacted, err := s.Revision(ctx)
		if err != nil {
			t.Fatalf("Revision: %v", err)
		}
		if last := h.revs[len(h.revs)-1]; cur != last || gotCompacted != compacted {
			t.Fatalf("Revision() = %d, %d; want %d, %d", cur, gotCompacted, last, compacted)
		}
		if _, err := s.List(ctx, "/k/", store.ListOptions{Revision: compacted - 1}); !errors.Is(err, store.ErrCompacted) {
			t.Fatalf("List before the compacted revision: err = %v, want ErrCompacted", err)
		}
		if _, err := s.Watch(ctx, "/k/", compacted-1); !errors.Is(err, store.ErrCompacted) {
			t.Fatalf("Watch before the compacted revision: err = %v, want ErrCompacted", err)
		}
		h.checkLists("/k/", compacted)
		ch, err := s.Watch(ctx, "/k/", compacted)
		if err != nil {
			t.Fatalf("Watch from the compacted revision: %v", err)
		}
		want := h.eventsAfter(compacted, "/k/")
		if diff := cmp.Diff(want, receive(t, ctx, ch, len(want)), equateEmpty); diff != "" {
			t.Fatalf("events after the compacted revision (-want +got):\n%s", diff)
		}
		for key, kv := range h.cur {
			got, err := s.Get(ctx, key)
			if err != nil {
				t.Fatalf("Get %q after Compact: %v", key, err)
			}
			if diff := cmp.Diff(kv, got, equateEmpty); diff != "" {
				t.Fatalf("Get %q after Compact (-want +got):\n%s", key, diff)
			}
		}
	}

	if err := s.Compact(ctx, first); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	check(first)

	h.update("/k/b", "b2")
	second := h.update("/k/a", "a4")
	h.delete("/k/c")
	h.update("/k/old", "o3")
	// /k/b was unchanged at the compaction and changed after it: reads at
	// revisions in between still need its old version.
	h.checkLists("/k/", first)
	if err := s.Compact(ctx, second); err != nil {
		t.Fatalf("second Compact: %v", err)
	}
	check(second)

	if err := s.Compact(ctx, first); err != nil {
		t.Fatalf("Compact at an already compacted revision: %v", err)
	}
	last := h.revs[len(h.revs)-1]
	if err := s.Compact(ctx, last+1); !errors.Is(err, store.ErrFutureRevision) {
		t.Fatalf("Compact at a future revision: err = %v, want ErrFutureRevision", err)
	}
	check(second)
}

func testConcurrentWriters(t *testing.T, ctx context.Context, s store.Store) {
	const writers, writes = 8, 200
	start := currentRevision(t, ctx, s)
	ch, err := s.Watch(ctx, "/cw/", start)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	revs := make([][]int64, writers)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range writes {
				rev, err := s.Create(ctx, fmt.Sprintf("/cw/%d/%03d", w, i), []byte("v"))
				if err != nil {
					errs <- fmt.Errorf("writer %d, write %d: %w", w, i, err)
					return
				}
				revs[w] = append(revs[w], rev)
			}
		})
	}
	events := collect(t, ctx, s, ch, "/cw/", start, writers*writes)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	want := map[int64]string{}
	for w, rs := range revs {
		for i, rev := range rs {
			if prev, dup := want[rev]; dup {
				t.Fatalf("revision %d returned for %s and writer %d, write %d", rev, prev, w, i)
			}
			want[rev] = fmt.Sprintf("/cw/%d/%03d", w, i)
			if i > 0 && rev <= rs[i-1] {
				t.Fatalf("writer %d: revision %d after %d", w, rev, rs[i-1])
			}
		}
	}
	got := map[int64]string{}
	for i, ev := range events {
		if i > 0 && ev.KV.ModRevision <= events[i-1].KV.ModRevision {
			t.Fatalf("event %d at revision %d after %d", i, ev.KV.ModRevision, events[i-1].KV.ModRevision)
		}
		if ev.Type != store.Created {
			t.Fatalf("event %d: %v, want Created", i, ev.Type)
		}
		got[ev.KV.ModRevision] = ev.KV.Key
	}
	if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
		t.Fatalf("watched writes (-acknowledged +watched):\n%s", diff)
	}
}

func testWatchCancel(t *testing.T, ctx context.Context, s store.Store) {
	wctx, cancel := context.WithCancel(ctx)
	ch, err := s.Watch(wctx, "/wc/", currentRevision(t, ctx, s))
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if _, err := s.Create(ctx, "/wc/a", []byte("v")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if got := receive(t, ctx, ch, 1); got[0].KV.Key != "/wc/a" {
		t.Fatalf("event for %q, want /wc/a", got[0].KV.Key)
	}
	cancel()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-ctx.Done():
			t.Fatal("watch channel still open after its context was cancelled")
		}
	}
}

func testSlowWatcher(t *testing.T, ctx context.Context, s store.Store) {
	const writers = 8
	start := currentRevision(t, ctx, s)
	ch, err := s.Watch(ctx, "/sw/", start)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	// Nobody reads ch while writing: the writes must not block on it.
	revs := make(chan int64, SlowWatcherWrites)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := w; i < SlowWatcherWrites; i += writers {
				rev, err := s.Create(ctx, fmt.Sprintf("/sw/%04d", i), []byte("v"))
				if err != nil {
					errs <- err
					return
				}
				revs <- rev
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Create: %v", err)
	}
	close(revs)
	var written []int64
	for r := range revs {
		written = append(written, r)
	}
	slices.Sort(written)

	var got []int64
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				if len(got) >= len(written) {
					t.Fatalf("watcher received all %d events, yet was closed", len(got))
				}
				if diff := cmp.Diff(written[:len(got)], got, equateEmpty); diff != "" {
					t.Fatalf("events before the close are not the first writes in order (-want +got):\n%s", diff)
				}
				return
			}
			got = append(got, ev.KV.ModRevision)
		case <-ctx.Done():
			t.Fatalf("watcher that read nothing during %d writes is still open after %d events", SlowWatcherWrites, len(got))
		}
	}
}

// history performs writes on a store and records what the store must then
// hold at every revision, and the events the writes make.
type history struct {
	t      *testing.T
	ctx    context.Context
	s      store.Store
	revs   []int64                     // revision of each write
	states []map[string]store.KeyValue // keys after each write
	cur    map[string]store.KeyValue
	events []store.Event
}

func newHistory(t *testing.T, ctx context.Context, s store.Store) *history {
	return &history{t: t, ctx: ctx, s: s, cur: map[string]store.KeyValue{}}
}

func (h *history) record(rev int64, ev store.Event) int64 {
	h.t.Helper()
	if n := len(h.revs); n > 0 && rev <= h.revs[n-1] {
		h.t.Fatalf("%v %q got revision %d after %d", ev.Type, ev.KV.Key, rev, h.revs[n-1])
	}
	h.revs = append(h.revs, rev)
	h.states = append(h.states, maps.Clone(h.cur))
	h.events = append(h.events, ev)
	return rev
}

func (h *history) create(key, value string) int64 {
	h.t.Helper()
	rev, err := h.s.Create(h.ctx, key, []byte(value))
	if err != nil {
		h.t.Fatalf("Create %q: %v", key, err)
	}
	kv := store.KeyValue{Key: key, Value: []byte(value), CreateRevision: rev, ModRevision: rev}
	h.cur[key] = kv
	return h.record(rev, store.Event{Type: store.Created, KV: kv})
}

func (h *history) update(key, value string) int64 {
	h.t.Helper()
	old := h.cur[key]
	rev, err := h.s.Update(h.ctx, key, []byte(value), old.ModRevision)
	if err != nil {
		h.t.Fatalf("Update %q: %v", key, err)
	}
	kv := store.KeyValue{Key: key, Value: []byte(value), CreateRevision: old.CreateRevision, ModRevision: rev}
	h.cur[key] = kv
	return h.record(rev, store.Event{Type: store.Updated, KV: kv})
}

func (h *history) delete(key string) int64 {
	h.t.Helper()
	old := h.cur[key]
	rev, err := h.s.Delete(h.ctx, key, old.ModRevision)
	if err != nil {
		h.t.Fatalf("Delete %q: %v", key, err)
	}
	delete(h.cur, key)
	kv := old
	kv.ModRevision = rev
	return h.record(rev, store.Event{Type: store.Deleted, KV: kv})
}

// at returns the keys under prefix at rev, in key order.
func (h *history) at(rev int64, prefix string) []store.KeyValue {
	var state map[string]store.KeyValue
	for i, r := range h.revs {
		if r <= rev {
			state = h.states[i]
		}
	}
	var kvs []store.KeyValue
	for k, kv := range state {
		if strings.HasPrefix(k, prefix) {
			kvs = append(kvs, kv)
		}
	}
	slices.SortFunc(kvs, func(a, b store.KeyValue) int { return strings.Compare(a.Key, b.Key) })
	return kvs
}

func (h *history) eventsAfter(rev int64, prefix string) []store.Event {
	var evs []store.Event
	for _, ev := range h.events {
		if ev.KV.ModRevision > rev && strings.HasPrefix(ev.KV.Key, prefix) {
			evs = append(evs, ev)
		}
	}
	return evs
}

// checkLists lists prefix at every revision from from to the last write,
// whole and in pages of one, and compares with the recorded history.
func (h *history) checkLists(prefix string, from int64) {
	h.t.Helper()
	for rev := from; rev <= h.revs[len(h.revs)-1]; rev++ {
		want := h.at(rev, prefix)
		res, err := h.s.List(h.ctx, prefix, store.ListOptions{Revision: rev})
		if err != nil {
			h.t.Fatalf("List at %d: %v", rev, err)
		}
		if diff := cmp.Diff(want, res.Items, equateEmpty); diff != "" || res.Revision != rev || res.More {
			h.t.Fatalf("List at %d: Revision %d, More %v, items (-want +got):\n%s", rev, res.Revision, res.More, diff)
		}
		var paged []store.KeyValue
		opts := store.ListOptions{Revision: rev, Limit: 1}
		for {
			res, err := h.s.List(h.ctx, prefix, opts)
			if err != nil {
				h.t.Fatalf("List page at %d after %q: %v", rev, opts.Continue, err)
			}
			paged = append(paged, res.Items...)
			if !res.More {
				break
			}
			opts.Continue = res.Items[len(res.Items)-1].Key
		}
		if diff := cmp.Diff(want, paged, equateEmpty); diff != "" {
			h.t.Fatalf("List in pages at %d (-want +got):\n%s", rev, diff)
		}
	}
}

func currentRevision(t *testing.T, ctx context.Context, s store.Store) int64 {
	t.Helper()
	cur, _, err := s.Revision(ctx)
	if err != nil {
		t.Fatalf("Revision: %v", err)
	}
	return cur
}

// receive reads n events from ch, failing if it closes or ctx ends first.
func receive(t *testing.T, ctx context.Context, ch <-chan store.Event, n int) []store.Event {
	t.Helper()
	evs := make([]store.Event, 0, n)
	for len(evs) < n {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("watch closed after %d of %d events", len(evs), n)
			}
			evs = append(evs, ev)
		case <-ctx.Done():
			t.Fatalf("received %d of %d events before the deadline", len(evs), n)
		}
	}
	return evs
}

// collect reads n events under prefix, watching again from the last revision
// seen when the store closes the watch, as the contract asks callers to.
func collect(t *testing.T, ctx context.Context, s store.Store, ch <-chan store.Event, prefix string, after int64, n int) []store.Event {
	t.Helper()
	evs := make([]store.Event, 0, n)
	for len(evs) < n {
		select {
		case ev, ok := <-ch:
			if ok {
				evs = append(evs, ev)
				after = ev.KV.ModRevision
				continue
			}
			t.Logf("watch closed after %d events; watching again from %d", len(evs), after)
			var err error
			if ch, err = s.Watch(ctx, prefix, after); err != nil {
				t.Fatalf("Watch again from %d: %v", after, err)
			}
		case <-ctx.Done():
			t.Fatalf("received %d of %d events before the deadline", len(evs), n)
		}
	}
	return evs
}
