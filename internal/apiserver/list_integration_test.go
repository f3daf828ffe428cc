package apiserver

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// configMapNames returns the names of a list's items, in order.
func configMapNames(l *corev1.ConfigMapList) []string {
	out := []string{}
	for _, i := range l.Items {
		out = append(out, i.Name)
	}
	return out
}

func TestListSelectors(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	ctx := context.Background()
	ns := ts.namespace(t, "sel")
	other := ts.namespace(t, "sel-other")
	for _, c := range []struct {
		ns, name string
		labels   map[string]string
	}{
		{ns, "a", map[string]string{"tier": "web", "env": "prod"}},
		{ns, "b", map[string]string{"tier": "web", "env": "dev"}},
		{ns, "c", map[string]string{"tier": "db"}},
		{ns, "d", nil},
		{other, "a", map[string]string{"tier": "web"}},
	} {
		if _, err := cs.CoreV1().ConfigMaps(c.ns).Create(ctx, testConfigMap(c.name, c.labels), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name      string
		namespace string
		opts      metav1.ListOptions
		want      []string
	}{
		{"all", ns, metav1.ListOptions{}, []string{"a", "b", "c", "d"}},
		{"label equality", ns, metav1.ListOptions{LabelSelector: "tier=web"}, []string{"a", "b"}},
		{"label set", ns, metav1.ListOptions{LabelSelector: "tier in (web,db),env!=prod"}, []string{"b", "c"}},
		{"label absent", ns, metav1.ListOptions{LabelSelector: "!tier"}, []string{"d"}},
		{"label exists", ns, metav1.ListOptions{LabelSelector: "env"}, []string{"a", "b"}},
		{"field name", ns, metav1.ListOptions{FieldSelector: "metadata.name=c"}, []string{"c"}},
		{"field name not", ns, metav1.ListOptions{FieldSelector: "metadata.name!=c"}, []string{"a", "b", "d"}},
		{"field and label", ns, metav1.ListOptions{FieldSelector: "metadata.name!=a", LabelSelector: "tier=web"}, []string{"b"}},
		{"all namespaces by namespace field", "", metav1.ListOptions{FieldSelector: "metadata.namespace=" + other}, []string{"a"}},
		// In key order: "sel-other/" sorts before "sel/".
		{"all namespaces by label", "", metav1.ListOptions{LabelSelector: "tier=web"}, []string{"a", "a", "b"}},
		{"cache read by label", ns, metav1.ListOptions{LabelSelector: "tier=web", ResourceVersion: "0"}, []string{"a", "b"}},
		{"paged by label", ns, metav1.ListOptions{LabelSelector: "tier", Limit: 5}, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := cs.CoreV1().ConfigMaps(tt.namespace).List(ctx, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, configMapNames(l)); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("pod fields", func(t *testing.T) {
		for _, p := range []struct{ name, node string }{{"on-n1", "n1"}, {"on-n2", "n2"}, {"unscheduled", ""}} {
			pod := testPod(p.name)
			pod.Spec.NodeName = p.node
			if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for sel, want := range map[string][]string{
			"spec.nodeName=n1":                     {"on-n1"},
			"spec.nodeName=":                       {"unscheduled"},
			"status.phase=Pending,spec.nodeName!=": {"on-n1", "on-n2"},
		} {
			l, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: sel})
			if err != nil {
				t.Fatalf("%s: %v", sel, err)
			}
			var got []string
			for _, p := range l.Items {
				got = append(got, p.Name)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", sel, diff)
			}
		}
	})

	t.Run("unsupported field is 400", func(t *testing.T) {
		_, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{FieldSelector: "spec.foo=bar"})
		wantStatus(t, err, http.StatusBadRequest, metav1.StatusReasonBadRequest, "field label not supported: spec.foo")
		_, err = cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "status.foo=bar"})
		wantStatus(t, err, http.StatusBadRequest, metav1.StatusReasonBadRequest, "field label not supported: status.foo")
	})

	t.Run("malformed selectors are 400", func(t *testing.T) {
		for _, opts := range []metav1.ListOptions{
			{LabelSelector: "tier in (web"},
			{LabelSelector: "a=b=c"},
			{FieldSelector: "metadata.name"},
		} {
			if _, err := cs.CoreV1().ConfigMaps(ns).List(ctx, opts); !apierrors.IsBadRequest(err) {
				t.Errorf("%+v: err = %v, want BadRequest", opts, err)
			}
		}
	})
}

func TestListPaging(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	ctx := context.Background()
	ns := ts.namespace(t, "paging")
	cms := cs.CoreV1().ConfigMaps(ns)
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		if _, err := cms.Create(ctx, testConfigMap(name, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("one resourceVersion across pages", func(t *testing.T) {
		p1, err := cms.List(ctx, metav1.ListOptions{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"a", "b"}, configMapNames(p1)); diff != "" {
			t.Errorf("page 1 (-want +got):\n%s", diff)
		}
		if p1.Continue == "" {
			t.Fatal("page 1 has no continue token")
		}
		rv := p1.ResourceVersion

		c, err := cms.Get(ctx, "c", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Changes between pages do not show on later pages.
		if _, err := cms.Create(ctx, testConfigMap("bb", nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cms.Delete(ctx, "d", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		c.Data = map[string]string{"k": "new"}
		if _, err := cms.Update(ctx, c, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}

		p2, err := cms.List(ctx, metav1.ListOptions{Limit: 2, Continue: p1.Continue})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"c", "d"}, configMapNames(p2)); diff != "" {
			t.Errorf("page 2 (-want +got):\n%s", diff)
		}
		if len(p2.Items) > 0 && p2.Items[0].Data["k"] != "v" {
			t.Errorf("page 2 shows c as %v, want its state at resourceVersion %s", p2.Items[0].Data, rv)
		}
		p3, err := cms.List(ctx, metav1.ListOptions{Limit: 2, Continue: p2.Continue})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"e"}, configMapNames(p3)); diff != "" {
			t.Errorf("page 3 (-want +got):\n%s", diff)
		}
		if p3.Continue != "" {
			t.Errorf("last page has continue %q", p3.Continue)
		}
		if p2.ResourceVersion != rv || p3.ResourceVersion != rv {
			t.Errorf("page resourceVersions %s, %s, %s; want all equal", rv, p2.ResourceVersion, p3.ResourceVersion)
		}

		// A new list sees the changes.
		all, err := cms.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"a", "b", "bb", "c", "e"}, configMapNames(all)); diff != "" {
			t.Errorf("fresh list (-want +got):\n%s", diff)
		}
	})

	t.Run("exact page size leaves no continue", func(t *testing.T) {
		l, err := cms.List(ctx, metav1.ListOptions{Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) != 5 || l.Continue != "" {
			t.Errorf("limit 5 over 5 objects: %d items, continue %q", len(l.Items), l.Continue)
		}
	})

	t.Run("invalid continue and combinations", func(t *testing.T) {
		_, err := cms.List(ctx, metav1.ListOptions{Limit: 2, Continue: "not-a-token"})
		if !apierrors.IsBadRequest(err) {
			t.Errorf("garbage continue: err = %v, want BadRequest", err)
		}
		p1, err := cms.List(ctx, metav1.ListOptions{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		_, err = cms.List(ctx, metav1.ListOptions{Limit: 2, Continue: p1.Continue, ResourceVersion: p1.ResourceVersion})
		if !apierrors.IsBadRequest(err) {
			t.Errorf("continue with resourceVersion: err = %v, want BadRequest", err)
		}
		_, err = cms.List(ctx, metav1.ListOptions{ResourceVersionMatch: metav1.ResourceVersionMatchExact})
		if !apierrors.IsBadRequest(err) {
			t.Errorf("resourceVersionMatch without resourceVersion: err = %v, want BadRequest", err)
		}
	})

	t.Run("continue after compaction is 410 Expired", func(t *testing.T) {
		p1, err := cms.List(ctx, metav1.ListOptions{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cms.Create(ctx, testConfigMap("after", nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		cur, _, err := ts.store.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ts.store.Compact(ctx, cur); err != nil {
			t.Fatal(err)
		}
		_, err = cms.List(ctx, metav1.ListOptions{Limit: 2, Continue: p1.Continue})
		st := wantStatus(t, err, http.StatusGone, metav1.StatusReasonExpired, expiredContinueMessage)

		// The message promises a continue token for the rest of the list,
		// at the current state, as upstream sends it.
		if st.Continue == "" {
			t.Fatal("410 for an expired continue carries no continue token")
		}
		rest, err := cms.List(ctx, metav1.ListOptions{Limit: 10, Continue: st.Continue})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"bb", "c", "e"}, configMapNames(rest)); diff != "" {
			t.Errorf("list with the inconsistent continue token (-want +got):\n%s", diff)
		}
	})
}

func TestListResourceVersions(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	ctx := context.Background()
	ns := ts.namespace(t, "rv")
	cms := cs.CoreV1().ConfigMaps(ns)

	v1, err := cms.Create(ctx, testConfigMap("x", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v2 := v1.DeepCopy()
	v2.Data = map[string]string{"k": "second"}
	if v2, err = cms.Update(ctx, v2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, testConfigMap("y", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("resourceVersion=0 is served from the cache", func(t *testing.T) {
		// rv=0 may be any state: first let the cache reach the last write.
		if _, err := cms.List(ctx, metav1.ListOptions{}); err != nil {
			t.Fatal(err)
		}
		gets, lists := ts.reads.gets.Load(), ts.reads.lists.Load()
		l, err := cms.List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"x", "y"}, configMapNames(l)); diff != "" {
			t.Errorf("names (-want +got):\n%s", diff)
		}
		got, err := cms.Get(ctx, "x", metav1.GetOptions{ResourceVersion: "0"})
		if err != nil {
			t.Fatal(err)
		}
		if got.Data["k"] != "second" {
			t.Errorf("cached get: data %v", got.Data)
		}
		if g, ls := ts.reads.gets.Load()-gets, ts.reads.lists.Load()-lists; g != 0 || ls != 0 {
			t.Errorf("rv=0 list and get made %d store gets and %d store lists, want none", g, ls)
		}
		lrv, err := strconv.ParseInt(l.ResourceVersion, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range l.Items {
			if irv, _ := strconv.ParseInt(i.ResourceVersion, 10, 64); irv > lrv {
				t.Errorf("item %s has resourceVersion %d beyond the list's %d", i.Name, irv, lrv)
			}
		}
	})

	t.Run("consistent list without store lists", func(t *testing.T) {
		lists := ts.reads.lists.Load()
		l, err := cms.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) != 2 {
			t.Errorf("%d items, want 2", len(l.Items))
		}
		if n := ts.reads.lists.Load() - lists; n != 0 {
			t.Errorf("consistent list made %d store lists, want them served by the watch cache", n)
		}
	})

	t.Run("Exact at an older revision", func(t *testing.T) {
		l, err := cms.List(ctx, metav1.ListOptions{ResourceVersion: v1.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"x"}, configMapNames(l)); diff != "" {
			t.Fatalf("names at %s (-want +got):\n%s", v1.ResourceVersion, diff)
		}
		if l.Items[0].Data["k"] != "v" || l.Items[0].ResourceVersion != v1.ResourceVersion {
			t.Errorf("x at %s: data %v rv %s, want the first version", v1.ResourceVersion, l.Items[0].Data, l.Items[0].ResourceVersion)
		}
		if l.ResourceVersion != v1.ResourceVersion {
			t.Errorf("list resourceVersion %s, want %s", l.ResourceVersion, v1.ResourceVersion)
		}
	})

	t.Run("NotOlderThan", func(t *testing.T) {
		l, err := cms.List(ctx, metav1.ListOptions{ResourceVersion: v2.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
		if err != nil {
			t.Fatal(err)
		}
		lrv, _ := strconv.ParseInt(l.ResourceVersion, 10, 64)
		want, _ := strconv.ParseInt(v2.ResourceVersion, 10, 64)
		if lrv < want || len(l.Items) != 2 {
			t.Errorf("NotOlderThan %d: list at %d with %d items", want, lrv, len(l.Items))
		}
	})

	t.Run("Exact at a compacted revision is 410", func(t *testing.T) {
		cur, _, err := ts.store.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ts.store.Compact(ctx, cur); err != nil {
			t.Fatal(err)
		}
		_, err = cms.List(ctx, metav1.ListOptions{ResourceVersion: v1.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
		if !apierrors.IsResourceExpired(err) {
			t.Errorf("err = %v, want 410 Expired", err)
		}
	})

	t.Run("future resourceVersion is 504 too large", func(t *testing.T) {
		cur, _, err := ts.store.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cms.List(ctx, metav1.ListOptions{ResourceVersion: strconv.FormatInt(cur+1000, 10)})
		if !apierrors.HasStatusCause(err, metav1.CauseTypeResourceVersionTooLarge) || !apierrors.IsTimeout(err) {
			t.Errorf("err = %v, want Too large resource version", err)
		}
	})

	t.Run("invalid resourceVersion is 400", func(t *testing.T) {
		_, err := cms.List(ctx, metav1.ListOptions{ResourceVersion: "abc"})
		if !apierrors.IsBadRequest(err) {
			t.Errorf("err = %v, want BadRequest", err)
		}
	})
}
