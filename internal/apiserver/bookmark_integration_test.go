package apiserver

import (
	"context"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// TestPeriodicBookmarks: an idle watch that allows bookmarks gets them,
// at a resourceVersion no older than the last event it saw, and a watch
// that does not allow them gets none.
func TestPeriodicBookmarks(t *testing.T) {
	ts := startTestServerWith(t, func(cfg *Config) { cfg.BookmarkInterval = 100 * time.Millisecond })
	c := kubernetes.NewForConfigOrDie(ts.admin)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cms := c.CoreV1().ConfigMaps("default")
	created, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start := "1"
	with, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: start, AllowWatchBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer with.Stop()
	without, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: start})
	if err != nil {
		t.Fatal(err)
	}
	defer without.Stop()

	sawCreate := false
	for ev := range with.ResultChan() {
		cm, ok := ev.Object.(*corev1.ConfigMap)
		if !ok {
			t.Fatalf("event %s with %T", ev.Type, ev.Object)
		}
		if ev.Type == watch.Added && cm.Name == "b" {
			sawCreate = true
			continue
		}
		if ev.Type == watch.Bookmark {
			if !sawCreate {
				t.Fatal("bookmark before the event it follows")
			}
			got, err1 := strconv.ParseInt(cm.ResourceVersion, 10, 64)
			want, err2 := strconv.ParseInt(created.ResourceVersion, 10, 64)
			if err1 != nil || err2 != nil || got < want {
				t.Errorf("bookmark at %s, older than the event at %s", cm.ResourceVersion, created.ResourceVersion)
			}
			break
		}
	}
	if ctx.Err() != nil {
		t.Fatal("no bookmark within the deadline")
	}
	// The same time has passed for the other watch: it has the event, and
	// must have no bookmark queued behind it.
	deadline := time.After(500 * time.Millisecond)
	for {
		select {
		case ev := <-without.ResultChan():
			if ev.Type == watch.Bookmark {
				t.Fatal("bookmark on a watch that did not allow them")
			}
		case <-deadline:
			return
		}
	}
}
