package endpointslice_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"berth.dev/berth/internal/controller/controllertest"
	"berth.dev/berth/internal/controller/endpointslice"
)

const ns = "default"

type env struct {
	t      *testing.T
	ctx    context.Context
	client kubernetes.Interface
	writes *writeLog
}

// writeLog records the controller's write requests as "METHOD path".
type writeLog struct {
	mu   sync.Mutex // guards reqs
	reqs []string
}

func (l *writeLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.reqs
	l.reqs = nil
	return out
}

// postedName returns the metadata.name of a JSON request body, or "".
func postedName(r *http.Request) string {
	if r.GetBody == nil {
		return ""
	}
	body, err := r.GetBody()
	if err != nil {
		return ""
	}
	defer body.Close()
	var obj metav1.PartialObjectMetadata
	if err := json.NewDecoder(body).Decode(&obj); err != nil {
		return ""
	}
	return obj.Name
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// start runs an API server and the controller with the given workers.
func start(t *testing.T, workers int) *env {
	t.Helper()
	cl := controllertest.Start(t)
	writes := &writeLog{}
	cfg := rest.CopyConfig(cl.Server.Admin)
	cfg.ContentType = "application/json" // so creates can be read below
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method != http.MethodGet {
				target := r.URL.Path
				if r.Method == http.MethodPost {
					// A create names its object in the body.
					target += "/" + postedName(r)
				}
				writes.mu.Lock()
				writes.reqs = append(writes.reqs, r.Method+" "+target)
				writes.mu.Unlock()
			}
			return rt.RoundTrip(r)
		})
	})
	ctlClient, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	c, err := endpointslice.New(endpointslice.Config{Client: ctlClient, Informers: cl.Informers, Workers: workers, Logger: cl.Logger})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &env{t: t, ctx: controllertest.Run(t, cl.Informers, c), client: cl.Client, writes: writes}
}

// createPod creates a pod and gives it an IP and a Ready condition, as a kubelet would.
func (e *env) createPod(name, app, node, ip string) {
	e.t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{
			Name: "c", Image: "busybox", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		}}},
	}
	if _, err := e.client.CoreV1().Pods(ns).Create(e.ctx, p, metav1.CreateOptions{}); err != nil {
		e.t.Fatalf("creating pod %s: %v", name, err)
	}
	e.setStatus(name, ip, true)
}

func (e *env) setStatus(name, ip string, ready bool) {
	e.t.Helper()
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	pods := e.client.CoreV1().Pods(ns)
	controllertest.Update(e.ctx, e.t, name, pods.Get, pods.UpdateStatus, func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIP = ip
		p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
	})
}

// endpoint is one slice endpoint as the test compares it.
type endpoint struct {
	Pod, IP, Zone string
	Ready         bool
	Terminating   bool
}

// state returns the managed slices' endpoints sorted by pod, and the
// addresses and not-ready addresses of the Endpoints object (nil when absent).
func (e *env) state(svc string) (eps []endpoint, ready, notReady []string, err error) {
	list, err := e.client.DiscoveryV1().EndpointSlices(ns).List(e.ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + svc + "," + discoveryv1.LabelManagedBy + "=endpointslice-controller.k8s.io",
	})
	if err != nil {
		return nil, nil, nil, err
	}
	for _, s := range list.Items {
		for _, ep := range s.Endpoints {
			got := endpoint{Pod: ep.TargetRef.Name, IP: ep.Addresses[0], Ready: ep.Conditions.Ready != nil && *ep.Conditions.Ready,
				Terminating: ep.Conditions.Terminating != nil && *ep.Conditions.Terminating}
			if ep.Zone != nil {
				got.Zone = *ep.Zone
			}
			eps = append(eps, got)
		}
	}
	slices.SortFunc(eps, func(a, b endpoint) int { return strings.Compare(a.Pod, b.Pod) })
	obj, err := e.client.CoreV1().Endpoints(ns).Get(e.ctx, svc, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return eps, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	ready, notReady = []string{}, []string{}
	for _, ss := range obj.Subsets {
		for _, a := range ss.Addresses {
			ready = append(ready, a.TargetRef.Name)
		}
		for _, a := range ss.NotReadyAddresses {
			notReady = append(notReady, a.TargetRef.Name)
		}
	}
	return eps, ready, notReady, nil
}

// waitState waits until the Service's slices and Endpoints are as given;
// nil ready means no Endpoints object.
func (e *env) waitState(what, svc string, wantEps []endpoint, wantReady, wantNotReady []string) {
	e.t.Helper()
	controllertest.WaitFor(e.ctx, e.t, what, func() (bool, string, error) {
		eps, ready, notReady, err := e.state(svc)
		if err != nil {
			return false, "", err
		}
		d := cmp.Diff(wantEps, eps) + cmp.Diff(wantReady, ready) + cmp.Diff(wantNotReady, notReady)
		return d == "", "diff -want +got: " + d, nil
	})
}

func TestController(t *testing.T) {
	e := start(t, 0)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{corev1.LabelTopologyZone: "zone-a"}}}
	if _, err := e.client.CoreV1().Nodes().Create(e.ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating node: %v", err)
	}
	e.createPod("a", "web", "n1", "10.1.0.1")
	e.createPod("b", "web", "", "10.1.0.2")
	e.createPod("c", "api", "", "10.1.0.3")
	svc, err := e.client.CoreV1().Services(ns).Create(e.ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating service: %v", err)
	}

	e.waitState("two ready endpoints", "web",
		[]endpoint{{Pod: "a", IP: "10.1.0.1", Zone: "zone-a", Ready: true}, {Pod: "b", IP: "10.1.0.2", Ready: true}},
		[]string{"a", "b"}, []string{})

	list, err := e.client.DiscoveryV1().EndpointSlices(ns).List(e.ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("listing slices: %d, %v", len(list.Items), err)
	}
	s := list.Items[0]
	if ref := metav1.GetControllerOf(&s); ref == nil || ref.UID != svc.UID {
		t.Errorf("slice controller = %+v, want the Service %s", ref, svc.UID)
	}
	wantPorts := []discoveryv1.EndpointPort{{Name: ptr("http"), Protocol: ptr(corev1.ProtocolTCP), Port: ptr[int32](8080)}}
	if diff := cmp.Diff(wantPorts, s.Ports); diff != "" || s.AddressType != discoveryv1.AddressTypeIPv4 {
		t.Errorf("slice addressType %s, ports (-want +got):\n%s", s.AddressType, diff)
	}

	e.setStatus("a", "10.1.0.1", false)
	e.waitState("a not ready", "web",
		[]endpoint{{Pod: "a", IP: "10.1.0.1", Zone: "zone-a", Ready: false}, {Pod: "b", IP: "10.1.0.2", Ready: true}},
		[]string{"b"}, []string{"a"})

	// A scheduled pod's graceful deletion waits for its (absent) kubelet,
	// so a stays terminating; the Endpoints object drops it.
	if err := e.client.CoreV1().Pods(ns).Delete(e.ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting pod: %v", err)
	}
	e.waitState("a terminating", "web",
		[]endpoint{{Pod: "a", IP: "10.1.0.1", Zone: "zone-a", Terminating: true}, {Pod: "b", IP: "10.1.0.2", Ready: true}},
		[]string{"b"}, []string{})

	if err := e.client.CoreV1().Pods(ns).Delete(e.ctx, "b", metav1.DeleteOptions{GracePeriodSeconds: ptr[int64](0)}); err != nil {
		t.Fatalf("deleting pod: %v", err)
	}
	e.waitState("b removed", "web",
		[]endpoint{{Pod: "a", IP: "10.1.0.1", Zone: "zone-a", Terminating: true}},
		[]string{}, []string{})

	services := e.client.CoreV1().Services(ns)
	controllertest.Update(e.ctx, t, "web", services.Get, services.Update, func(cur *corev1.Service) {
		cur.Spec.Selector = map[string]string{"app": "api"}
	})
	e.waitState("selector moved to c", "web",
		[]endpoint{{Pod: "c", IP: "10.1.0.3", Ready: true}},
		[]string{"c"}, []string{})

	if err := e.client.CoreV1().Services(ns).Delete(e.ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting service: %v", err)
	}
	e.waitState("slices and Endpoints gone", "web", nil, nil, nil)
}

// TestNoRewrite checks that syncs without a content change, and syncs of
// Services without a selector, write nothing.
// With one worker the queue is FIFO, so once the Service queued last is
// synced, the earlier no-op syncs have run too.
func TestNoRewrite(t *testing.T) {
	e := start(t, 1)
	e.createPod("a", "web", "", "10.1.0.1")
	for _, name := range []string{"web", "later"} {
		_, err := e.client.CoreV1().Services(ns).Create(e.ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "web"},
				Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating service: %v", err)
		}
	}
	e.waitState("web synced", "web", []endpoint{{Pod: "a", IP: "10.1.0.1", Ready: true}}, []string{"a"}, []string{})
	e.waitState("later synced", "later", []endpoint{{Pod: "a", IP: "10.1.0.1", Ready: true}}, []string{"a"}, []string{})
	e.writes.take()

	// An annotation queues a no-op sync of web and a selectorless Service
	// one that must leave it alone; then "later" loses its pod, a change
	// synced after both.
	manual := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "manual"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}
	if _, err := e.client.CoreV1().Services(ns).Create(e.ctx, manual, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating service: %v", err)
	}
	services := e.client.CoreV1().Services(ns)
	controllertest.Update(e.ctx, t, "web", services.Get, services.Update, func(svc *corev1.Service) {
		svc.Annotations = map[string]string{"touched": "yes"}
	})
	controllertest.Update(e.ctx, t, "later", services.Get, services.Update, func(svc *corev1.Service) {
		svc.Spec.Selector = map[string]string{"app": "none"}
	})
	e.waitState("later emptied", "later", nil, []string{}, []string{})
	for _, w := range e.writes.take() {
		if !strings.Contains(w, "/later-") && !strings.HasSuffix(w, "/later") {
			t.Errorf("write without a content change: %s", w)
		}
	}
}

func ptr[T any](v T) *T { return &v }
