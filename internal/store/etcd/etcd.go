// Package etcd is a store.Store on an etcd v3 cluster, for berth servers
// that share their state.
//
// Store keys are etcd keys under Config.Prefix, and store revisions are
// etcd's own: writes are transactions comparing CreateRevision (Create) or
// ModRevision (Update, Delete), lists are linearizable ranges, and watches
// are etcd watches with the previous value, so that Deleted events carry
// the last value. etcd has one revision history for the whole cluster, so
// revisions advance with writes outside the prefix too, and Compact compacts
// the whole cluster.
package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"berth.dev/berth/internal/store"
)

// Config configures a Store.
type Config struct {
	// Endpoints of the etcd cluster, such as "https://10.0.0.1:2379".
	// Required.
	Endpoints []string
	// Prefix is put before every key; "" uses the keys as they are.
	Prefix string
	// TLS for the client connections; nil for plain connections.
	TLS *tls.Config
	// Logger; nil discards.
	Logger *slog.Logger
	// WatchBuffer is how many events a watcher may have unread before it is
	// closed; 0 means 1024.
	WatchBuffer int
	// DialTimeout bounds connecting to an endpoint; 0 means 5s.
	DialTimeout time.Duration
}

// Store is a store.Store on etcd.
type Store struct {
	client      *clientv3.Client
	prefix      string
	log         *slog.Logger
	watchBuffer int

	done     chan struct{} // closed by Close: ends watches
	wg       sync.WaitGroup
	close    sync.Once
	closeErr error

	mu     sync.Mutex // guards closed, and wg.Add against Close's wg.Wait
	closed bool
}

var _ store.Store = (*Store)(nil)

// New connects to the cluster and checks, within ctx, that it answers.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("etcd store: Endpoints is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WatchBuffer <= 0 {
		cfg.WatchBuffer = 1024
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		TLS:         cfg.TLS,
		DialTimeout: cfg.DialTimeout,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd %v: %w", cfg.Endpoints, err)
	}
	s := &Store{
		client:      client,
		prefix:      cfg.Prefix,
		log:         cfg.Logger.With("component", "store"),
		watchBuffer: cfg.WatchBuffer,
		done:        make(chan struct{}),
	}
	if _, _, err := s.Revision(ctx); err != nil {
		client.Close()
		return nil, fmt.Errorf("connecting to etcd %v: %w", cfg.Endpoints, err)
	}
	return s, nil
}

// Close ends all watches, waits for their goroutines and closes the client.
// Calling it again returns the first result.
func (s *Store) Close() error {
	s.close.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.done)
		s.wg.Wait()
		s.closeErr = s.client.Close()
	})
	return s.closeErr
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// key returns the etcd key of key.
func (s *Store) key(key string) string { return s.prefix + key }

// probeKey is a key read only for the revisions in the response: etcd
// refuses to read the empty key.
func (s *Store) probeKey() string { return s.key("\x00") }

// rangeOf returns the etcd key range of the keys under prefix.
func (s *Store) rangeOf(prefix string) (start, end string) {
	start = s.key(prefix)
	if start == "" {
		return "\x00", "\x00" // etcd's "every key"
	}
	return start, clientv3.GetPrefixRangeEnd(start)
}

// mapErr turns etcd's revision errors into the store's.
func mapErr(err error) error {
	switch {
	case errors.Is(err, rpctypes.ErrCompacted):
		return fmt.Errorf("%w (%v)", store.ErrCompacted, err)
	case errors.Is(err, rpctypes.ErrFutureRev):
		return fmt.Errorf("%w (%v)", store.ErrFutureRevision, err)
	}
	return err
}

func (s *Store) keyValue(kv *mvccpb.KeyValue) store.KeyValue {
	return store.KeyValue{
		Key:            strings.TrimPrefix(string(kv.Key), s.prefix),
		Value:          kv.Value,
		CreateRevision: kv.CreateRevision,
		ModRevision:    kv.ModRevision,
	}
}

// Get returns the current value of key.
func (s *Store) Get(ctx context.Context, key string) (store.KeyValue, error) {
	resp, err := s.client.Get(ctx, s.key(key))
	if err != nil {
		return store.KeyValue{}, fmt.Errorf("getting %q: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return store.KeyValue{}, fmt.Errorf("getting %q: %w", key, store.ErrNotFound)
	}
	return s.keyValue(resp.Kvs[0]), nil
}

// List returns the keys under prefix at opts.Revision.
func (s *Store) List(ctx context.Context, prefix string, opts store.ListOptions) (store.ListResult, error) {
	if opts.Continue != "" && !strings.HasPrefix(opts.Continue, prefix) {
		return store.ListResult{}, fmt.Errorf("listing %q after %q: %w", prefix, opts.Continue, store.ErrInvalidContinue)
	}
	if opts.Limit < 0 {
		return store.ListResult{}, fmt.Errorf("listing %q: negative limit %d", prefix, opts.Limit)
	}
	start, end := s.rangeOf(prefix)
	if opts.Continue != "" {
		start = s.key(opts.Continue) + "\x00"
	}
	resp, err := s.client.Get(ctx, start,
		clientv3.WithRange(end), clientv3.WithLimit(opts.Limit), clientv3.WithRev(opts.Revision))
	if err != nil {
		return store.ListResult{}, fmt.Errorf("listing %q at %d: %w", prefix, opts.Revision, mapErr(err))
	}
	res := store.ListResult{Revision: opts.Revision, More: resp.More}
	if res.Revision == 0 {
		res.Revision = resp.Header.Revision
	}
	for _, kv := range resp.Kvs {
		res.Items = append(res.Items, s.keyValue(kv))
	}
	return res, nil
}

// Create writes key if it does not exist.
func (s *Store) Create(ctx context.Context, key string, value []byte) (int64, error) {
	if key == "" {
		return 0, errors.New("creating: empty key")
	}
	k := s.key(key)
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, string(value))).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("creating %q: %w", key, err)
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("creating %q: %w", key, store.ErrExists)
	}
	return resp.Header.Revision, nil
}

// Update writes key if its ModRevision is expectedRevision (or that is 0).
func (s *Store) Update(ctx context.Context, key string, value []byte, expectedRevision int64) (int64, error) {
	rev, err := s.swap(ctx, key, expectedRevision, clientv3.OpPut(s.key(key), string(value)))
	if err != nil {
		return 0, fmt.Errorf("updating %q: %w", key, err)
	}
	return rev, nil
}

// Delete removes key if its ModRevision is expectedRevision (or that is 0).
func (s *Store) Delete(ctx context.Context, key string, expectedRevision int64) (int64, error) {
	rev, err := s.swap(ctx, key, expectedRevision, clientv3.OpDelete(s.key(key)))
	if err != nil {
		return 0, fmt.Errorf("deleting %q: %w", key, err)
	}
	return rev, nil
}

// swap runs op if key exists with ModRevision expected (any, for 0), and
// otherwise tells ErrNotFound from ErrConflict.
func (s *Store) swap(ctx context.Context, key string, expected int64, op clientv3.Op) (int64, error) {
	if key == "" {
		return 0, errors.New("empty key")
	}
	k := s.key(key)
	cond := clientv3.Compare(clientv3.ModRevision(k), "=", expected)
	if expected == 0 {
		cond = clientv3.Compare(clientv3.CreateRevision(k), ">", 0)
	}
	resp, err := s.client.Txn(ctx).
		If(cond).
		Then(op).
		Else(clientv3.OpGet(k, clientv3.WithCountOnly())).
		Commit()
	if err != nil {
		return 0, err
	}
	if resp.Succeeded {
		return resp.Header.Revision, nil
	}
	if expected == 0 || resp.Responses[0].GetResponseRange().Count == 0 {
		return 0, store.ErrNotFound
	}
	return 0, store.ErrConflict
}

// Compact compacts the cluster's history before revision.
func (s *Store) Compact(ctx context.Context, revision int64) error {
	_, err := s.client.Compact(ctx, revision)
	if errors.Is(err, rpctypes.ErrCompacted) {
		return nil // already compacted at or after revision
	}
	if err != nil {
		return fmt.Errorf("compacting at %d: %w", revision, mapErr(err))
	}
	return nil
}

// Revision returns the cluster's current revision and its compacted
// revision. etcd does not report the latter, so Revision finds it by
// reading: it is the oldest revision still readable, found by bisection
// (one read when nothing is compacted, a few dozen otherwise), and 0 when
// revision 1 is readable. It includes compactions made by other clients.
func (s *Store) Revision(ctx context.Context) (cur, compacted int64, err error) {
	resp, err := s.client.Get(ctx, s.probeKey(), clientv3.WithCountOnly())
	if err != nil {
		return 0, 0, fmt.Errorf("reading revision: %w", err)
	}
	cur = resp.Header.Revision
	readable := func(rev int64) (bool, error) {
		_, err := s.client.Get(ctx, s.probeKey(), clientv3.WithCountOnly(), clientv3.WithRev(rev))
		if errors.Is(err, rpctypes.ErrCompacted) {
			return false, nil
		}
		return err == nil, err
	}
	ok, err := readable(1)
	if err != nil || ok {
		return cur, 0, err
	}
	// Revision lo is compacted, hi is readable (cur always is).
	lo, hi := int64(1), cur
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		ok, err := readable(mid)
		if err != nil {
			return 0, 0, fmt.Errorf("finding the compacted revision: %w", err)
		}
		if ok {
			hi = mid
		} else {
			lo = mid
		}
	}
	return cur, hi, nil
}

// Watch sends the changes under prefix after afterRevision, then live
// changes.
func (s *Store) Watch(ctx context.Context, prefix string, afterRevision int64) (<-chan store.Event, error) {
	if s.isClosed() {
		return nil, fmt.Errorf("watching %q: store closed", prefix)
	}
	// etcd would start a watch at the compacted revision itself; the
	// contract asks for ErrCompacted before it, which a read tells.
	_, err := s.client.Get(ctx, s.probeKey(), clientv3.WithCountOnly(), clientv3.WithRev(max(afterRevision, 1)))
	if err != nil && !errors.Is(err, rpctypes.ErrFutureRev) {
		return nil, fmt.Errorf("watching %q after %d: %w", prefix, afterRevision, mapErr(err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("watching %q: store closed", prefix)
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	start, end := s.rangeOf(prefix)
	wch := s.client.Watch(wctx, start,
		clientv3.WithRange(end), clientv3.WithRev(afterRevision+1), clientv3.WithPrevKV())
	out := make(chan store.Event, s.watchBuffer)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		defer close(out)
		s.forward(wch, out, prefix)
	}()
	return out, nil
}

// forward copies etcd's watch responses to out until the watch ends, Close,
// or out is full.
func (s *Store) forward(wch clientv3.WatchChan, out chan<- store.Event, prefix string) {
	for {
		var resp clientv3.WatchResponse
		var ok bool
		select {
		case resp, ok = <-wch:
			if !ok {
				return
			}
		case <-s.done:
			return
		}
		if err := resp.Err(); err != nil {
			if !errors.Is(err, rpctypes.ErrCompacted) && !errors.Is(err, context.Canceled) {
				s.log.Warn("watch ended", "prefix", prefix, "err", err)
			}
			return
		}
		for _, ev := range resp.Events {
			select {
			case out <- s.event(ev):
			default:
				s.log.Warn("closing watch that fell behind", "prefix", prefix, "revision", ev.Kv.ModRevision)
				return
			}
		}
	}
}

func (s *Store) event(ev *clientv3.Event) store.Event {
	if ev.Type == mvccpb.PUT {
		typ := store.Updated
		if ev.IsCreate() {
			typ = store.Created
		}
		return store.Event{Type: typ, KV: s.keyValue(ev.Kv)}
	}
	kv := store.KeyValue{Key: strings.TrimPrefix(string(ev.Kv.Key), s.prefix), ModRevision: ev.Kv.ModRevision}
	if ev.PrevKv != nil {
		kv.Value, kv.CreateRevision = ev.PrevKv.Value, ev.PrevKv.CreateRevision
	}
	return store.Event{Type: store.Deleted, KV: kv}
}
