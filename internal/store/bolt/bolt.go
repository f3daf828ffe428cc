package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"berth.dev/berth/internal/store"
)

// Config configures a Store.
type Config struct {
	// Path of the database file; created when missing. Required.
	Path string
	// Logger; nil discards.
	Logger *slog.Logger
	// WatchBuffer is how many events a live watcher may have unread before
	// it is closed; 0 means 1024.
	WatchBuffer int
	// OpenTimeout is how long New waits for another process to release the
	// file; 0 means 1s.
	OpenTimeout time.Duration
}

// Store is a store.Store in one bbolt file. Only one process may have the
// file open at a time.
type Store struct {
	db          *bbolt.DB
	log         *slog.Logger
	watchBuffer int

	writes   chan *writeReq // to the commit loop
	wake     chan struct{}  // one pending signal: log records may await dispatch
	done     chan struct{}  // closed by Close
	wg       sync.WaitGroup
	closeErr error
	close    sync.Once

	mu         sync.Mutex // guards the fields below
	closed     bool
	watchers   map[*watcher]struct{} // live watchers, fed by the dispatcher
	dispatched int64                 // last revision fanned out to watchers
	progress   chan struct{}         // closed and replaced when dispatched grows
}

var _ store.Store = (*Store)(nil)

// New opens or creates the database at cfg.Path and starts its watch
// dispatcher. Close releases both.
func New(cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, errors.New("bolt store: Path is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WatchBuffer <= 0 {
		cfg.WatchBuffer = 1024
	}
	if cfg.OpenTimeout <= 0 {
		cfg.OpenTimeout = time.Second
	}
	db, err := bbolt.Open(cfg.Path, 0o600, &bbolt.Options{Timeout: cfg.OpenTimeout})
	if err != nil {
		return nil, fmt.Errorf("opening bolt store %s: %w", cfg.Path, err)
	}

	var rev int64
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketKV, bucketLog, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		rev, _, err = revisions(tx)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initializing bolt store %s: %w", cfg.Path, err)
	}
	s := &Store{
		db:          db,
		log:         cfg.Logger.With("component", "store"),
		watchBuffer: cfg.WatchBuffer,
		writes:      make(chan *writeReq),
		wake:        make(chan struct{}, 1),
		done:        make(chan struct{}),
		watchers:    map[*watcher]struct{}{},
		dispatched:  rev,
		progress:    make(chan struct{}),
	}
	s.wg.Add(2)
	go s.commitLoop()
	go s.dispatch()
	return s, nil
}

// Close stops the commit loop and the dispatcher, ends all watches and
// closes the file. It waits for the store's goroutines; calling it again
// returns the first result.
func (s *Store) Close() error {
	s.close.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.done)
		s.wg.Wait()
		s.mu.Lock()
		for w := range s.watchers {
			s.removeLocked(w)
		}
		s.mu.Unlock()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// revisions reads the current and the compacted revision.
func revisions(tx *bbolt.Tx) (cur, compacted int64, err error) {
	meta := tx.Bucket(bucketMeta)
	for _, f := range []struct {
		key []byte
		dst *int64
	}{{metaRevision, &cur}, {metaCompacted, &compacted}} {
		if b := meta.Get(f.key); b != nil {
			if *f.dst, err = decodeRev(b); err != nil {
				return 0, 0, err
			}
		}
	}
	return cur, compacted, nil
}

// Revision returns the current and the compacted revision.
func (s *Store) Revision(ctx context.Context) (cur, compacted int64, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		cur, compacted, err = revisions(tx)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("reading revision: %w", err)
	}
	return cur, compacted, nil
}

// Get returns the current value of key.
func (s *Store) Get(ctx context.Context, key string) (store.KeyValue, error) {
	var kv store.KeyValue
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketKV).Get([]byte(key))
		if b == nil {
			return store.ErrNotFound
		}
		c, err := decodeCurrent(b)
		if err != nil {
			return err
		}
		kv = c.keyValue(key)
		return nil
	})
	if err != nil {
		return store.KeyValue{}, fmt.Errorf("getting %q: %w", key, err)
	}
	return kv, nil
}

// keyValue returns c as the KeyValue of key, with its value copied out of
// the transaction.
func (c current) keyValue(key string) store.KeyValue {
	return store.KeyValue{Key: key, Value: bytes.Clone(c.value), CreateRevision: c.createRev, ModRevision: c.modRev}
}

// Create writes key if it does not exist.
func (s *Store) Create(ctx context.Context, key string, value []byte) (int64, error) {
	rev, err := s.write(ctx, key, value, func(tx *bbolt.Tx) (int64, error) {
		kv := tx.Bucket(bucketKV)
		if kv.Get([]byte(key)) != nil {
			return 0, store.ErrExists
		}
		rev, err := nextRevision(tx)
		if err != nil {
			return 0, err
		}
		return rev, put(tx, rev, current{createRev: rev, modRev: rev, value: value},
			change{typ: store.Created, createRev: rev, key: key, value: value})
	})
	if err != nil {
		return 0, fmt.Errorf("creating %q: %w", key, err)
	}
	return rev, nil
}

// Update writes key if its ModRevision is expectedRevision (or that is 0).
func (s *Store) Update(ctx context.Context, key string, value []byte, expectedRevision int64) (int64, error) {
	rev, err := s.write(ctx, key, value, func(tx *bbolt.Tx) (int64, error) {
		old, err := currentFor(tx, key, expectedRevision)
		if err != nil {
			return 0, err
		}
		rev, err := nextRevision(tx)
		if err != nil {
			return 0, err
		}
		return rev, put(tx, rev, current{createRev: old.createRev, modRev: rev, value: value},
			change{typ: store.Updated, createRev: old.createRev, prevModRev: old.modRev, key: key, value: value})
	})
	if err != nil {
		return 0, fmt.Errorf("updating %q: %w", key, err)
	}
	return rev, nil
}

// Delete removes key if its ModRevision is expectedRevision (or that is 0).
func (s *Store) Delete(ctx context.Context, key string, expectedRevision int64) (int64, error) {
	rev, err := s.write(ctx, key, nil, func(tx *bbolt.Tx) (int64, error) {
		old, err := currentFor(tx, key, expectedRevision)
		if err != nil {
			return 0, err
		}
		rev, err := nextRevision(tx)
		if err != nil {
			return 0, err
		}
		// The log record is encoded before the delete, while old.value
		// still points at live data.
		rec := change{typ: store.Deleted, createRev: old.createRev, prevModRev: old.modRev, key: key, value: old.value}.encode()
		if err := tx.Bucket(bucketLog).Put(revKey(rev), rec); err != nil {
			return 0, err
		}
		return rev, tx.Bucket(bucketKV).Delete([]byte(key))
	})
	if err != nil {
		return 0, fmt.Errorf("deleting %q: %w", key, err)
	}
	return rev, nil
}

// maxBatch is the most writes that share one commit.
const maxBatch = 1024

// writeReq is one write waiting for the commit loop.
type writeReq struct {
	op   func(*bbolt.Tx) (int64, error)
	rev  int64
	err  error
	done chan struct{} // closed when rev and err are set
}

// write runs op in a commit shared with the writes waiting at the same time
// and returns after that commit is durable. The store's own errors
// (ErrExists, ...) are results, not failures: op writes nothing then.
func (s *Store) write(ctx context.Context, key string, value []byte, op func(*bbolt.Tx) (int64, error)) (int64, error) {
	if key == "" {
		return 0, errors.New("empty key")
	}
	if len(key) > bbolt.MaxKeySize {
		return 0, fmt.Errorf("key longer than %d bytes", bbolt.MaxKeySize)
	}
	if len(key)+len(value)+64 > bbolt.MaxValueSize {
		return 0, fmt.Errorf("value of %d bytes too large", len(value))
	}
	r := &writeReq{op: op, done: make(chan struct{})}
	select {
	case s.writes <- r:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.done:
		return 0, errors.New("store closed")
	}
	// Once taken, the write is committed or not regardless of ctx.
	<-r.done
	return r.rev, r.err
}

// commitLoop commits writes until Close. While one commit is being synced
// to disk, the writes that arrive queue up and then share the next one: a
// lone writer pays one fsync, many writers share them.
func (s *Store) commitLoop() {
	defer s.wg.Done()
	for {
		var batch []*writeReq
		select {
		case <-s.done:
			return
		case r := <-s.writes:
			batch = append(batch, r)
		}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-s.writes:
				batch = append(batch, r)
			default:
				break more
			}
		}
		if err := s.commit(batch); err != nil && len(batch) > 1 {
			// One write failed the shared transaction: commit each alone,
			// so that only the failing one fails.
			for _, r := range batch {
				s.commit([]*writeReq{r})
			}
		}
		for _, r := range batch {
			close(r.done)
		}
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// commit runs batch in one transaction. On failure every write in it gets
// the error and nothing is written.
func (s *Store) commit(batch []*writeReq) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		for _, r := range batch {
			r.rev, r.err = r.op(tx)
			if r.err != nil && !isResult(r.err) {
				return r.err
			}
		}
		return nil
	})
	if err != nil {
		for _, r := range batch {
			r.rev, r.err = 0, err
		}
	}
	return err
}

func isResult(err error) bool {
	return errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict)
}

// currentFor returns key's current record if its mod revision is expected
// (or expected is 0).
func currentFor(tx *bbolt.Tx, key string, expected int64) (current, error) {
	b := tx.Bucket(bucketKV).Get([]byte(key))
	if b == nil {
		return current{}, store.ErrNotFound
	}
	c, err := decodeCurrent(b)
	if err != nil {
		return current{}, err
	}
	if expected != 0 && c.modRev != expected {
		return current{}, store.ErrConflict
	}
	return c, nil
}

func nextRevision(tx *bbolt.Tx) (int64, error) {
	cur, _, err := revisions(tx)
	if err != nil {
		return 0, err
	}
	rev := cur + 1
	return rev, tx.Bucket(bucketMeta).Put(metaRevision, revKey(rev))
}

// put stores a key's new current record and the log record of its write.
func put(tx *bbolt.Tx, rev int64, cur current, ch change) error {
	if err := tx.Bucket(bucketKV).Put([]byte(ch.key), cur.encode()); err != nil {
		return err
	}
	return tx.Bucket(bucketLog).Put(revKey(rev), ch.encode())
}

// Compact discards the history before revision. It first waits until the
// dispatcher has sent the log up to revision to live watchers.
func (s *Store) Compact(ctx context.Context, revision int64) error {
	cur, compacted, err := s.Revision(ctx)
	if err != nil {
		return err
	}
	if revision > cur {
		return fmt.Errorf("compacting at %d (current %d): %w", revision, cur, store.ErrFutureRevision)
	}
	if revision <= compacted {
		return nil
	}
	if err := s.waitDispatched(ctx, revision); err != nil {
		return fmt.Errorf("compacting at %d: %w", revision, err)
	}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		if _, compacted, err := revisions(tx); err != nil || revision <= compacted {
			return err
		}
		log := tx.Bucket(bucketLog)
		// Records below revision that a read at revision or later needs:
		// the previous versions of keys updated after it, and the current
		// versions of keys not updated since.
		keep := map[int64]bool{}
		c := log.Cursor()
		for k, v := c.Seek(revKey(revision)); k != nil; k, v = c.Next() {
			ch, err := decodeChange(v)
			if err != nil {
				return err
			}
			if ch.typ == store.Updated && ch.prevModRev < revision {
				keep[ch.prevModRev] = true
			}
		}
		var drop [][]byte
		end := revKey(revision)
		kv := tx.Bucket(bucketKV)
		for k, v := c.First(); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
			rev, err := decodeRev(k)
			if err != nil {
				return err
			}
			if keep[rev] {
				continue
			}
			// A key's current version stays too: its next update will link
			// back to it, and reads between now and then need it.
			ch, err := decodeChange(v)
			if err != nil {
				return err
			}
			if ch.typ != store.Deleted {
				if b := kv.Get([]byte(ch.key)); b != nil {
					cur, err := decodeCurrent(b)
					if err != nil {
						return err
					}
					if cur.modRev == rev {
						continue
					}
				}
			}
			drop = append(drop, k)
		}
		for _, k := range drop {
			if err := log.Delete(k); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(metaCompacted, revKey(revision))
	})
	if err != nil {
		return fmt.Errorf("compacting at %d: %w", revision, err)
	}
	return nil
}

// List returns the keys under prefix at opts.Revision.
func (s *Store) List(ctx context.Context, prefix string, opts store.ListOptions) (store.ListResult, error) {
	if opts.Continue != "" && !strings.HasPrefix(opts.Continue, prefix) {
		return store.ListResult{}, fmt.Errorf("listing %q after %q: %w", prefix, opts.Continue, store.ErrInvalidContinue)
	}
	if opts.Limit < 0 {
		return store.ListResult{}, fmt.Errorf("listing %q: negative limit %d", prefix, opts.Limit)
	}
	var res store.ListResult
	err := s.db.View(func(tx *bbolt.Tx) error {
		cur, compacted, err := revisions(tx)
		if err != nil {
			return err
		}
		rev := opts.Revision
		switch {
		case rev == 0:
			rev = cur
		case rev > cur:
			return fmt.Errorf("at %d (current %d): %w", rev, cur, store.ErrFutureRevision)
		case rev < compacted:
			return fmt.Errorf("at %d (compacted %d): %w", rev, compacted, store.ErrCompacted)
		}
		l := lister{tx: tx, prefix: prefix, after: opts.Continue, rev: rev, limit: opts.Limit}
		res.Revision = rev
		if rev == cur {
			res.Items, res.More, err = l.current()
		} else {
			res.Items, res.More, err = l.past()
		}
		return err
	})
	if err != nil {
		return store.ListResult{}, fmt.Errorf("listing %q: %w", prefix, err)
	}
	return res, nil
}
