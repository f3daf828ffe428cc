package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"berth.dev/berth/internal/store"
	"berth.dev/berth/internal/store/storetest"
)

func newStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := New(Config{Path: path})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return newStore(t, filepath.Join(t.TempDir(), "state.db"))
	})
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := New(Config{Path: path})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var revs []int64
	for i := range 5 {
		rev, err := s.Create(ctx, fmt.Sprintf("/k/%d", i), []byte("v"))
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		revs = append(revs, rev)
	}
	if _, err := s.Delete(ctx, "/k/0", 0); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Compact(ctx, revs[2]); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	want, err := s.List(ctx, "/k/", store.ListOptions{Revision: revs[3]})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = newStore(t, path)
	cur, compacted, err := s.Revision(ctx)
	if err != nil {
		t.Fatalf("Revision: %v", err)
	}
	if cur != revs[4]+1 || compacted != revs[2] {
		t.Fatalf("after reopening: Revision() = %d, %d; want %d, %d", cur, compacted, revs[4]+1, revs[2])
	}
	got, err := s.List(ctx, "/k/", store.ListOptions{Revision: revs[3]})
	if err != nil {
		t.Fatalf("List after reopening: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("List after reopening (-want +got):\n%s", diff)
	}
	rev, err := s.Create(ctx, "/k/new", []byte("v"))
	if err != nil || rev != cur+1 {
		t.Fatalf("Create after reopening = %d, %v; want revision %d", rev, err, cur+1)
	}
}

func TestCloseEndsWatches(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := New(Config{Path: filepath.Join(t.TempDir(), "state.db"), WatchBuffer: 1})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, key := range []string{"/a", "/b", "/c"} {
		if _, err := s.Create(ctx, key, []byte("v")); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
	live, err := s.Watch(ctx, "/", 3)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	// Three events to replay into a buffer of one, unread: the replay
	// blocks until Close.
	replaying, err := s.Watch(ctx, "/", 0)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for name, ch := range map[string]<-chan store.Event{"live": live, "replaying": replaying} {
		for open := true; open; {
			select {
			case _, open = <-ch:
			case <-ctx.Done():
				t.Fatalf("%s watch still open after Close", name)
			}
		}
	}
	if _, err := s.Watch(ctx, "/", 0); err == nil {
		t.Fatal("Watch after Close succeeded")
	}
	if _, err := s.Create(ctx, "/d", []byte("v")); err == nil {
		t.Fatal("Create after Close succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestKeyChecks(t *testing.T) {
	s := newStore(t, filepath.Join(t.TempDir(), "state.db"))
	for _, key := range []string{"", string(make([]byte, 40000))} {
		if _, err := s.Create(t.Context(), key, []byte("v")); err == nil || errors.Is(err, store.ErrExists) {
			t.Errorf("Create of a %d-byte key: err = %v, want a key error", len(key), err)
		}
	}
}
