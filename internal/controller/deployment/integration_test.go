package deployment_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"berth.dev/berth/internal/controller/controllertest"
	"berth.dev/berth/internal/controller/deployment"
	"berth.dev/berth/internal/controller/replicaset"
)

const hashLabel = appsv1.DefaultDeploymentUniqueLabelKey

// env is a running API server with the Deployment and ReplicaSet
// controllers, and a namespace for one test.
type env struct {
	t      *testing.T
	ctx    context.Context
	client kubernetes.Interface
	ns     string
}

func start(t *testing.T, clk clock.PassiveClock) *env {
	t.Helper()
	cl := controllertest.Start(t)
	client, factory, log := cl.Client, cl.Informers, cl.Logger
	dc, err := deployment.New(deployment.Config{Client: client, Informers: factory, Clock: clk, Logger: log})
	if err != nil {
		t.Fatalf("deployment.New: %v", err)
	}
	rc, err := replicaset.New(replicaset.Config{Client: client, Informers: factory, Logger: log})
	if err != nil {
		t.Fatalf("replicaset.New: %v", err)
	}
	ctx := controllertest.Run(t, factory, dc, rc)
	return &env{t: t, ctx: ctx, client: client}
}

// namespace creates a fresh namespace; with ready its pods are kept
// Running and Ready.
func (e *env) namespace(t *testing.T, name string, ready bool) *env {
	t.Helper()
	controllertest.CreateNamespace(e.ctx, t, e.client, name)
	ne := &env{t: t, ctx: e.ctx, client: e.client, ns: name}
	if ready {
		ne.keepReady()
	}
	return ne
}

// keepReady stands in for kubelets: until the test ends it marks every pod
// of the namespace Running with a true Ready condition.
func (e *env) keepReady() {
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	e.t.Cleanup(func() {
		cancel()
		<-done
	})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			pods, err := e.client.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for i := range pods.Items {
				p := &pods.Items[i]
				if p.DeletionTimestamp != nil || podReady(p) {
					continue
				}
				p.Status.Phase = corev1.PodRunning
				p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
					Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now(),
				})
				// Conflicts and vanished pods are retried on the next tick.
				_, _ = e.client.CoreV1().Pods(e.ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
			}
		}
	}()
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func newDeployment(name, image string, n int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(n),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
			},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0)),
				},
			},
		},
	}
}

func (e *env) create(d *appsv1.Deployment) {
	e.t.Helper()
	if _, err := e.client.AppsV1().Deployments(e.ns).Create(e.ctx, d, metav1.CreateOptions{}); err != nil {
		e.t.Fatalf("creating Deployment: %v", err)
	}
}

func (e *env) setImage(name, image string) {
	e.t.Helper()
	deployments := e.client.AppsV1().Deployments(e.ns)
	controllertest.Update(e.ctx, e.t, name, deployments.Get, deployments.Update, func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = image
	})
}

// sets returns the Deployment's ReplicaSets by pod-template-hash.
func (e *env) sets(name string) map[string]*appsv1.ReplicaSet {
	e.t.Helper()
	list, err := e.client.AppsV1().ReplicaSets(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		e.t.Fatalf("listing ReplicaSets: %v", err)
	}
	out := map[string]*appsv1.ReplicaSet{}
	for i := range list.Items {
		out[list.Items[i].Labels[hashLabel]] = &list.Items[i]
	}
	return out
}

// waitComplete waits until the Deployment has rolled out image completely
// and returns it with its new ReplicaSet.
func (e *env) waitComplete(name, image string, n int32) (*appsv1.Deployment, *appsv1.ReplicaSet) {
	e.t.Helper()
	var d *appsv1.Deployment
	var newRS *appsv1.ReplicaSet
	controllertest.WaitFor(e.ctx, e.t, fmt.Sprintf("Deployment %s to complete with %s", name, image), func() (bool, string, error) {
		var err error
		d, err = e.client.AppsV1().Deployments(e.ns).Get(e.ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		st := d.Status
		last := describe(st)
		if st.ObservedGeneration < d.Generation || st.Replicas != n || st.UpdatedReplicas != n || st.AvailableReplicas != n || st.ReadyReplicas != n || st.UnavailableReplicas != 0 {
			return false, last, nil
		}
		newRS = nil
		for _, rs := range e.sets(name) {
			if rs.Spec.Template.Spec.Containers[0].Image == image {
				newRS = rs
			} else if *rs.Spec.Replicas != 0 || rs.Status.Replicas != 0 {
				return false, last, nil
			}
		}
		return newRS != nil && newRS.Status.AvailableReplicas == n, last, nil
	})
	return d, newRS
}

// describe summarizes a status for failure messages.
func describe(st appsv1.DeploymentStatus) string {
	s := ""
	for _, c := range st.Conditions {
		s += " " + string(c.Type) + "=" + string(c.Status) + "/" + c.Reason
	}
	return "replicas=" + itoa(st.Replicas) + " updated=" + itoa(st.UpdatedReplicas) + " available=" + itoa(st.AvailableReplicas) + s
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func condition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) appsv1.DeploymentCondition {
	for _, c := range d.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return appsv1.DeploymentCondition{}
}

// podWatch follows the namespace's pods from now on.
type podWatch struct {
	w watch.Interface
}

func (e *env) watchPods() *podWatch {
	e.t.Helper()
	w, err := e.client.CoreV1().Pods(e.ns).Watch(e.ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatalf("watching pods: %v", err)
	}
	e.t.Cleanup(w.Stop)
	return &podWatch{w: w}
}

// follow applies watch events to pods (by name) until stop is closed or
// the watch ends, calling check after each.
func (pw *podWatch) follow(pods map[string]*corev1.Pod, check func(ev watch.EventType, p *corev1.Pod), stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case ev, ok := <-pw.w.ResultChan():
			if !ok {
				return
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				continue
			}
			if ev.Type == watch.Deleted {
				delete(pods, p.Name)
			} else {
				pods[p.Name] = p
			}
			check(ev.Type, p)
		}
	}
}

func TestRollingUpdateAndUndo(t *testing.T) {
	e := start(t, nil).namespace(t, "rolling", true)
	e.create(newDeployment("web", "nginx:1", 3))
	d, first := e.waitComplete("web", "nginx:1", 3)
	if got := len(e.sets("web")); got != 1 {
		t.Fatalf("%d ReplicaSets, want 1", got)
	}
	hash := first.Labels[hashLabel]
	if first.Name != "web-"+hash || first.Spec.Selector.MatchLabels[hashLabel] != hash || first.Spec.Template.Labels[hashLabel] != hash {
		t.Errorf("ReplicaSet %s: hash %q not in name, selector and template", first.Name, hash)
	}
	if ref := metav1.GetControllerOf(first); ref == nil || ref.UID != d.UID {
		t.Errorf("ReplicaSet controller = %v, want Deployment %s", ref, d.UID)
	}
	for k, want := range map[string]string{
		"deployment.kubernetes.io/revision": "1", "deployment.kubernetes.io/desired-replicas": "3", "deployment.kubernetes.io/max-replicas": "4",
	} {
		if got := first.Annotations[k]; got != want {
			t.Errorf("ReplicaSet annotation %s = %q, want %q", k, got, want)
		}
	}
	if got := d.Annotations["deployment.kubernetes.io/revision"]; got != "1" {
		t.Errorf("Deployment revision = %q, want 1", got)
	}
	if c := condition(d, appsv1.DeploymentAvailable); c.Status != corev1.ConditionTrue || c.Reason != "MinimumReplicasAvailable" {
		t.Errorf("Available = %s/%s, want True/MinimumReplicasAvailable", c.Status, c.Reason)
	}
	if c := condition(d, appsv1.DeploymentProgressing); c.Status != corev1.ConditionTrue || c.Reason != "NewReplicaSetAvailable" {
		t.Errorf("Progressing = %s/%s, want True/NewReplicaSetAvailable", c.Status, c.Reason)
	}
	pods, err := e.client.CoreV1().Pods(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: labels.Set{hashLabel: hash}.String()})
	if err != nil || len(pods.Items) != 3 {
		t.Fatalf("pods of %s: %d, %v; want 3", first.Name, len(pods.Items), err)
	}

	// Roll out nginx:2, watching that 3 ready pods always remain.
	pw := e.watchPods()
	seen := map[string]*corev1.Pod{}
	minReady, maxPods := 3, 0
	stop := make(chan struct{})
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		pw.follow(seen, func(watch.EventType, *corev1.Pod) {
			ready := 0
			for _, p := range seen {
				if p.DeletionTimestamp == nil && podReady(p) {
					ready++
				}
			}
			minReady = min(minReady, ready)
			maxPods = max(maxPods, len(seen))
		}, stop)
	}()
	// The watch starts with no pods known; let it learn the three.
	for i := range pods.Items {
		seen[pods.Items[i].Name] = &pods.Items[i]
	}
	e.setImage("web", "nginx:2")
	d, second := e.waitComplete("web", "nginx:2", 3)
	close(stop)
	<-followed
	if minReady < 3 {
		t.Errorf("ready pods dropped to %d during the rolling update, want at least 3", minReady)
	}
	if maxPods > 4 {
		t.Errorf("%d pods at once, want at most 4 (maxSurge 1)", maxPods)
	}
	sets := e.sets("web")
	if len(sets) != 2 || *sets[hash].Spec.Replicas != 0 || *second.Spec.Replicas != 3 {
		t.Fatalf("after rollout: %d ReplicaSets, old at %d, new at %d; want 2, 0, 3", len(sets), *sets[hash].Spec.Replicas, *second.Spec.Replicas)
	}
	if got := second.Annotations["deployment.kubernetes.io/revision"]; got != "2" {
		t.Errorf("new ReplicaSet revision = %q, want 2", got)
	}

	// Undo: the old template comes back and its ReplicaSet takes revision 3.
	e.setImage("web", "nginx:1")
	d, back := e.waitComplete("web", "nginx:1", 3)
	if back.UID != first.UID {
		t.Errorf("undo created ReplicaSet %s, want %s reused", back.Name, first.Name)
	}
	if got := back.Annotations["deployment.kubernetes.io/revision"]; got != "3" {
		t.Errorf("reused ReplicaSet revision = %q, want 3", got)
	}
	if got := d.Annotations["deployment.kubernetes.io/revision"]; got != "3" {
		t.Errorf("Deployment revision = %q, want 3", got)
	}
	if got := len(e.sets("web")); got != 2 {
		t.Errorf("%d ReplicaSets after undo, want 2", got)
	}
}

func TestRecreate(t *testing.T) {
	e := start(t, nil).namespace(t, "recreate", true)
	d := newDeployment("db", "postgres:1", 2)
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	d.Spec.RevisionHistoryLimit = ptr.To[int32](0)
	e.create(d)
	_, first := e.waitComplete("db", "postgres:1", 2)
	oldHash := first.Labels[hashLabel]
	pods, err := e.client.CoreV1().Pods(e.ns).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("listing pods: %v", err)
	}

	pw := e.watchPods()
	seen := map[string]*corev1.Pod{}
	for i := range pods.Items {
		seen[pods.Items[i].Name] = &pods.Items[i]
	}
	var overlap []string
	stop := make(chan struct{})
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		pw.follow(seen, func(ev watch.EventType, p *corev1.Pod) {
			if ev != watch.Added || p.Labels[hashLabel] == oldHash {
				return
			}
			for name, q := range seen {
				if q.Labels[hashLabel] == oldHash {
					overlap = append(overlap, p.Name+" created while "+name+" exists")
				}
			}
		}, stop)
	}()
	e.setImage("db", "postgres:2")
	e.waitComplete("db", "postgres:2", 2)
	close(stop)
	<-followed
	if len(overlap) > 0 {
		t.Errorf("new pods came up before the old ones were gone: %v", overlap)
	}
	// revisionHistoryLimit 0: the old, empty ReplicaSet is deleted.
	err = wait.PollUntilContextTimeout(e.ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		_, ok := e.sets("db")[oldHash]
		return !ok, nil
	})
	if err != nil {
		t.Errorf("old ReplicaSet %s never deleted: %v", first.Name, err)
	}
}

func TestScaleAndPause(t *testing.T) {
	e := start(t, nil).namespace(t, "scale", true)
	e.create(newDeployment("api", "app:1", 2))
	e.waitComplete("api", "app:1", 2)
	deployments := e.client.AppsV1().Deployments(e.ns)
	update := func(f func(*appsv1.Deployment)) {
		t.Helper()
		controllertest.Update(e.ctx, t, "api", deployments.Get, deployments.Update, f)
	}
	update(func(d *appsv1.Deployment) { d.Spec.Paused = true; d.Spec.Template.Spec.Containers[0].Image = "app:2" })
	update(func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](4) })
	// Paused: scaled to 4 without a new ReplicaSet.
	controllertest.WaitFor(e.ctx, t, "paused Deployment to scale to 4", func() (bool, string, error) {
		d, err := deployments.Get(e.ctx, "api", metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		c := condition(d, appsv1.DeploymentProgressing)
		return d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas == 4 && c.Reason == "DeploymentPaused", describe(d.Status), nil
	})
	if got := len(e.sets("api")); got != 1 {
		t.Errorf("%d ReplicaSets while paused, want 1", got)
	}
	update(func(d *appsv1.Deployment) { d.Spec.Paused = false })
	e.waitComplete("api", "app:2", 4)
}

func TestProgressDeadlineExceeded(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e := start(t, clk).namespace(t, "stuck", false)
	d := newDeployment("stuck", "never:ready", 3)
	d.Spec.ProgressDeadlineSeconds = ptr.To[int32](60)
	e.create(d)
	get := func(ctx context.Context) (*appsv1.Deployment, error) {
		return e.client.AppsV1().Deployments(e.ns).Get(ctx, "stuck", metav1.GetOptions{})
	}
	// The rollout stalls with three pods that never become ready.
	controllertest.WaitFor(e.ctx, t, "rollout to stall at 3 unavailable pods", func() (bool, string, error) {
		d, err := get(e.ctx)
		if err != nil {
			return false, "", err
		}
		c := condition(d, appsv1.DeploymentProgressing)
		return d.Status.Replicas == 3 && d.Status.UnavailableReplicas == 3 && c.Status == corev1.ConditionTrue, describe(d.Status), nil
	})
	d, err := get(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := condition(d, appsv1.DeploymentAvailable); c.Status != corev1.ConditionFalse || c.Reason != "MinimumReplicasUnavailable" {
		t.Errorf("Available = %s/%s, want False/MinimumReplicasUnavailable", c.Status, c.Reason)
	}
	clk.SetTime(clk.Now().Add(61 * time.Second))
	// Any event makes the controller look again; a label change is one.
	deployments := e.client.AppsV1().Deployments(e.ns)
	controllertest.Update(e.ctx, t, "stuck", deployments.Get, deployments.Update, func(d *appsv1.Deployment) {
		d.Labels = map[string]string{"poke": "1"}
	})
	var c appsv1.DeploymentCondition
	controllertest.WaitFor(e.ctx, t, "Progressing to become ProgressDeadlineExceeded", func() (bool, string, error) {
		d, err := get(e.ctx)
		if err != nil {
			return false, "", err
		}
		c = condition(d, appsv1.DeploymentProgressing)
		return c.Reason == "ProgressDeadlineExceeded", string(c.Status) + "/" + c.Reason, nil
	})
	if c.Status != corev1.ConditionFalse {
		t.Errorf("Progressing status = %s, want False", c.Status)
	}
}
