package daemonset_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"berth.dev/berth/internal/controller/controllertest"
	"berth.dev/berth/internal/controller/daemonset"
	"berth.dev/berth/internal/scheduler"
	"berth.dev/berth/internal/sim"
)

// env is an API server with three simulated nodes, the scheduler and the
// DaemonSet controller, and a namespace for one test.
type env struct {
	t      *testing.T
	ctx    context.Context
	client kubernetes.Interface
	sim    *sim.Sim
	ns     string
}

func start(t *testing.T) *env {
	t.Helper()
	cl := controllertest.Start(t)
	client, factory := cl.Client, cl.Informers
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := daemonset.New(daemonset.Config{Client: client, Informers: factory, Logger: log})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	sched, err := scheduler.New(scheduler.Config{Client: client, Informers: factory, Logger: log})
	if err != nil {
		t.Fatalf("scheduler.New: %v", err)
	}
	nodes, err := sim.New(sim.Config{Client: client, Informers: factory, Nodes: 3, Logger: log})
	if err != nil {
		t.Fatalf("sim.New: %v", err)
	}
	ctx := controllertest.Run(t, factory, c, sched, nodes)
	e := &env{t: t, ctx: ctx, client: client, sim: nodes}
	e.waitFor("3 ready nodes", func() (bool, string, error) {
		list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, "", err
		}
		n := 0
		for _, node := range list.Items {
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					n++
				}
			}
		}
		return n == 3, fmt.Sprint(n), nil
	})
	return e
}

func (e *env) namespace(t *testing.T, name string) *env {
	t.Helper()
	controllertest.CreateNamespace(e.ctx, t, e.client, name)
	return &env{t: t, ctx: e.ctx, client: e.client, sim: e.sim, ns: name}
}

func newDS(name string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "agent:1"}}},
			},
		},
	}
}

func (e *env) create(ds *appsv1.DaemonSet) *appsv1.DaemonSet {
	e.t.Helper()
	out, err := e.client.AppsV1().DaemonSets(e.ns).Create(e.ctx, ds, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating DaemonSet: %v", err)
	}
	return out
}

func (e *env) update(name string, change func(*appsv1.DaemonSet)) {
	e.t.Helper()
	daemonSets := e.client.AppsV1().DaemonSets(e.ns)
	controllertest.Update(e.ctx, e.t, name, daemonSets.Get, daemonSets.Update, func(ds *appsv1.DaemonSet) {
		change(ds)
	})
}

func (e *env) updateNode(name string, change func(*corev1.Node)) {
	e.t.Helper()
	nodes := e.client.CoreV1().Nodes()
	controllertest.Update(e.ctx, e.t, name, nodes.Get, nodes.Update, func(n *corev1.Node) {
		change(n)
	})
}

// waitFor polls cond until it holds; see controllertest.WaitFor.
func (e *env) waitFor(what string, cond func() (bool, string, error)) {
	e.t.Helper()
	controllertest.WaitFor(e.ctx, e.t, what, cond)
}

func (e *env) waitStatus(name, what string, cond func(appsv1.DaemonSetStatus) bool) *appsv1.DaemonSet {
	e.t.Helper()
	return controllertest.WaitObject(e.ctx, e.t, what, name, e.client.AppsV1().DaemonSets(e.ns).Get, func(ds *appsv1.DaemonSet) (bool, string) {
		return ds.Status.ObservedGeneration == ds.Generation && cond(ds.Status), fmt.Sprintf("%+v", ds.Status)
	})
}

// rolledOut is the status of a DaemonSet complete on n nodes.
func rolledOut(n int32) func(appsv1.DaemonSetStatus) bool {
	return func(s appsv1.DaemonSetStatus) bool {
		return s.DesiredNumberScheduled == n && s.CurrentNumberScheduled == n && s.NumberReady == n &&
			s.UpdatedNumberScheduled == n && s.NumberAvailable == n && s.NumberUnavailable == 0 && s.NumberMisscheduled == 0
	}
}

// placed returns "node=image" for the pods not being deleted, sorted.
func (e *env) placed() ([]string, map[string]*corev1.Pod, error) {
	list, err := e.client.CoreV1().Pods(e.ns).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, err
	}
	var out []string
	byNode := map[string]*corev1.Pod{}
	for i := range list.Items {
		p := &list.Items[i]
		if p.DeletionTimestamp != nil {
			continue
		}
		out = append(out, p.Spec.NodeName+"="+p.Spec.Containers[0].Image)
		byNode[p.Spec.NodeName] = p
	}
	sort.Strings(out)
	return out, byNode, nil
}

func (e *env) waitPlaced(want ...string) map[string]*corev1.Pod {
	e.t.Helper()
	var byNode map[string]*corev1.Pod
	e.waitFor(strings.Join(want, " "), func() (bool, string, error) {
		got, m, err := e.placed()
		byNode = m
		return slices.Equal(got, want), strings.Join(got, " "), err
	})
	return byNode
}

// recorder keeps every pod event of a namespace, in order.
type recorder struct {
	mu     sync.Mutex // guards events
	events []watch.Event
}

func (e *env) record() *recorder {
	e.t.Helper()
	w, err := e.client.CoreV1().Pods(e.ns).Watch(e.ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatalf("watching pods: %v", err)
	}
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
		}
	}()
	e.t.Cleanup(func() {
		w.Stop()
		<-done
	})
	return r
}

// deletions replays the events and calls check at the first sign of each
// pod's deletion with the pods as they were just before.
func (r *recorder) deletions(check func(p *corev1.Pod, before map[string]*corev1.Pod)) int {
	r.mu.Lock()
	events := slices.Clone(r.events)
	r.mu.Unlock()
	state := map[string]*corev1.Pod{}
	n := 0
	for _, ev := range events {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			continue
		}
		prev := state[p.Name]
		if prev != nil && prev.DeletionTimestamp == nil && (ev.Type == watch.Deleted || p.DeletionTimestamp != nil) {
			n++
			check(p, state)
		}
		if ev.Type == watch.Deleted {
			delete(state, p.Name)
		} else {
			state[p.Name] = p
		}
	}
	return n
}

func ready(p *corev1.Pod) bool {
	if p == nil || p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func TestDaemonSet(t *testing.T) {
	base := start(t)

	t.Run("one pod per node, pinned, with the default tolerations", func(t *testing.T) {
		e := base.namespace(t, "basic")
		ds := e.create(newDS("agent"))
		e.waitStatus("agent", "3 nodes", rolledOut(3))
		pods := e.waitPlaced("sim-0=agent:1", "sim-1=agent:1", "sim-2=agent:1")
		revs, err := e.client.AppsV1().ControllerRevisions(e.ns).List(e.ctx, metav1.ListOptions{})
		if err != nil || len(revs.Items) != 1 {
			t.Fatalf("revisions %v, %v; want one", revs, err)
		}
		rev := revs.Items[0]
		if ref := metav1.GetControllerOf(&rev); ref == nil || ref.UID != ds.UID || rev.Revision != 1 {
			t.Errorf("revision %s: owner %+v number %d", rev.Name, ref, rev.Revision)
		}
		for node, p := range pods {
			if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != ds.UID {
				t.Errorf("pod on %s: controller %+v", node, ref)
			}
			if h := p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]; h == "" || rev.Name != "agent-"+h {
				t.Errorf("pod on %s: hash label %q, revision %s", node, h, rev.Name)
			}
			want := &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{
				{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}
			if a := p.Spec.Affinity; a == nil || a.NodeAffinity == nil || fmt.Sprint(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != fmt.Sprint(want) {
				t.Errorf("pod on %s: affinity %+v", node, p.Spec.Affinity)
			}
			var keys []string
			for _, tol := range p.Spec.Tolerations {
				keys = append(keys, tol.Key+":"+string(tol.Effect))
			}
			slices.Sort(keys)
			wantKeys := []string{"node.kubernetes.io/disk-pressure:NoSchedule", "node.kubernetes.io/memory-pressure:NoSchedule",
				"node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/pid-pressure:NoSchedule",
				"node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unschedulable:NoSchedule"}
			if !slices.Equal(keys, wantKeys) {
				t.Errorf("pod on %s: tolerations %v", node, keys)
			}
		}

		// A new node gets a pod, which the scheduler binds to it; a removed node loses it.
		extra := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "extra"}}
		if _, err := e.client.CoreV1().Nodes().Create(e.ctx, extra, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.client.CoreV1().Nodes().Delete(context.Background(), "extra", metav1.DeleteOptions{}) })
		extra.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		extra.Status.Capacity = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10")}
		extra.Status.Allocatable = extra.Status.Capacity
		if _, err := e.client.CoreV1().Nodes().UpdateStatus(e.ctx, extra, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitPlaced("extra=agent:1", "sim-0=agent:1", "sim-1=agent:1", "sim-2=agent:1")
		e.waitStatus("agent", "4 desired", func(s appsv1.DaemonSetStatus) bool { return s.DesiredNumberScheduled == 4 && s.NumberReady == 3 })
		if err := e.client.CoreV1().Nodes().Delete(e.ctx, "extra", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitPlaced("sim-0=agent:1", "sim-1=agent:1", "sim-2=agent:1")
		e.waitStatus("agent", "back to 3", rolledOut(3))
	})

	t.Run("node selector and taints", func(t *testing.T) {
		e := base.namespace(t, "placement")
		e.updateNode("sim-0", func(n *corev1.Node) { n.Labels["role"] = "edge" })
		t.Cleanup(func() { e.updateNode("sim-0", func(n *corev1.Node) { delete(n.Labels, "role") }) })
		ds := newDS("edge")
		ds.Spec.Template.Spec.NodeSelector = map[string]string{"role": "edge"}
		e.create(ds)
		e.waitPlaced("sim-0=agent:1")
		e.waitStatus("edge", "1 node", rolledOut(1))

		e.updateNode("sim-1", func(n *corev1.Node) { n.Labels["role"] = "edge" })
		t.Cleanup(func() { e.updateNode("sim-1", func(n *corev1.Node) { delete(n.Labels, "role") }) })
		e.waitPlaced("sim-0=agent:1", "sim-1=agent:1")
		e.updateNode("sim-0", func(n *corev1.Node) { delete(n.Labels, "role") })
		e.waitPlaced("sim-1=agent:1")

		// NoSchedule keeps the pod that is there; NoExecute evicts it.
		e.updateNode("sim-1", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}}
		})
		t.Cleanup(func() { e.updateNode("sim-1", func(n *corev1.Node) { n.Spec.Taints = nil }) })
		e.waitStatus("edge", "no node wants a pod, one is misscheduled", func(s appsv1.DaemonSetStatus) bool {
			return s.DesiredNumberScheduled == 0 && s.NumberMisscheduled == 1
		})
		e.waitPlaced("sim-1=agent:1")
		e.updateNode("sim-1", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoExecute}}
		})
		e.waitPlaced()
		// A toleration brings it back.
		e.update("edge", func(ds *appsv1.DaemonSet) {
			ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
		})
		e.waitPlaced("sim-1=agent:1")
		e.waitStatus("edge", "1 node", rolledOut(1))
	})

	t.Run("rolling update within maxUnavailable", func(t *testing.T) {
		e := base.namespace(t, "unavailable")
		e.create(newDS("agent"))
		e.waitStatus("agent", "3 nodes", rolledOut(3))
		rec := e.record()
		e.update("agent", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "agent:2" })
		e.waitStatus("agent", "rolled to agent:2", rolledOut(3))
		e.waitPlaced("sim-0=agent:2", "sim-1=agent:2", "sim-2=agent:2")
		n := rec.deletions(func(p *corev1.Pod, before map[string]*corev1.Pod) {
			for name, q := range before {
				if name != p.Name && !ready(q) {
					t.Errorf("%s deleted while %s on %s was not ready", p.Name, name, q.Spec.NodeName)
				}
			}
		})
		if n != 3 {
			t.Errorf("%d pods deleted, want 3", n)
		}
		revs, err := e.client.AppsV1().ControllerRevisions(e.ns).List(e.ctx, metav1.ListOptions{})
		if err != nil || len(revs.Items) != 2 {
			t.Errorf("revisions %d, %v; want 2", len(revs.Items), err)
		}
	})

	t.Run("rolling update with maxSurge", func(t *testing.T) {
		e := base.namespace(t, "surge")
		ds := newDS("agent")
		ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxSurge: new(intstr.FromInt32(1)), MaxUnavailable: new(intstr.FromInt32(0))}}
		e.create(ds)
		e.waitStatus("agent", "3 nodes", rolledOut(3))
		rec := e.record()
		e.update("agent", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "agent:2" })
		e.waitStatus("agent", "rolled to agent:2", rolledOut(3))
		e.waitPlaced("sim-0=agent:2", "sim-1=agent:2", "sim-2=agent:2")
		n := rec.deletions(func(p *corev1.Pod, before map[string]*corev1.Pod) {
			replaced := false
			for name, q := range before {
				if name == p.Name {
					continue
				}
				if q.Spec.NodeName == p.Spec.NodeName && q.Spec.Containers[0].Image == "agent:2" && ready(q) {
					replaced = true
				} else if !ready(q) && q.Spec.Containers[0].Image == "agent:1" {
					t.Errorf("%s deleted while the old pod %s was not ready", p.Name, name)
				}
			}
			if !replaced {
				t.Errorf("old pod %s on %s deleted before a new one was ready there", p.Name, p.Spec.NodeName)
			}
		})
		if n != 3 {
			t.Errorf("%d pods deleted, want 3", n)
		}
	})

	t.Run("OnDelete, failed pods and rollback", func(t *testing.T) {
		e := base.namespace(t, "ondelete")
		ds := newDS("agent")
		ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
		e.create(ds)
		e.waitStatus("agent", "3 nodes", rolledOut(3))
		e.update("agent", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "agent:2" })
		e.waitStatus("agent", "observed, nothing updated", func(s appsv1.DaemonSetStatus) bool {
			return s.UpdatedNumberScheduled == 0 && s.NumberAvailable == 3
		})
		_, pods, err := e.placed()
		if err != nil {
			t.Fatal(err)
		}
		if err := e.client.CoreV1().Pods(e.ns).Delete(e.ctx, pods["sim-1"].Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitPlaced("sim-0=agent:1", "sim-1=agent:2", "sim-2=agent:1")
		e.waitStatus("agent", "one updated", func(s appsv1.DaemonSetStatus) bool { return s.UpdatedNumberScheduled == 1 && s.NumberAvailable == 3 })

		failed := pods["sim-0"]
		failed.Status.Phase = corev1.PodFailed
		if _, err := e.client.CoreV1().Pods(e.ns).UpdateStatus(e.ctx, failed, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitFor("the failed pod replaced", func() (bool, string, error) {
			_, err := e.client.CoreV1().Pods(e.ns).Get(e.ctx, failed.Name, metav1.GetOptions{})
			got, _, perr := e.placed()
			return apierrors.IsNotFound(err) && slices.Contains(got, "sim-0=agent:2"), strings.Join(got, " "), perr
		})

		// Back to the first template: its revision is renumbered, not copied.
		e.update("agent", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "agent:1" })
		e.waitFor("the first revision renumbered", func() (bool, string, error) {
			revs, err := e.client.AppsV1().ControllerRevisions(e.ns).List(e.ctx, metav1.ListOptions{})
			if err != nil {
				return false, "", err
			}
			var got []string
			for _, r := range revs.Items {
				got = append(got, fmt.Sprintf("%s:%d", r.Labels[appsv1.DefaultDaemonSetUniqueLabelKey], r.Revision))
			}
			sort.Strings(got)
			return len(got) == 2 && strings.HasSuffix(got[0], ":3") != strings.HasSuffix(got[1], ":3"), strings.Join(got, " "), nil
		})
		e.waitStatus("agent", "sim-2 counts as updated again", func(s appsv1.DaemonSetStatus) bool { return s.UpdatedNumberScheduled == 1 })
	})
}
