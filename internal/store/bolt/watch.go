package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"berth.dev/berth/internal/store"
)

// readChunk is the most log records read in one transaction, so that a long
// replay does not hold a read transaction (which stalls file growth).
const readChunk = 1000

// watcher is one Watch call. Until it joins the live set, its replay
// goroutine owns it; then the dispatcher does, under Store.mu.
type watcher struct {
	prefix string
	ch     chan store.Event
	last   int64       // last revision sent, or the start revision
	stop   func() bool // unregisters the context callback
}

// Watch sends the changes under prefix after afterRevision, then live
// changes. Events share their Value with other watchers: do not modify it.
func (s *Store) Watch(ctx context.Context, prefix string, afterRevision int64) (<-chan store.Event, error) {
	_, compacted, err := s.Revision(ctx)
	if err != nil {
		return nil, err
	}
	if afterRevision < compacted {
		return nil, fmt.Errorf("watching %q after %d (compacted %d): %w", prefix, afterRevision, compacted, store.ErrCompacted)
	}
	w := &watcher{prefix: prefix, ch: make(chan store.Event, s.watchBuffer), last: afterRevision}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("watching %q: store closed", prefix)
	}
	s.wg.Add(1)
	go s.replay(ctx, w)
	return w.ch, nil
}

// replay sends w the log after w.last, waiting for its reader, until it has
// caught up with the dispatcher; then it hands w over to the dispatcher.
func (s *Store) replay(ctx context.Context, w *watcher) {
	defer s.wg.Done()
	for {
		evs, upTo, more, err := s.readLog(w.last, w.prefix)
		if err != nil {
			if !errors.Is(err, store.ErrCompacted) {
				s.log.Error("watch replay failed", "prefix", w.prefix, "after", w.last, "err", err)
			}
			close(w.ch)
			return
		}
		for _, ev := range evs {
			select {
			case w.ch <- ev:
			case <-ctx.Done():
				close(w.ch)
				return
			case <-s.done:
				close(w.ch)
				return
			}
		}
		w.last = upTo
		if more {
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			close(w.ch)
			return
		}
		// Every record up to dispatched has been read here, and the
		// dispatcher sends w only what is after w.last.
		if s.dispatched <= w.last {
			s.watchers[w] = struct{}{}
			w.stop = context.AfterFunc(ctx, func() {
				s.mu.Lock()
				defer s.mu.Unlock()
				if _, ok := s.watchers[w]; ok {
					s.removeLocked(w)
				}
			})
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

// removeLocked ends the live watcher w.
func (s *Store) removeLocked(w *watcher) {
	delete(s.watchers, w)
	w.stop()
	close(w.ch)
}

// dispatch fans new log records out to the live watchers, in order, until
// Close. A watcher whose buffer is full is closed rather than waited for.
func (s *Store) dispatch() {
	defer s.wg.Done()
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		for more := true; more; {
			s.mu.Lock()
			after := s.dispatched
			s.mu.Unlock()
			var evs []store.Event
			var upTo int64
			var err error
			evs, upTo, more, err = s.readLog(after, "")
			if err != nil {
				// The log after dispatched is never compacted (Compact
				// waits for dispatch), so this is a broken file.
				s.log.Error("watch dispatch failed", "after", after, "err", err)
				break
			}
			s.mu.Lock()
			for w := range s.watchers {
				s.sendLocked(w, evs)
			}
			s.dispatched = upTo
			close(s.progress)
			s.progress = make(chan struct{})
			s.mu.Unlock()
		}
	}
}

// sendLocked sends w the events after w.last under its prefix, closing it
// if it cannot take them all.
func (s *Store) sendLocked(w *watcher, evs []store.Event) {
	for _, ev := range evs {
		if ev.KV.ModRevision <= w.last || !strings.HasPrefix(ev.KV.Key, w.prefix) {
			continue
		}
		select {
		case w.ch <- ev:
			w.last = ev.KV.ModRevision
		default:
			s.log.Warn("closing watch that fell behind", "prefix", w.prefix, "revision", w.last)
			s.removeLocked(w)
			return
		}
	}
}

// waitDispatched waits until the dispatcher has sent the log up to rev.
func (s *Store) waitDispatched(ctx context.Context, rev int64) error {
	for {
		s.mu.Lock()
		dispatched, progress := s.dispatched, s.progress
		s.mu.Unlock()
		if dispatched >= rev {
			return nil
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return errors.New("store closed")
		}
	}
}

// readLog reads at most readChunk log records after rev and returns the
// events among them under prefix, the revision read up to, and whether more
// records follow. It fails with ErrCompacted if rev is compacted.
func (s *Store) readLog(rev int64, prefix string) (evs []store.Event, upTo int64, more bool, err error) {
	upTo = rev
	err = s.db.View(func(tx *bbolt.Tx) error {
		_, compacted, err := revisions(tx)
		if err != nil {
			return err
		}
		if rev < compacted {
			return fmt.Errorf("reading log after %d (compacted %d): %w", rev, compacted, store.ErrCompacted)
		}
		c := tx.Bucket(bucketLog).Cursor()
		n := 0
		for k, v := c.Seek(revKey(rev + 1)); k != nil; k, v = c.Next() {
			if n == readChunk {
				more = true
				return nil
			}
			n++
			if upTo, err = decodeRev(k); err != nil {
				return err
			}
			ch, err := decodeChange(v)
			if err != nil {
				return err
			}
			if strings.HasPrefix(ch.key, prefix) {
				evs = append(evs, store.Event{Type: ch.typ, KV: store.KeyValue{
					Key: ch.key, Value: bytes.Clone(ch.value), CreateRevision: ch.createRev, ModRevision: upTo,
				}})
			}
		}
		return nil
	})
	return evs, upTo, more, err
}
