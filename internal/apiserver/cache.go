package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/btree"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"berth.dev/berth/internal/store"
)

// historySize is how many recent events (of all resources) the cache keeps
// for watches that resume from a resourceVersion. Each holds its object
// version alive; a client that falls further behind gets 410 Gone and
// lists again, as upstream.
const historySize = 20_000

// cachedObject is one object as the cache holds it: decoded once, with its
// labels and selectable fields, and its encodings made on first use and
// shared by every reader. It is never modified after it is built.
type cachedObject struct {
	key    string
	obj    runtime.Object // resourceVersion set; read-only
	rev    int64
	labels labels.Set
	fields fields.Set
	enc    encodings
}

// cacheEvent is one change of one object.
type cacheEvent struct {
	typ  watch.EventType
	res  *resource
	obj  *cachedObject // for Deleted: the last state
	prev *cachedObject // for Modified and Deleted: the state before
	rev  int64
}

// cache is the API server's watch cache: the current objects of every
// served resource, fed by a single store watch over all of them, and a
// ring of recent events for watches resuming from a resourceVersion. Lists
// and watches are served from it without store reads.
type cache struct {
	store store.Store
	log   *slog.Logger

	mu   sync.RWMutex // guards every field below
	cond *sync.Cond   // on mu.RLocker(); broadcast when rev advances
	// rev is the store revision the cache reflects.
	rev int64
	// minRev is the oldest revision a watch can resume from.
	minRev   int64
	items    map[*resource]*btree.BTreeG[*cachedObject]
	byPrefix map[string]*resource
	// loaded is set once the first load is done: resources added later
	// are listed as they are added.
	loaded   bool
	history  []cacheEvent // ring buffer, len historySize once full
	histNext int          // index of the next write in history
	watchers map[*watcher]struct{}
}

func newCache(s store.Store, log *slog.Logger) *cache {
	c := &cache{store: s, log: log, items: map[*resource]*btree.BTreeG[*cachedObject]{}, byPrefix: map[string]*resource{}, watchers: map[*watcher]struct{}{}}
	c.cond = sync.NewCond(c.mu.RLocker())
	return c
}

func lessObject(a, b *cachedObject) bool { return a.key < b.key }

// add starts caching a resource. Before the first load it only registers
// it; afterwards it lists the resource at the cache's revision, holding
// the lock so that no event for it is missed.
func (c *cache) add(ctx context.Context, r *resource) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := btree.NewG(32, lessObject)
	if c.loaded {
		if err := c.listInto(ctx, r, c.rev, t); err != nil {
			return err
		}
	}
	c.byPrefix[r.prefix] = r
	c.items[r] = t
	r.cache = c
	return nil
}

// remove stops caching a resource and ends its watchers.
func (c *cache) remove(r *resource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byPrefix[r.prefix] == r {
		delete(c.byPrefix, r.prefix)
	}
	delete(c.items, r)
	for w := range c.watchers {
		if w.res == r {
			w.stopLocked()
		}
	}
}

// listInto reads every object of r at rev into t.
func (c *cache) listInto(ctx context.Context, r *resource, rev int64, t *btree.BTreeG[*cachedObject]) error {
	opts := store.ListOptions{Revision: rev, Limit: 10_000}
	for {
		page, err := c.store.List(ctx, r.prefix, opts)
		if err != nil {
			return fmt.Errorf("listing %s: %w", r.prefix, err)
		}
		for _, kv := range page.Items {
			o, err := r.decodeStored(kv)
			if err != nil {
				c.log.Error("undecodable object in store", "key", kv.Key, "err", err)
				continue
			}
			t.ReplaceOrInsert(o)
		}
		if !page.More {
			return nil
		}
		opts.Continue = page.Items[len(page.Items)-1].Key
	}
}

// Run loads every resource and follows the store until ctx ends.
func (c *cache) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := c.load(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			c.log.Error("watch cache load failed", "err", err)
			sleepCtx(ctx, time.Second)
			continue
		}
		err := c.follow(ctx)
		if ctx.Err() != nil {
			break
		}
		c.log.Warn("watch cache reloading", "err", err)
	}
	c.mu.Lock()
	for w := range c.watchers {
		w.stopLocked()
	}
	c.mu.Unlock()
	c.cond.Broadcast()
	return nil
}

// load lists every resource at one revision and replaces the cache content.
// Watchers are ended: their clients re-watch from a resourceVersion.
func (c *cache) load(ctx context.Context) error {
	rev, _, err := c.store.Revision(ctx)
	if err != nil {
		return err
	}
	// The resource set may change while listing: take it under the lock
	// and list again if it did.
	c.mu.RLock()
	resources := make([]*resource, 0, len(c.byPrefix))
	for _, r := range c.byPrefix {
		resources = append(resources, r)
	}
	c.mu.RUnlock()
	loaded := map[*resource]*btree.BTreeG[*cachedObject]{}
	for _, r := range resources {
		t := btree.NewG(32, lessObject)
		if err := c.listInto(ctx, r, rev, t); err != nil {
			return err
		}
		loaded[r] = t
	}
	c.mu.Lock()
	for _, r := range c.byPrefix {
		if loaded[r] == nil {
			t := btree.NewG(32, lessObject)
			if err := c.listInto(ctx, r, rev, t); err != nil {
				c.mu.Unlock()
				return err
			}
			loaded[r] = t
		}
	}
	c.items, c.rev, c.minRev, c.loaded = loaded, rev, rev, true
	c.history, c.histNext = nil, 0
	for w := range c.watchers {
		w.stopLocked()
	}
	c.mu.Unlock()
	c.cond.Broadcast()
	return nil
}

// follow applies store events until the store watch ends.
func (c *cache) follow(ctx context.Context) error {
	c.mu.RLock()
	rev := c.rev
	c.mu.RUnlock()
	for {
		events, err := c.store.Watch(ctx, "/registry/", rev)
		if err != nil {
			return err
		}
		for ev := range events {
			c.apply(ev)
			rev = ev.KV.ModRevision
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The store closed a watch that fell behind: continue from rev.
	}
}

// resourceFor finds the resource a key belongs to by its prefix:
// /registry/<group>/<resource>/.
func (c *cache) resourceFor(key string) *resource {
	n, end := 0, -1
	for i := range len(key) {
		if key[i] == '/' {
			if n++; n == 4 {
				end = i + 1
				break
			}
		}
	}
	if end < 0 {
		return nil
	}
	return c.byPrefix[key[:end]]
}

// apply records one store event and hands it to the watchers.
func (c *cache) apply(ev store.Event) {
	c.mu.RLock()
	r := c.resourceFor(ev.KV.Key)
	c.mu.RUnlock()
	var o *cachedObject
	if r != nil {
		var err error
		if o, err = r.decodeStored(ev.KV); err != nil {
			c.log.Error("undecodable object in store", "key", ev.KV.Key, "err", err)
			r = nil
		}
	}
	c.mu.Lock()
	if r != nil && c.items[r] != nil {
		t := c.items[r]
		ce := cacheEvent{res: r, obj: o, rev: ev.KV.ModRevision}
		if ev.Type == store.Deleted {
			ce.typ = watch.Deleted
			ce.prev, _ = t.Delete(o)
		} else {
			ce.prev, _ = t.ReplaceOrInsert(o)
			ce.typ = watch.Added
			if ce.prev != nil {
				ce.typ = watch.Modified
			}
		}
		c.recordLocked(ce)
		for w := range c.watchers {
			if w.res == r {
				w.sendLocked(ce)
			}
		}
	}
	c.rev = ev.KV.ModRevision
	c.mu.Unlock()
	c.cond.Broadcast()
}

func (c *cache) recordLocked(ev cacheEvent) {
	if len(c.history) < historySize {
		c.history = append(c.history, ev)
		return
	}
	c.minRev = c.history[c.histNext].rev
	c.history[c.histNext] = ev
	c.histNext = (c.histNext + 1) % historySize
}

// errTooLarge: a resourceVersion the cache did not reach in time.
var errTooLarge = errors.New("too large resource version")

// waitForLocked waits, with c.mu read-locked, until the cache reflects rev.
func (c *cache) waitForLocked(ctx context.Context, rev int64) error {
	if c.rev >= rev {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	// Taking the write lock orders this wake-up after Wait has queued us.
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.mu.Unlock() //nolint:staticcheck // an empty critical section is the point
		c.cond.Broadcast()
	})
	defer stop()
	for c.rev < rev {
		if ctx.Err() != nil {
			return errTooLarge
		}
		c.cond.Wait()
	}
	return nil
}

// snapshot returns the objects of r under prefix and the revision they
// reflect, once the cache has reached minRev.
func (c *cache) snapshot(ctx context.Context, r *resource, prefix string, minRev int64) ([]*cachedObject, int64, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if err := c.waitForLocked(ctx, minRev); err != nil {
		return nil, 0, err
	}
	t := c.items[r]
	if t == nil {
		return nil, c.rev, nil
	}
	var out []*cachedObject
	t.AscendGreaterOrEqual(&cachedObject{key: prefix}, func(o *cachedObject) bool {
		if !strings.HasPrefix(o.key, prefix) {
			return false
		}
		out = append(out, o)
		return true
	})
	return out, c.rev, nil
}

// get returns one cached object once the cache has reached minRev.
func (c *cache) get(ctx context.Context, r *resource, key string, minRev int64) (*cachedObject, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if err := c.waitForLocked(ctx, minRev); err != nil {
		return nil, err
	}
	t := c.items[r]
	if t == nil {
		return nil, nil
	}
	o, _ := t.Get(&cachedObject{key: key})
	return o, nil
}

// currentRevision returns the revision the cache reflects.
func (c *cache) currentRevision() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// decodeStored decodes a stored value into a cachedObject with its
// resourceVersion set from the store revision.
func (r *resource) decodeStored(kv store.KeyValue) (*cachedObject, error) {
	obj, err := r.decode(kv.Value)
	if err != nil {
		return nil, err
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	acc.SetResourceVersion(fmt.Sprint(kv.ModRevision))
	return r.newCachedObject(kv.Key, obj, kv.ModRevision), nil
}

func (r *resource) newCachedObject(key string, obj runtime.Object, rev int64) *cachedObject {
	acc, _ := meta.Accessor(obj)
	o := &cachedObject{key: key, obj: obj, rev: rev}
	if acc != nil {
		o.labels = labels.Set(acc.GetLabels())
		o.fields = r.fieldSet(obj, acc.GetName(), acc.GetNamespace())
	}
	return o
}

// fieldSet is the object's selectable fields.
func (r *resource) fieldSet(obj runtime.Object, name, namespace string) fields.Set {
	f := fields.Set{"metadata.name": name}
	if r.Namespaced {
		f["metadata.namespace"] = namespace
	}
	if r.Strategy.Fields != nil {
		for k, v := range r.Strategy.Fields(obj) {
			f[k] = v
		}
	}
	return f
}
