package apiserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// watcherBuffer is how many events a watcher may lag behind before it is
// ended (its client re-watches from its last resourceVersion).
const watcherBuffer = 1024

// watcher is one client watch registered with the cache.
type watcher struct {
	res    *resource
	prefix string
	ch     chan cacheEvent
	done   chan struct{}
	// stopped is guarded by cache.mu.
	stopped bool
}

// sendLocked queues ev; a watcher that is full is ended rather than waited
// for. The caller holds cache.mu for writing.
func (w *watcher) sendLocked(ev cacheEvent) {
	if w.stopped || !strings.HasPrefix(ev.obj.key, w.prefix) {
		return
	}
	select {
	case w.ch <- ev:
	default:
		w.stopLocked()
	}
}

func (w *watcher) stopLocked() {
	if !w.stopped {
		w.stopped = true
		close(w.done)
	}
}

// watchStart says where a watch begins.
type watchStart struct {
	// initial sends the current objects as ADDED first.
	initial bool
	// minRev: the cache must reach it before the initial state is taken.
	minRev int64
	// after: with initial false, replay history events after this revision.
	after int64
}

// register adds a watcher and returns the events it must send first: the
// current state or the history after start.after, with no gap before the
// live events that follow on the channel, and the revision they reach.
func (c *cache) register(ctx context.Context, r *resource, prefix string, start watchStart) (*watcher, []cacheEvent, int64, error) {
	c.mu.RLock()
	err := c.waitForLocked(ctx, max(start.minRev, start.after))
	c.mu.RUnlock()
	if err != nil {
		return nil, nil, 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &watcher{res: r, prefix: prefix, ch: make(chan cacheEvent, watcherBuffer), done: make(chan struct{})}
	var first []cacheEvent
	if c.items[r] == nil {
		return nil, nil, 0, apierrors.NewNotFound(r.GroupResource(), "")
	}
	if start.initial {
		c.items[r].AscendGreaterOrEqual(&cachedObject{key: prefix}, func(o *cachedObject) bool {
			if !strings.HasPrefix(o.key, prefix) {
				return false
			}
			first = append(first, cacheEvent{typ: watch.Added, res: r, obj: o, rev: o.rev})
			return true
		})
	} else {
		if start.after < c.minRev {
			return nil, nil, 0, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", start.after, c.minRev))
		}
		n := len(c.history)
		for i := range n {
			ev := c.history[(c.histNext+i)%n]
			if ev.rev > start.after && ev.res == r && strings.HasPrefix(ev.obj.key, prefix) {
				first = append(first, ev)
			}
		}
	}
	c.watchers[w] = struct{}{}
	return w, first, c.rev, nil
}

func (c *cache) unregister(w *watcher) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w.stopLocked()
	delete(c.watchers, w)
}

// idleRevision returns the cache revision if w has no queued events, for a
// bookmark; ok is false if events are still queued.
func (c *cache) idleRevision(w *watcher) (int64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev, len(w.ch) == 0
}

func (s *Server) handleWatch(w http.ResponseWriter, r *http.Request, req *request) error {
	res, in, q := req.res, req.info, req.query
	if in.Name != "" {
		q.Set("fieldSelector", joinSelector(q.Get("fieldSelector"), "metadata.name="+in.Name))
	}
	sel, err := s.selectors(req)
	if err != nil {
		return err
	}
	rv := q.Get("resourceVersion")
	bookmarks := isTrue(q.Get("allowWatchBookmarks"))
	sendInitial := q.Get("sendInitialEvents") == "true"
	var start watchStart
	switch {
	case sendInitial:
		if !bookmarks || q.Get("resourceVersionMatch") != string(metav1.ResourceVersionMatchNotOlderThan) {
			return apierrors.NewBadRequest("sendInitialEvents requires allowWatchBookmarks=true and resourceVersionMatch=NotOlderThan")
		}
		start.initial = true
		switch rv {
		case "":
			if start.minRev, _, err = s.store.Revision(r.Context()); err != nil {
				return err
			}
		case "0":
		default:
			if start.minRev, err = parseRV(rv); err != nil {
				return err
			}
		}
	case q.Has("sendInitialEvents") && q.Get("sendInitialEvents") != "false":
		return badRequest("sendInitialEvents: invalid value %q", q.Get("sendInitialEvents"))
	case rv == "" || rv == "0":
		start.initial = true
	default:
		if start.after, err = parseRV(rv); err != nil {
			return err
		}
	}
	timeout := time.Duration(1800+rand.IntN(1800)) * time.Second
	if v := q.Get("timeoutSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return badRequest("invalid timeoutSeconds: %q", v)
		}
		timeout = time.Duration(n) * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	wt, first, firstRev, err := s.cache.register(ctx, res.storageResource(), res.listPrefix(in.Namespace), start)
	if err != nil {
		return err
	}
	defer s.cache.unregister(wt)

	enc, err := s.newWatchEncoder(req)
	if err != nil {
		return err
	}
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", enc.contentType)
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	send := func(ev cacheEvent) error {
		ev.obj, ev.prev, ev.res = res.view(ev.obj), res.view(ev.prev), res
		typ, obj, ok := filterEvent(ev, sel)
		if !ok {
			return nil
		}
		b, err := enc.event(typ, obj)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	for _, ev := range first {
		if err := send(ev); err != nil {
			return nil
		}
	}
	if sendInitial {
		b, err := enc.bookmark(firstRev, true)
		if err != nil || func() error { _, err := w.Write(b); return err }() != nil {
			return nil
		}
	}
	flush()

	tick := time.NewTicker(s.cfg.BookmarkInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wt.done:
			// Ended by the cache: drain what was queued, then close so
			// the client re-watches from its last resourceVersion.
			for {
				select {
				case ev := <-wt.ch:
					if send(ev) != nil {
						return nil
					}
				default:
					flush()
					return nil
				}
			}
		case ev := <-wt.ch:
			if send(ev) != nil {
				return nil
			}
			for len(wt.ch) > 0 {
				if send(<-wt.ch) != nil {
					return nil
				}
			}
			flush()
		case <-tick.C:
			if !bookmarks {
				continue
			}
			if rev, idle := s.cache.idleRevision(wt); idle {
				b, err := enc.bookmark(rev, false)
				if err != nil {
					return nil
				}
				if _, err := w.Write(b); err != nil {
					return nil
				}
				flush()
			}
		}
	}
}

func joinSelector(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}

// filterEvent turns a cache event into what a watcher with sel sees, as
// upstream: an object that starts matching is ADDED, one that stops
// matching is DELETED (its previous state at the event's revision).
func filterEvent(ev cacheEvent, sel selector) (watch.EventType, *cachedObject, bool) {
	if sel.everything() {
		return ev.typ, ev.obj, true
	}
	cur := ev.typ != watch.Deleted && sel.matches(ev.obj)
	old := false
	switch ev.typ {
	case watch.Modified:
		old = ev.prev != nil && sel.matches(ev.prev)
	case watch.Deleted:
		old = sel.matches(ev.obj)
	}
	switch {
	case cur && !old:
		return watch.Added, ev.obj, true
	case cur && old:
		return watch.Modified, ev.obj, true
	case !cur && old && ev.typ == watch.Deleted:
		return watch.Deleted, ev.obj, true
	case !cur && old:
		prev := ev.prev.obj.DeepCopyObject()
		if acc, err := meta.Accessor(prev); err == nil {
			acc.SetResourceVersion(strconv.FormatInt(ev.rev, 10))
		}
		return watch.Deleted, ev.res.newCachedObject(ev.prev.key, prev, ev.rev), true
	}
	return "", nil, false
}

// watchEncoder writes watch events in one negotiated format.
type watchEncoder struct {
	s           *Server
	req         *request
	contentType string
	protobuf    bool
}

func (s *Server) newWatchEncoder(req *request) (*watchEncoder, error) {
	e := &watchEncoder{s: s, req: req, contentType: mediaJSON}
	if req.out.mediaType == mediaProtobuf && req.out.as == "" {
		e.protobuf, e.contentType = true, mediaProtobuf+";stream=watch"
	}
	return e, nil
}

// event encodes one event frame.
func (e *watchEncoder) event(typ watch.EventType, o *cachedObject) ([]byte, error) {
	if e.protobuf {
		msg, err := objectProto(o)
		if err != nil {
			return nil, err
		}
		env, err := protoEnvelope(o.obj.GetObjectKind().GroupVersionKind(), msg)
		if err != nil {
			return nil, err
		}
		return protoWatchFrame(string(typ), env), nil
	}
	var obj []byte
	var err error
	switch e.req.out.as {
	case "Table":
		obj, err = e.encodeJSON(func() (runtime.Object, error) {
			return e.s.table(e.req, []runtime.Object{o.obj}, "", "")
		})
	case "PartialObjectMetadata", "PartialObjectMetadataList":
		obj, err = e.encodeJSON(func() (runtime.Object, error) { return partialMetadata(o.obj, e.req.out.asVersion), nil })
	default:
		obj, err = e.s.objectJSON(o)
	}
	if err != nil {
		return nil, err
	}
	return jsonWatchFrame(string(typ), obj), nil
}

func (e *watchEncoder) encodeJSON(build func() (runtime.Object, error)) ([]byte, error) {
	obj, err := build()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := e.s.jsonSerializer.Encode(obj, &buf); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// bookmark encodes a BOOKMARK event: an object of the resource's kind with
// only its resourceVersion (and the initial-events-end annotation).
func (e *watchEncoder) bookmark(rev int64, initialEnd bool) ([]byte, error) {
	res := e.req.res
	obj := res.newObject()
	obj.GetObjectKind().SetGroupVersionKind(res.gvk)
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	acc.SetResourceVersion(strconv.FormatInt(rev, 10))
	if initialEnd {
		acc.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
	}
	// In the watch's own form: a PartialObjectMetadata for metadata watches.
	return e.event(watch.Bookmark, res.newCachedObject("", obj, rev))
}

func jsonWatchFrame(typ string, obj []byte) []byte {
	t, _ := json.Marshal(typ)
	b := make([]byte, 0, len(obj)+len(t)+24)
	b = append(b, `{"type":`...)
	b = append(b, t...)
	b = append(b, `,"object":`...)
	b = append(b, obj...)
	return append(b, "}\n"...)
}

// protoWatchFrame is a length-prefixed metav1.WatchEvent message
// (type = 1, object = 2 holding a RawExtension whose raw = 1).
func protoWatchFrame(typ string, envelope []byte) []byte {
	var raw []byte
	raw = protowire.AppendTag(raw, 1, protowire.BytesType)
	raw = protowire.AppendBytes(raw, envelope)
	var msg []byte
	msg = protowire.AppendTag(msg, 1, protowire.BytesType)
	msg = protowire.AppendString(msg, typ)
	msg = protowire.AppendTag(msg, 2, protowire.BytesType)
	msg = protowire.AppendBytes(msg, raw)
	frame := make([]byte, 4, 4+len(msg))
	binary.BigEndian.PutUint32(frame, uint32(len(msg)))
	return append(frame, msg...)
}
