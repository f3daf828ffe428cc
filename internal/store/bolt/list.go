package bolt

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"berth.dev/berth/internal/store"
)

// lister reads one page of keys under prefix, after a key, at a revision.
type lister struct {
	tx     *bbolt.Tx
	prefix string
	after  string // "" or the last key of the previous page
	rev    int64
	limit  int64 // 0: no limit
}

// wanted reports whether key belongs to the page range (before the limit).
func (l *lister) wanted(key string) bool {
	return strings.HasPrefix(key, l.prefix) && key > l.after
}

// full reports whether items hold a page; one more item means More.
func (l *lister) full(items []store.KeyValue) bool {
	return l.limit > 0 && int64(len(items)) > l.limit
}

// page cuts items to the limit and reports whether any were cut.
func (l *lister) page(items []store.KeyValue) ([]store.KeyValue, bool, error) {
	if l.full(items) {
		return items[:l.limit], true, nil
	}
	return items, false, nil
}

// kvCursor iterates the "kv" bucket over the page range in key order.
type kvCursor struct {
	c      *bbolt.Cursor
	prefix []byte
	k, v   []byte
}

func (l *lister) kvCursor() *kvCursor {
	kc := &kvCursor{c: l.tx.Bucket(bucketKV).Cursor(), prefix: []byte(l.prefix)}
	start := kc.prefix
	if l.after != "" {
		start = []byte(l.after)
	}
	kc.k, kc.v = kc.c.Seek(start)
	if l.after != "" && kc.k != nil && string(kc.k) == l.after {
		kc.next()
	}
	kc.check()
	return kc
}

func (kc *kvCursor) next() {
	kc.k, kc.v = kc.c.Next()
	kc.check()
}

func (kc *kvCursor) check() {
	if kc.k != nil && !bytes.HasPrefix(kc.k, kc.prefix) {
		kc.k, kc.v = nil, nil
	}
}

func (kc *kvCursor) keyValue() (store.KeyValue, error) {
	c, err := decodeCurrent(kc.v)
	if err != nil {
		return store.KeyValue{}, err
	}
	return c.keyValue(string(kc.k)), nil
}

// current reads the page from "kv": the revision is the current one.
func (l *lister) current() ([]store.KeyValue, bool, error) {
	var items []store.KeyValue
	for kc := l.kvCursor(); kc.k != nil && !l.full(items); kc.next() {
		kv, err := kc.keyValue()
		if err != nil {
			return nil, false, err
		}
		items = append(items, kv)
	}
	return l.page(items)
}

// past reads the page at an older revision: keys written after l.rev take
// their version at l.rev from the log, the others come from "kv".
func (l *lister) past() ([]store.KeyValue, bool, error) {
	changed, err := l.changedSince()
	if err != nil {
		return nil, false, err
	}
	// The versions at l.rev of the changed keys that existed then.
	var old []store.KeyValue
	for key, ch := range changed {
		kv, ok, err := l.before(key, ch)
		if err != nil {
			return nil, false, err
		}
		if ok {
			old = append(old, kv)
		}
	}
	slices.SortFunc(old, func(a, b store.KeyValue) int { return strings.Compare(a.Key, b.Key) })

	// Merge the old versions with the unchanged keys of "kv", in key order.
	var items []store.KeyValue
	kc := l.kvCursor()
	for !l.full(items) {
		if kc.k != nil {
			if _, ok := changed[string(kc.k)]; ok {
				kc.next()
				continue
			}
		}
		switch {
		case kc.k == nil && len(old) == 0:
			return l.page(items)
		case kc.k == nil || len(old) > 0 && old[0].Key < string(kc.k):
			items = append(items, old[0])
			old = old[1:]
		default:
			kv, err := kc.keyValue()
			if err != nil {
				return nil, false, err
			}
			items = append(items, kv)
			kc.next()
		}
	}
	return l.page(items)
}

// changedSince returns, for every key in the page range written after l.rev,
// its first log record after l.rev.
func (l *lister) changedSince() (map[string]change, error) {
	changed := map[string]change{}
	c := l.tx.Bucket(bucketLog).Cursor()
	for k, v := c.Seek(revKey(l.rev + 1)); k != nil; k, v = c.Next() {
		ch, err := decodeChange(v)
		if err != nil {
			return nil, err
		}
		if _, seen := changed[ch.key]; seen || !l.wanted(ch.key) {
			continue
		}
		changed[ch.key] = ch
	}
	return changed, nil
}

// before returns key's version at l.rev, given its first write after l.rev;
// false if it did not exist then.
func (l *lister) before(key string, ch change) (store.KeyValue, bool, error) {
	switch ch.typ {
	case store.Created:
		return store.KeyValue{}, false, nil
	case store.Deleted:
		return store.KeyValue{Key: key, Value: bytes.Clone(ch.value), CreateRevision: ch.createRev, ModRevision: ch.prevModRev}, true, nil
	case store.Updated:
		b := l.tx.Bucket(bucketLog).Get(revKey(ch.prevModRev))
		if b == nil {
			return store.KeyValue{}, false, fmt.Errorf("%w: log record %d of %q missing", errCorrupt, ch.prevModRev, key)
		}
		prev, err := decodeChange(b)
		if err != nil {
			return store.KeyValue{}, false, err
		}
		return store.KeyValue{Key: key, Value: bytes.Clone(prev.value), CreateRevision: ch.createRev, ModRevision: ch.prevModRev}, true, nil
	}
	return store.KeyValue{}, false, fmt.Errorf("%w: event type %d", errCorrupt, ch.typ)
}
