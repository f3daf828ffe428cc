package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	clientfeatures "k8s.io/client-go/features"
	clientfeaturestesting "k8s.io/client-go/features/testing"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// recorder records the requests a client sends and the content types of
// the answers. It is safe for concurrent use.
type recorder struct {
	mu       sync.Mutex // guards requests
	requests []recorded
}

type recorded struct {
	method, contentType string // contentType is the request's
	url                 *url.URL
	answerType          string // the response's Content-Type
}

// wrap is a rest.Config.WrapTransport.
func (r *recorder) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		rec := recorded{method: req.Method, url: req.URL, contentType: req.Header.Get("Content-Type")}
		if err == nil {
			rec.answerType = resp.Header.Get("Content-Type")
		}
		r.mu.Lock()
		r.requests = append(r.requests, rec)
		r.mu.Unlock()
		return resp, err
	})
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.requests...)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// createNamespace creates the namespace name.
func createNamespace(t *testing.T, cs kubernetes.Interface, name string) string {
	t.Helper()
	_, err := cs.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	return name
}

// objectClient is what the typed client of every kind offers.
type objectClient[T, L runtime.Object] interface {
	Create(context.Context, T, metav1.CreateOptions) (T, error)
	Get(context.Context, string, metav1.GetOptions) (T, error)
	Update(context.Context, T, metav1.UpdateOptions) (T, error)
	List(context.Context, metav1.ListOptions) (L, error)
	Delete(context.Context, string, metav1.DeleteOptions) error
}

// ignoreTypeMeta ignores kind and apiVersion. Upstream leaves them empty in
// list items (kubernetes/kubernetes#3030); berth fills them in. Clients
// accept both.
var ignoreTypeMeta = cmpopts.IgnoreTypes(metav1.TypeMeta{})

// crud drives c through create, get, update, a stale update, list (by the
// label e2e=typed, which obj must carry) and delete of obj. change modifies
// an object for the update. It returns the created object.
func crud[T, L runtime.Object](t *testing.T, c objectClient[T, L], obj T, change func(T), items func(L) []T) T {
	t.Helper()
	ctx := t.Context()
	name := mustAccessor(t, obj).GetName()
	created, err := c.Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if m := mustAccessor(t, created); m.GetUID() == "" || m.GetResourceVersion() == "" || m.GetCreationTimestamp().Time.IsZero() {
		t.Errorf("server-set metadata missing: uid %q resourceVersion %q creationTimestamp %v",
			m.GetUID(), m.GetResourceVersion(), m.GetCreationTimestamp())
	}
	got, err := c.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("get after create (-created +got):\n%s", diff)
	}

	modified := created.DeepCopyObject().(T)
	change(modified)
	updated, err := c.Update(ctx, modified, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if rv := mustAccessor(t, updated).GetResourceVersion(); rv == mustAccessor(t, created).GetResourceVersion() {
		t.Errorf("update kept resourceVersion %s", rv)
	}
	want := modified.DeepCopyObject().(T)
	mustAccessor(t, want).SetResourceVersion(mustAccessor(t, updated).GetResourceVersion())
	mustAccessor(t, want).SetGeneration(mustAccessor(t, updated).GetGeneration())
	if diff := cmp.Diff(want, updated, cmpopts.IgnoreFields(metav1.ObjectMeta{}, "ManagedFields")); diff != "" {
		t.Errorf("update result (-sent +stored):\n%s", diff)
	}
	if _, err := c.Update(ctx, modified, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("update with the old resourceVersion: want 409 Conflict, got %v", err)
	}

	list, err := c.List(ctx, metav1.ListOptions{LabelSelector: "e2e=typed"})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if la, err := meta.ListAccessor(list); err != nil || la.GetResourceVersion() == "" {
		t.Errorf("list has no resourceVersion (%v)", err)
	}
	if diff := cmp.Diff([]T{updated}, items(list), ignoreTypeMeta); diff != "" {
		t.Errorf("listed items (-updated +listed):\n%s", diff)
	}

	if err := c.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := c.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: want 404 NotFound, got %v", err)
	}
	return created
}

func mustAccessor(t *testing.T, obj runtime.Object) metav1.Object {
	t.Helper()
	m, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTypedClient drives a typed clientset through create, get, update,
// list and delete, once speaking JSON and once protobuf, on kinds that no
// controller writes to: a core one and one of an API group.
func TestTypedClient(t *testing.T) {
	s := startServer(t)
	for _, tc := range []struct{ name, contentType string }{
		{"json", "application/json"},
		{"protobuf", "application/vnd.kubernetes.protobuf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			cfg := s.restConfig(t)
			cfg.ContentType = tc.contentType
			cfg.WrapTransport = rec.wrap
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ns := createNamespace(t, cs, "typed-"+tc.name)
			labels := map[string]string{"e2e": "typed"}

			pt := crud(t, cs.CoreV1().PodTemplates(ns), &corev1.PodTemplate{
				ObjectMeta: metav1.ObjectMeta{Name: "tmpl", Labels: labels},
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}},
				}},
			}, func(pt *corev1.PodTemplate) {
				pt.Template.Spec.Containers[0].Image = "busybox:1.37"
			}, func(l *corev1.PodTemplateList) []*corev1.PodTemplate { return pointers(l.Items) })
			spec := pt.Template.Spec
			c := spec.Containers[0]
			if diff := cmp.Diff(
				[]any{corev1.PullIfNotPresent, "/dev/termination-log", corev1.TerminationMessageReadFile, corev1.RestartPolicyAlways, corev1.DNSClusterFirst, "default-scheduler", ptr(int64(30))},
				[]any{c.ImagePullPolicy, c.TerminationMessagePath, c.TerminationMessagePolicy, spec.RestartPolicy, spec.DNSPolicy, spec.SchedulerName, spec.TerminationGracePeriodSeconds},
			); diff != "" {
				t.Errorf("pod template defaults (-want +got):\n%s", diff)
			}

			np := crud(t, cs.NetworkingV1().NetworkPolicies(ns), &networkingv1.NetworkPolicy{
				ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels},
				Spec: networkingv1.NetworkPolicySpec{
					PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
					Ingress:     []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: ptr(intstr.FromInt32(80))}}}},
				},
			}, func(np *networkingv1.NetworkPolicy) {
				np.Spec.Ingress[0].Ports[0].Port = ptr(intstr.FromInt32(8080))
			}, func(l *networkingv1.NetworkPolicyList) []*networkingv1.NetworkPolicy { return pointers(l.Items) })
			if diff := cmp.Diff(
				[]any{[]networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, ptr(corev1.ProtocolTCP)},
				[]any{np.Spec.PolicyTypes, np.Spec.Ingress[0].Ports[0].Protocol},
			); diff != "" {
				t.Errorf("network policy defaults (-want +got):\n%s", diff)
			}

			cm := &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: "bin"},
				Data:       map[string]string{"text": "héllo\n"},
				BinaryData: map[string][]byte{"raw": {0, 1, 0xfe, 0xff}},
			}
			gotCM, err := cs.CoreV1().ConfigMaps(ns).Create(t.Context(), cm, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create configmap: %v", err)
			}
			if diff := cmp.Diff([]any{cm.Data, cm.BinaryData}, []any{gotCM.Data, gotCM.BinaryData}); diff != "" {
				t.Errorf("configmap data (-sent +stored):\n%s", diff)
			}

			checkContentTypes(t, rec.all(), tc.contentType)
		})
	}
}

func pointers[T any](items []T) []*T {
	var ps []*T
	for i := range items {
		ps = append(ps, &items[i])
	}
	return ps
}

func ptr[T any](v T) *T { return &v }

// checkContentTypes checks that every object the client sent and received
// was encoded as contentType.
func checkContentTypes(t *testing.T, reqs []recorded, contentType string) {
	t.Helper()
	var sent, answered int
	for _, r := range reqs {
		if r.method == http.MethodPost || r.method == http.MethodPut {
			sent++
			if r.contentType != contentType {
				t.Errorf("%s %s sent Content-Type %q, want %q", r.method, r.url.Path, r.contentType, contentType)
			}
		}
		if r.method != http.MethodDelete && r.answerType != "" {
			answered++
			if !strings.HasPrefix(r.answerType, contentType) {
				t.Errorf("%s %s answered with Content-Type %q, want %q", r.method, r.url.Path, r.answerType, contentType)
			}
		}
	}
	if sent < 3 || answered < 6 {
		t.Errorf("recorded %d writes and %d answers; the recorder missed requests", sent, answered)
	}
}

// TestInformer runs a ConfigMap informer, once with a LIST followed by a
// WATCH and once with a watch list (a WATCH with sendInitialEvents), and
// checks that it fills its cache and sees creates, updates and deletes.
func TestInformer(t *testing.T) {
	s := startServer(t)
	for i, tc := range []struct {
		name      string
		watchList bool
	}{
		{"list and watch", false},
		{"watch list", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clientfeaturestesting.SetFeatureDuringTest(t, clientfeatures.WatchListClient, tc.watchList)
			ctx := t.Context()
			admin := s.clientset(t)
			ns := createNamespace(t, admin, fmt.Sprintf("informer-%d", i))
			configMaps := admin.CoreV1().ConfigMaps(ns)
			// Labelled, so that ConfigMaps others put in every namespace
			// stay out of the informer.
			newCM := func(name, v string) *corev1.ConfigMap {
				return &corev1.ConfigMap{
					ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"e2e": "informer"}},
					Data:       map[string]string{"v": v},
				}
			}
			if _, err := configMaps.Create(ctx, newCM("before", "1"), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}

			rec := &recorder{}
			cfg := s.restConfig(t)
			cfg.WrapTransport = rec.wrap
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns),
				informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "e2e=informer" }))
			informer := factory.Core().V1().ConfigMaps().Informer()
			events := make(chan string, 100)
			_, err = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
				AddFunc: func(obj any) {
					cm := obj.(*corev1.ConfigMap)
					events <- "add " + cm.Name + " " + cm.Data["v"]
				},
				UpdateFunc: func(_, obj any) {
					cm := obj.(*corev1.ConfigMap)
					events <- "update " + cm.Name + " " + cm.Data["v"]
				},
				DeleteFunc: func(obj any) {
					if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
						obj = d.Obj
					}
					events <- "delete " + obj.(*corev1.ConfigMap).Name
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			t.Cleanup(func() {
				close(stop)
				factory.Shutdown()
			})
			factory.Start(stop)
			syncCtx, cancel := context.WithTimeout(ctx, eventTimeout)
			defer cancel()
			if !cache.WaitForCacheSync(syncCtx.Done(), informer.HasSynced) {
				t.Fatalf("informer did not sync within %v; requests: %s", eventTimeout, describe(rec.all()))
			}
			wantEvent(t, events, "add before 1")

			a, err := configMaps.Create(ctx, newCM("a", "1"), metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			wantEvent(t, events, "add a 1")
			a.Data["v"] = "2"
			if _, err := configMaps.Update(ctx, a, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			wantEvent(t, events, "update a 2")
			if err := configMaps.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			wantEvent(t, events, "delete a")

			var cached []string
			for _, obj := range informer.GetStore().List() {
				cached = append(cached, obj.(*corev1.ConfigMap).Name)
			}
			if diff := cmp.Diff([]string{"before"}, cached); diff != "" {
				t.Errorf("informer cache (-want +got):\n%s", diff)
			}
			checkInformerRequests(t, rec.all(), tc.watchList)
		})
	}
}

// checkInformerRequests checks how the informer read the ConfigMaps: with a
// watch list, one WATCH with sendInitialEvents and no LIST; otherwise a LIST
// and then a WATCH from the list's resourceVersion.
func checkInformerRequests(t *testing.T, reqs []recorded, watchList bool) {
	t.Helper()
	var lists, watches, initialEvents int
	for _, r := range reqs {
		q := r.url.Query()
		switch {
		case q.Get("watch") != "true":
			lists++
		case q.Get("sendInitialEvents") == "true":
			watches++
			if q.Get("allowWatchBookmarks") == "true" && q.Get("resourceVersionMatch") == "NotOlderThan" {
				initialEvents++
			}
		default:
			watches++
			if q.Get("resourceVersion") == "" {
				t.Errorf("watch without a resourceVersion after the list: %s", r.url)
			}
		}
	}
	if watchList && (lists != 0 || initialEvents == 0) {
		t.Errorf("watch list: want no LIST and a WATCH with sendInitialEvents; requests: %s", describe(reqs))
	}
	if !watchList && (lists == 0 || watches == 0 || initialEvents != 0) {
		t.Errorf("want a LIST and a WATCH without sendInitialEvents; requests: %s", describe(reqs))
	}
}

func describe(reqs []recorded) string {
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "\n  %s %s", r.method, r.url.RequestURI())
	}
	return b.String()
}

// wantEvent waits for the next event and compares it with want.
func wantEvent(t *testing.T, events <-chan string, want string) {
	t.Helper()
	select {
	case got := <-events:
		if got != want {
			t.Fatalf("event %q, want %q", got, want)
		}
	case <-time.After(eventTimeout):
		t.Fatalf("no event within %v, want %q", eventTimeout, want)
	}
}

// TestDynamicPaging lists seven objects two at a time with the dynamic
// client: every page is cut from the same snapshot.
func TestDynamicPaging(t *testing.T) {
	s := startServer(t)
	ctx := t.Context()
	cs := s.clientset(t)
	ns := createNamespace(t, cs, "paging")
	newCM := func(i int) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%d", i), Labels: map[string]string{"e2e": "paging"}}}
	}
	for i := range 7 {
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, newCM(i), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// An object the label selector skips, between the pages' objects.
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "p-3x"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	dyn, err := dynamic.NewForConfig(s.restConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	res := dyn.Resource(corev1.SchemeGroupVersion.WithResource("configmaps")).Namespace(ns)
	opts := metav1.ListOptions{LabelSelector: "e2e=paging", Limit: 2}
	var pages [][]string
	var versions []string
	for len(pages) < 10 {
		list, err := res.List(ctx, opts)
		if err != nil {
			t.Fatalf("list page %d: %v", len(pages)+1, err)
		}
		var names []string
		for _, it := range list.Items {
			names = append(names, it.GetName())
		}
		pages = append(pages, names)
		versions = append(versions, list.GetResourceVersion())
		if len(pages) == 1 {
			// Written after the first page: later pages must not show it.
			if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, newCM(7), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if list.GetContinue() == "" {
			break
		}
		opts.Continue = list.GetContinue()
	}
	want := [][]string{{"p-0", "p-1"}, {"p-2", "p-3"}, {"p-4", "p-5"}, {"p-6"}}
	if diff := cmp.Diff(want, pages); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
	for i, v := range versions {
		if v == "" || v != versions[0] {
			t.Errorf("page %d has resourceVersion %q, want the first page's %q", i+1, v, versions[0])
		}
	}

	all, err := res.List(ctx, metav1.ListOptions{LabelSelector: "e2e=paging"})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Items) != 8 || all.GetResourceVersion() == versions[0] {
		t.Errorf("list after paging: %d items at resourceVersion %s, want 8 at a newer one than %s",
			len(all.Items), all.GetResourceVersion(), versions[0])
	}
}

// TestWatchResume starts a watch from an old resourceVersion and checks it
// gets exactly the later changes of the selected objects, in order.
func TestWatchResume(t *testing.T) {
	s := startServer(t)
	ctx := t.Context()
	cs := s.clientset(t)
	ns := createNamespace(t, cs, "resume")
	configMaps := cs.CoreV1().ConfigMaps(ns)
	create := func(name string, labelled bool) *corev1.ConfigMap {
		t.Helper()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"v": "1"}}
		if labelled {
			cm.Labels = map[string]string{"e2e": "resume"}
		}
		out, err := configMaps.Create(ctx, cm, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	w1 := create("w1", true)
	w2 := create("w2", true)
	create("unselected", false)
	w2.Data["v"] = "2"
	w2, err := configMaps.Update(ctx, w2, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := configMaps.Delete(ctx, "w1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	w, err := configMaps.Watch(ctx, metav1.ListOptions{LabelSelector: "e2e=resume", ResourceVersion: w1.ResourceVersion})
	if err != nil {
		t.Fatalf("watch from %s: %v", w1.ResourceVersion, err)
	}
	defer w.Stop()
	next := func() string {
		t.Helper()
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("watch closed")
			}
			cm, ok := ev.Object.(*corev1.ConfigMap)
			if !ok {
				t.Fatalf("%s event with %T: %v", ev.Type, ev.Object, ev.Object)
			}
			return fmt.Sprintf("%s %s v=%s", ev.Type, cm.Name, cm.Data["v"])
		case <-time.After(eventTimeout):
			t.Fatalf("no watch event within %v", eventTimeout)
		}
		return ""
	}
	var got []string
	for range 3 {
		got = append(got, next())
	}
	want := []string{"ADDED w2 v=1", "MODIFIED w2 v=2", "DELETED w1 v=1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events after resourceVersion %s (-want +got):\n%s", w1.ResourceVersion, diff)
	}
	// Nothing else is pending: the next event is the next change.
	create("w3", true)
	if got, want := next(), string(watch.Added)+" w3 v=1"; got != want {
		t.Errorf("event after the replayed ones: %q, want %q", got, want)
	}
}
