// Package store defines berth's revisioned key-value store: the one place the
// API server keeps state. Every write gets the next value of one global,
// strictly increasing revision; reads can be served at a past revision until
// it is compacted, and watches replay every change after a revision in order.
//
// Backends live in sub-packages (bolt, etcd) and must pass storetest.
package store

import (
	"context"
	"errors"
)

// Errors returned by every backend. Callers compare with errors.Is.
var (
	// ErrNotFound: the key does not exist (at the revision asked for).
	ErrNotFound = errors.New("store: key not found")
	// ErrExists: Create found the key already present.
	ErrExists = errors.New("store: key already exists")
	// ErrConflict: the key's current ModRevision is not the one expected.
	ErrConflict = errors.New("store: revision conflict")
	// ErrCompacted: the revision asked for is older than the compacted revision.
	ErrCompacted = errors.New("store: revision compacted")
	// ErrFutureRevision: the revision asked for has not been written yet.
	ErrFutureRevision = errors.New("store: revision not yet reached")
	// ErrInvalidContinue: a continue key that does not match the prefix.
	ErrInvalidContinue = errors.New("store: invalid continue key")
)

// KeyValue is one key at one revision.
type KeyValue struct {
	Key   string
	Value []byte
	// CreateRevision is the revision that created the key (since its last deletion).
	CreateRevision int64
	// ModRevision is the revision of the last write to the key. For a Deleted
	// event it is the revision of the deletion.
	ModRevision int64
	// Stale is set by a store that transforms values (encryption) when
	// Value was read with a key other than the one that writes: writing the
	// same Value back stores it differently, so it is not a no-op.
	Stale bool
}

// ListOptions selects a page of keys under a prefix.
type ListOptions struct {
	// Revision to read at; 0 means the current revision.
	Revision int64
	// Limit is the most keys returned; 0 means no limit.
	Limit int64
	// Continue: return only keys strictly greater than this one (the last key
	// of the previous page). It must lie under the prefix.
	Continue string
}

// ListResult is a consistent snapshot of a prefix at Revision.
type ListResult struct {
	Items []KeyValue
	// Revision is the store revision the page was read at; pass it as
	// ListOptions.Revision for the following pages.
	Revision int64
	// More reports whether keys remain after the last item.
	More bool
}

// EventType says what happened to a key.
type EventType int

const (
	Created EventType = iota + 1
	Updated
	Deleted
)

func (t EventType) String() string {
	switch t {
	case Created:
		return "Created"
	case Updated:
		return "Updated"
	case Deleted:
		return "Deleted"
	}
	return "Unknown"
}

// Event is one change. For Deleted, KV.Value holds the last value the key had
// and KV.ModRevision the revision of the deletion.
type Event struct {
	Type EventType
	KV   KeyValue
}

// Store is a revisioned key-value map. All methods are safe for concurrent
// use. Writes are durable when they return without error.
type Store interface {
	// Get returns the current value of key, or ErrNotFound.
	Get(ctx context.Context, key string) (KeyValue, error)
	// List returns the keys under prefix in key order, as they were at
	// opts.Revision (ErrCompacted, ErrFutureRevision when it cannot).
	List(ctx context.Context, prefix string, opts ListOptions) (ListResult, error)
	// Create writes key if it does not exist (ErrExists) and returns the new revision.
	Create(ctx context.Context, key string, value []byte) (int64, error)
	// Update writes key if its ModRevision equals expectedRevision
	// (ErrConflict otherwise; 0 skips the check; ErrNotFound if absent) and
	// returns the new revision.
	Update(ctx context.Context, key string, value []byte, expectedRevision int64) (int64, error)
	// Delete removes key under the same revision check as Update and returns
	// the revision of the deletion.
	Delete(ctx context.Context, key string, expectedRevision int64) (int64, error)
	// Watch sends, in revision order, every change under prefix with a
	// revision greater than afterRevision, then live changes. It fails with
	// ErrCompacted when afterRevision is older than the compacted revision
	// (afterRevision equal to the compacted revision is allowed). The channel
	// is closed when ctx ends, or when the watcher cannot keep up; the caller
	// then watches again from the last revision it saw.
	Watch(ctx context.Context, prefix string, afterRevision int64) (<-chan Event, error)
	// Compact discards the history before revision: reads and watches at
	// older revisions then fail with ErrCompacted. Current values stay.
	Compact(ctx context.Context, revision int64) error
	// Revision returns the current revision (0 for an empty store) and the
	// compacted revision.
	Revision(ctx context.Context) (current, compacted int64, err error)
	// Close releases the store; watches end.
	Close() error
}
