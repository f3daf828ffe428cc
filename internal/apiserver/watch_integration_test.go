package apiserver

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// watchDeadline bounds every wait for a watch event.
const watchDeadline = 10 * time.Second

// cmEvent is what the tests compare of a ConfigMap watch event.
type cmEvent struct {
	Type watch.EventType
	Name string
	Data string // data["k"]
	RV   string
}

// nextEvents reads n events from w, failing the test at the deadline or
// when the watch ends early.
func nextEvents(t *testing.T, w watch.Interface, n int) []watch.Event {
	t.Helper()
	deadline := time.NewTimer(watchDeadline)
	defer deadline.Stop()
	var out []watch.Event
	for len(out) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch ended after %d of %d events: %v", len(out), n, out)
			}
			out = append(out, ev)
		case <-deadline.C:
			t.Fatalf("no event within %v after %d of %d events", watchDeadline, len(out), n)
		}
	}
	return out
}

// cmEvents summarises ConfigMap events; rv says whether to keep resourceVersions.
func cmEvents(t *testing.T, evs []watch.Event, rv bool) []cmEvent {
	t.Helper()
	var out []cmEvent
	for _, ev := range evs {
		cm, ok := ev.Object.(*corev1.ConfigMap)
		if !ok {
			t.Fatalf("%s event carries %T, want *ConfigMap: %+v", ev.Type, ev.Object, ev.Object)
		}
		e := cmEvent{Type: ev.Type, Name: cm.Name, Data: cm.Data["k"]}
		if rv {
			e.RV = cm.ResourceVersion
		}
		out = append(out, e)
	}
	return out
}

func TestWatchEvents(t *testing.T) {
	ts := startTestServer(t)
	ctx := context.Background()
	ns := ts.namespace(t, "watch")
	for _, c := range []struct {
		name string
		cs   *kubernetes.Clientset
	}{
		{"json", ts.clientset(t)},
		{"protobuf", ts.protoClientset(t)},
	} {
		t.Run(c.name, func(t *testing.T) {
			cms := c.cs.CoreV1().ConfigMaps(ns)
			l, err := cms.List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: l.ResourceVersion})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()

			name := "obj-" + c.name
			created, err := cms.Create(ctx, testConfigMap(name, nil), metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			created.Data["k"] = "changed"
			updated, err := cms.Update(ctx, created, metav1.UpdateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := cms.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			got := cmEvents(t, nextEvents(t, w, 3), true)
			want := []cmEvent{
				{watch.Added, name, "v", created.ResourceVersion},
				{watch.Modified, name, "changed", updated.ResourceVersion},
				{watch.Deleted, name, "changed", got[2].RV},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			// The DELETED event carries the revision of the deletion.
			del, _ := strconv.ParseInt(got[2].RV, 10, 64)
			upd, _ := strconv.ParseInt(updated.ResourceVersion, 10, 64)
			if del <= upd {
				t.Errorf("DELETED at resourceVersion %d, not after the update at %d", del, upd)
			}
		})
	}

	t.Run("protobuf stream content type", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, ts.url+"/api/v1/namespaces/"+ns+"/configmaps?watch=true&timeoutSeconds=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "application/vnd.kubernetes.protobuf;stream=watch")
		resp, err := ts.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "application/vnd.kubernetes.protobuf;stream=watch" {
			t.Errorf("protobuf watch answered %d %q", resp.StatusCode, ct)
		}
	})
}

func TestWatchResume(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	ctx := context.Background()
	ns := ts.namespace(t, "resume")
	cms := cs.CoreV1().ConfigMaps(ns)

	a, err := cms.Create(ctx, testConfigMap("a", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a.Data["k"] = "a2"
	a2, err := cms.Update(ctx, a, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := cms.Create(ctx, testConfigMap("b", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Writes elsewhere are not replayed to this watch.
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: a2.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// A live event after the replay, with no gap and no repeat.
	if _, err := cms.Create(ctx, testConfigMap("c", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got := cmEvents(t, nextEvents(t, w, 3), false)
	want := []cmEvent{
		{Type: watch.Added, Name: "b", Data: "v"},
		{Type: watch.Deleted, Name: "a", Data: "a2"},
		{Type: watch.Added, Name: "c", Data: "v"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events after %s (-want +got):\n%s", a2.ResourceVersion, diff)
	}

	// Resuming from the last event's resourceVersion replays nothing.
	w2, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: b.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	if got := cmEvents(t, nextEvents(t, w2, 2), false); got[0].Name != "a" || got[1].Name != "c" {
		t.Errorf("events after %s: %+v, want DELETED a, ADDED c", b.ResourceVersion, got)
	}
}

func TestWatchInitialState(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	ctx := context.Background()
	ns := ts.namespace(t, "initial")
	cms := cs.CoreV1().ConfigMaps(ns)
	for _, name := range []string{"a", "b"} {
		if _, err := cms.Create(ctx, testConfigMap(name, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	for _, rv := range []string{"", "0"} {
		t.Run("resourceVersion="+rv, func(t *testing.T) {
			w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			got := cmEvents(t, nextEvents(t, w, 2), false)
			want := []cmEvent{{Type: watch.Added, Name: "a", Data: "v"}, {Type: watch.Added, Name: "b", Data: "v"}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("initial events (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("watch-list", func(t *testing.T) {
		for _, c := range []struct {
			name string
			cs   *kubernetes.Clientset
		}{{"json", cs}, {"protobuf", ts.protoClientset(t)}} {
			w, err := c.cs.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{
				SendInitialEvents:    ptr.To(true),
				AllowWatchBookmarks:  true,
				ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
			})
			if err != nil {
				t.Fatal(err)
			}
			evs := nextEvents(t, w, 3)
			want := []cmEvent{{Type: watch.Added, Name: "a", Data: "v"}, {Type: watch.Added, Name: "b", Data: "v"}}
			if diff := cmp.Diff(want, cmEvents(t, evs[:2], false)); diff != "" {
				t.Errorf("%s: initial events (-want +got):\n%s", c.name, diff)
			}
			bm := evs[2]
			if bm.Type != watch.Bookmark {
				t.Fatalf("%s: third event is %s, want BOOKMARK", c.name, bm.Type)
			}
			obj, ok := bm.Object.(*corev1.ConfigMap)
			if !ok {
				t.Fatalf("%s: bookmark carries %T", c.name, bm.Object)
			}
			if obj.Annotations[metav1.InitialEventsAnnotationKey] != "true" {
				t.Errorf("%s: bookmark annotations %v, want %s: \"true\"", c.name, obj.Annotations, metav1.InitialEventsAnnotationKey)
			}
			if obj.ResourceVersion == "" {
				t.Errorf("%s: bookmark without resourceVersion", c.name)
			}
			// Live events follow.
			name := "live-" + c.name
			if _, err := cms.Create(ctx, testConfigMap(name, nil), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if got := cmEvents(t, nextEvents(t, w, 1), false); got[0] != (cmEvent{Type: watch.Added, Name: name, Data: "v"}) {
				t.Errorf("%s: live event %+v", c.name, got[0])
			}
			w.Stop()
			if err := cms.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("watch-list needs bookmarks", func(t *testing.T) {
		_, err := cms.Watch(ctx, metav1.ListOptions{SendInitialEvents: ptr.To(true), ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
		if !apierrors.IsBadRequest(err) && !apierrors.IsInvalid(err) {
			t.Errorf("sendInitialEvents without allowWatchBookmarks: err = %v, want 400 or 422", err)
		}
	})
}

func TestWatchSelectors(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	ctx := context.Background()
	ns := ts.namespace(t, "wsel")
	cms := cs.CoreV1().ConfigMaps(ns)
	l, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("label selector", func(t *testing.T) {
		w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: l.ResourceVersion, LabelSelector: "tier=web"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		x, err := cms.Create(ctx, testConfigMap("x", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		x.Labels = map[string]string{"tier": "web"} // starts matching
		if x, err = cms.Update(ctx, x, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		x.Data["k"] = "still-web"
		if x, err = cms.Update(ctx, x, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		x.Labels["tier"] = "db" // stops matching
		stopped, err := cms.Update(ctx, x, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		stopped.Data["k"] = "db-only"
		if _, err = cms.Update(ctx, stopped, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cms.Create(ctx, testConfigMap("y", map[string]string{"tier": "web"}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cms.Delete(ctx, "y", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		evs := nextEvents(t, w, 5)
		got := cmEvents(t, evs, false)
		want := []cmEvent{
			{Type: watch.Added, Name: "x", Data: "v"},
			{Type: watch.Modified, Name: "x", Data: "still-web"},
			{Type: watch.Deleted, Name: "x", Data: "still-web"},
			{Type: watch.Added, Name: "y", Data: "v"},
			{Type: watch.Deleted, Name: "y", Data: "v"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		// The DELETED for an object that stops matching carries the
		// revision of the change that made it stop.
		if rv := evs[2].Object.(*corev1.ConfigMap).ResourceVersion; rv != stopped.ResourceVersion {
			t.Errorf("DELETED x at resourceVersion %s, want %s", rv, stopped.ResourceVersion)
		}
	})

	t.Run("field selector on name", func(t *testing.T) {
		w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: l.ResourceVersion, FieldSelector: "metadata.name=y"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		got := cmEvents(t, nextEvents(t, w, 2), false)
		want := []cmEvent{{Type: watch.Added, Name: "y", Data: "v"}, {Type: watch.Deleted, Name: "y", Data: "v"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}

func TestWatchTimeout(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	w, err := cs.CoreV1().ConfigMaps("default").Watch(context.Background(), metav1.ListOptions{TimeoutSeconds: ptr.To[int64](1)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	deadline := time.NewTimer(watchDeadline)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return
			}
			t.Errorf("unexpected event %s", ev.Type)
		case <-deadline.C:
			t.Fatalf("watch with timeoutSeconds=1 still open after %v", watchDeadline)
		}
	}
}

// TestWatchTooOld restarts the server on the same store: the new watch
// cache starts at the store's revision, so a watch resuming from before it
// cannot be served and must get 410 Expired, which makes reflectors relist.
// (Compacting the store does not shorten the watch cache's history, and
// filling its 100 000-event ring would take too long for a unit test.)
func TestWatchTooOld(t *testing.T) {
	dir := t.TempDir()
	ts := startTestServerIn(t, dir)
	ctx := context.Background()
	ns := ts.namespace(t, "old")
	cms := ts.clientset(t).CoreV1().ConfigMaps(ns)
	old, err := cms.Create(ctx, testConfigMap("a", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	last, err := cms.Create(ctx, testConfigMap("b", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ts.stop()

	ts = startTestServerIn(t, dir)
	cms = ts.clientset(t).CoreV1().ConfigMaps(ns)
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: old.ResourceVersion})
	if err == nil {
		// Upstream's watch cache answers 200 and an ERROR event; clients
		// handle both forms.
		ev := nextEvents(t, w, 1)[0]
		w.Stop()
		if ev.Type != watch.Error {
			t.Fatalf("watch from %s after restart: first event %s, want 410", old.ResourceVersion, ev.Type)
		}
		err = apierrors.FromObject(ev.Object)
	}
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("watch from %s after restart: err = %v, want 410 Expired", old.ResourceVersion, err)
	}
	if apierrors.ReasonForError(err) != metav1.StatusReasonExpired {
		t.Errorf("reason %q, want Expired", apierrors.ReasonForError(err))
	}

	// The newest revision is still good.
	w, err = cms.Watch(ctx, metav1.ListOptions{ResourceVersion: last.ResourceVersion})
	if err != nil {
		t.Fatalf("watch from the current revision %s after restart: %v", last.ResourceVersion, err)
	}
	defer w.Stop()
	if _, err := cms.Create(ctx, testConfigMap("c", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := cmEvents(t, nextEvents(t, w, 1), false); got[0].Name != "c" {
		t.Errorf("event %+v, want ADDED c", got[0])
	}
}

// TestInformer runs a client-go shared informer, as every controller does.
func TestInformer(t *testing.T) {
	ts := startTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range []struct {
		name string
		cs   *kubernetes.Clientset
	}{{"json", ts.clientset(t)}, {"protobuf", ts.protoClientset(t)}} {
		t.Run(c.name, func(t *testing.T) {
			ns := ts.namespace(t, "inf-"+c.name)
			cms := c.cs.CoreV1().ConfigMaps(ns)
			if _, err := cms.Create(ctx, testConfigMap("before", nil), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			factory := informers.NewSharedInformerFactoryWithOptions(c.cs, 0, informers.WithNamespace(ns))
			inf := factory.Core().V1().ConfigMaps()
			added := make(chan string, 10)
			if _, err := inf.Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
				AddFunc: func(obj any) { added <- obj.(*corev1.ConfigMap).Name },
			}); err != nil {
				t.Fatal(err)
			}
			ictx, stop := context.WithCancel(ctx)
			factory.Start(ictx.Done())
			defer func() { stop(); factory.Shutdown() }()
			for typ, ok := range factory.WaitForCacheSync(ictx.Done()) {
				if !ok {
					t.Fatalf("informer for %v did not sync", typ)
				}
			}
			if _, err := inf.Lister().ConfigMaps(ns).Get("before"); err != nil {
				t.Errorf("lister after sync: %v", err)
			}
			if _, err := cms.Create(ctx, testConfigMap("after", nil), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			var got []string
			for len(got) < 2 {
				select {
				case n := <-added:
					got = append(got, n)
				case <-ctx.Done():
					t.Fatalf("informer saw %v, want before and after", got)
				}
			}
			if diff := cmp.Diff([]string{"before", "after"}, got); diff != "" {
				t.Errorf("informer adds (-want +got):\n%s", diff)
			}
		})
	}
}
