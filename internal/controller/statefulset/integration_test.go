package statefulset_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"berth.dev/berth/internal/controller/controllertest"
	"berth.dev/berth/internal/controller/garbagecollector"
	"berth.dev/berth/internal/controller/localpath"
	"berth.dev/berth/internal/controller/statefulset"
	"berth.dev/berth/internal/controller/volumebinding"
	"berth.dev/berth/internal/controller/volumeprotection"
	"berth.dev/berth/internal/scheduler"
	"berth.dev/berth/internal/sim"
)

// env is an API server with simulated nodes, the scheduler, the garbage
// collector and the StatefulSet controller, and a namespace for one test.
type env struct {
	t      *testing.T
	ctx    context.Context
	client kubernetes.Interface
	ns     string
}

func start(t *testing.T) *env {
	t.Helper()
	cl := controllertest.Start(t)
	client, factory := cl.Client, cl.Informers
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := statefulset.New(statefulset.Config{Client: client, Informers: factory, Logger: log})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	sched, err := scheduler.New(scheduler.Config{Client: client, Informers: factory, Logger: log})
	if err != nil {
		t.Fatalf("scheduler.New: %v", err)
	}
	nodes, err := sim.New(sim.Config{Client: client, Informers: factory, Nodes: 2, Logger: log})
	if err != nil {
		t.Fatalf("sim.New: %v", err)
	}
	meta, err := metadata.NewForConfig(cl.Server.Admin)
	if err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cl.Server.Admin)
	if err != nil {
		t.Fatal(err)
	}
	gc, err := garbagecollector.New(garbagecollector.Config{Metadata: meta, Discovery: disc, Logger: log})
	if err != nil {
		t.Fatalf("garbagecollector.New: %v", err)
	}
	// Claims from volumeClaimTemplates are bound and released as in berth
	// server: the binder, the local-path provisioner of the default class,
	// and the protection controller that lets a claim go when no pod uses it.
	binder, err := volumebinding.New(volumebinding.Config{Client: client, Informers: factory, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	provisioner, err := localpath.New(localpath.Config{Client: client, Informers: factory, DataDir: t.TempDir(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	protection, err := volumeprotection.New(volumeprotection.Config{Client: client, Informers: factory, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx := controllertest.Run(t, factory, c, sched, nodes, gc, binder, provisioner, protection)
	// Claims made before the default class exists would get no class.
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := client.StorageV1().StorageClasses().Get(ctx, localpath.DefaultClass, metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("no default StorageClass: %v", err)
	}
	return &env{t: t, ctx: ctx, client: client}
}

func (e *env) namespace(t *testing.T, name string) *env {
	t.Helper()
	controllertest.CreateNamespace(e.ctx, t, e.client, name)
	return &env{t: t, ctx: e.ctx, client: e.client, ns: name}
}

func newSet(name string, replicas int32) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &replicas,
			ServiceName: name + "-svc",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1"}}},
			},
		},
	}
}

func (e *env) create(set *appsv1.StatefulSet) *appsv1.StatefulSet {
	e.t.Helper()
	out, err := e.client.AppsV1().StatefulSets(e.ns).Create(e.ctx, set, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating StatefulSet: %v", err)
	}
	return out
}

func (e *env) update(name string, change func(*appsv1.StatefulSet)) {
	e.t.Helper()
	statefulSets := e.client.AppsV1().StatefulSets(e.ns)
	controllertest.Update(e.ctx, e.t, name, statefulSets.Get, statefulSets.Update, func(set *appsv1.StatefulSet) {
		change(set)
	})
}

// waitFor polls cond until it holds; see controllertest.WaitFor.
func (e *env) waitFor(what string, cond func() (bool, string, error)) {
	e.t.Helper()
	controllertest.WaitFor(e.ctx, e.t, what, cond)
}

// waitStatus waits until the set's status, for its generation, satisfies cond.
func (e *env) waitStatus(name, what string, cond func(appsv1.StatefulSetStatus) bool) *appsv1.StatefulSet {
	e.t.Helper()
	return controllertest.WaitObject(e.ctx, e.t, what, name, e.client.AppsV1().StatefulSets(e.ns).Get, func(set *appsv1.StatefulSet) (bool, string) {
		return set.Status.ObservedGeneration == set.Generation && cond(set.Status), fmt.Sprintf("%+v", set.Status)
	})
}

func rolledOut(replicas int32) func(appsv1.StatefulSetStatus) bool {
	return func(s appsv1.StatefulSetStatus) bool {
		return s.Replicas == replicas && s.ReadyReplicas == replicas && s.AvailableReplicas == replicas &&
			s.UpdatedReplicas == replicas && s.CurrentReplicas == replicas && s.CurrentRevision == s.UpdateRevision
	}
}

// podsByName lists the namespace's pods that are not being deleted.
func (e *env) podsByName() (map[string]*corev1.Pod, error) {
	list, err := e.client.CoreV1().Pods(e.ns).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]*corev1.Pod{}
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp == nil {
			out[list.Items[i].Name] = &list.Items[i]
		}
	}
	return out, nil
}

// waitGone waits until the claim is deleted.
func (e *env) waitGone(what, claim string) {
	e.t.Helper()
	e.waitFor(what+" deleted", func() (bool, string, error) {
		pvc, err := e.client.CoreV1().PersistentVolumeClaims(e.ns).Get(e.ctx, claim, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, "", err
		}
		return false, fmt.Sprintf("owners %+v", pvc.OwnerReferences), nil
	})
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

// replay walks the events so far, calling step with each event's pod,
// the pods' states before it (the deleted ones removed) and its type.
func (r *recorder) replay(step func(typ watch.EventType, p *corev1.Pod, before map[string]*corev1.Pod)) {
	r.mu.Lock()
	events := slices.Clone(r.events)
	r.mu.Unlock()
	state := map[string]*corev1.Pod{}
	for _, ev := range events {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			continue
		}
		step(ev.Type, p, state)
		if ev.Type == watch.Deleted {
			delete(state, p.Name)
		} else {
			state[p.Name] = p
		}
	}
}

func ready(p *corev1.Pod) bool {
	if p == nil || p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// describe is a pod's phase, readiness and deletion, for failure messages.
func describe(p *corev1.Pod) string {
	if p == nil {
		return "absent"
	}
	return fmt.Sprintf("%s phase=%s ready=%v deleting=%v", p.Name, p.Status.Phase, ready(p), p.DeletionTimestamp != nil)
}

// startedTerminating reports whether the event is the first sign of p's deletion.
func startedTerminating(typ watch.EventType, p *corev1.Pod, before map[string]*corev1.Pod) bool {
	prev := before[p.Name]
	wasTerminating := prev != nil && prev.DeletionTimestamp != nil
	return !wasTerminating && prev != nil && (typ == watch.Deleted || p.DeletionTimestamp != nil)
}

func TestStatefulSet(t *testing.T) {
	base := start(t)

	t.Run("OrderedReady creates, updates and scales down in order", func(t *testing.T) {
		e := base.namespace(t, "ordered")
		rec := e.record()
		set := newSet("web", 3)
		set.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{
			ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}}
		set = e.create(set)
		st := e.waitStatus("web", "3 ready pods", rolledOut(3)).Status
		firstRev := st.UpdateRevision

		pods, err := e.podsByName()
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			name := "web-" + strconv.Itoa(i)
			p := pods[name]
			if p == nil {
				t.Fatalf("pod %s missing; have %v", name, pods)
			}
			ref := metav1.GetControllerOf(p)
			if ref == nil || ref.UID != set.UID {
				t.Errorf("pod %s: controller %+v", name, ref)
			}
			if p.Spec.Hostname != name || p.Spec.Subdomain != "web-svc" {
				t.Errorf("pod %s: hostname %q subdomain %q", name, p.Spec.Hostname, p.Spec.Subdomain)
			}
			wantLabels := map[string]string{"app": "web", appsv1.StatefulSetPodNameLabel: name, appsv1.PodIndexLabel: strconv.Itoa(i), appsv1.ControllerRevisionHashLabelKey: firstRev}
			for k, v := range wantLabels {
				if p.Labels[k] != v {
					t.Errorf("pod %s: label %s = %q, want %q", name, k, p.Labels[k], v)
				}
			}
			claim := "data-web-" + strconv.Itoa(i)
			if v := p.Spec.Volumes; len(v) == 0 || v[0].Name != "data" || v[0].PersistentVolumeClaim == nil || v[0].PersistentVolumeClaim.ClaimName != claim {
				t.Errorf("pod %s: volumes %+v, want data from claim %s", name, v, claim)
			}
			pvc, err := e.client.CoreV1().PersistentVolumeClaims(e.ns).Get(e.ctx, claim, metav1.GetOptions{})
			if err != nil {
				t.Errorf("claim %s: %v", claim, err)
				continue
			}
			if pvc.Labels["app"] != "web" || len(pvc.OwnerReferences) != 0 {
				t.Errorf("claim %s: labels %v owners %v, want app=web and none (Retain)", claim, pvc.Labels, pvc.OwnerReferences)
			}
		}
		added := 0
		rec.replay(func(typ watch.EventType, p *corev1.Pod, before map[string]*corev1.Pod) {
			if typ != watch.Added {
				return
			}
			added++
			if ord, _ := strconv.Atoi(strings.TrimPrefix(p.Name, "web-")); ord > 0 {
				if prev := before["web-"+strconv.Itoa(ord-1)]; !ready(prev) {
					t.Errorf("pod %s created while its predecessor was %s", p.Name, describe(prev))
				}
			}
		})
		if added != 3 {
			t.Errorf("saw %d pods created, want 3", added)
		}

		rec = e.record()
		e.update("web", func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "busybox:2" })
		st = e.waitStatus("web", "rolled to busybox:2", func(s appsv1.StatefulSetStatus) bool {
			return rolledOut(3)(s) && s.UpdateRevision != firstRev
		}).Status
		var order []string
		rec.replay(func(typ watch.EventType, p *corev1.Pod, before map[string]*corev1.Pod) {
			if !startedTerminating(typ, p, before) {
				return
			}
			order = append(order, p.Name)
			for name, q := range before {
				if name != p.Name && !ready(q) {
					t.Errorf("pod %s deleted for the update while %s was not ready", p.Name, name)
				}
			}
		})
		if diff := slices.Compare(order, []string{"web-2", "web-1", "web-0"}); diff != 0 {
			t.Errorf("update replaced %v, want web-2, web-1, web-0", order)
		}
		pods, err = e.podsByName()
		if err != nil {
			t.Fatal(err)
		}
		for name, p := range pods {
			if p.Spec.Containers[0].Image != "busybox:2" || p.Labels[appsv1.ControllerRevisionHashLabelKey] != st.UpdateRevision {
				t.Errorf("pod %s after the update: image %s revision %s", name, p.Spec.Containers[0].Image, p.Labels[appsv1.ControllerRevisionHashLabelKey])
			}
		}
		revs, err := e.client.AppsV1().ControllerRevisions(e.ns).List(e.ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, r := range revs.Items {
			got[r.Name] = r.Revision
		}
		if want := map[string]int64{firstRev: 1, st.UpdateRevision: 2}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("revisions %v, want %v", got, want)
		}

		rec = e.record()
		e.update("web", func(s *appsv1.StatefulSet) { s.Spec.Replicas = new(int32(1)) })
		e.waitStatus("web", "1 replica", rolledOut(1))
		order = nil
		rec.replay(func(typ watch.EventType, p *corev1.Pod, before map[string]*corev1.Pod) {
			if startedTerminating(typ, p, before) {
				order = append(order, p.Name)
				if p.Name == "web-1" && before["web-2"] != nil {
					t.Errorf("web-1 deleted before web-2 was gone")
				}
			}
		})
		if slices.Compare(order, []string{"web-2", "web-1"}) != 0 {
			t.Errorf("scale down deleted %v, want web-2, web-1", order)
		}
		if _, err := e.client.CoreV1().PersistentVolumeClaims(e.ns).Get(e.ctx, "data-web-2", metav1.GetOptions{}); err != nil {
			t.Errorf("claim of a scaled-away pod with whenScaled=Retain: %v", err)
		}
	})

	t.Run("Parallel, partition, ordinals and failed pods", func(t *testing.T) {
		e := base.namespace(t, "parallel")
		set := newSet("db", 4)
		set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
		set.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 5}
		set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{
			Type:          appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: new(int32(2)), MaxUnavailable: new(intstr.FromInt32(2))},
		}
		e.create(set)
		first := e.waitStatus("db", "4 ready pods", rolledOut(4)).Status.UpdateRevision
		pods, err := e.podsByName()
		if err != nil {
			t.Fatal(err)
		}
		if names := slices.Sorted(maps.Keys(pods)); slices.Compare(names, []string{"db-5", "db-6", "db-7", "db-8"}) != 0 {
			t.Fatalf("pods %v, want db-5..db-8", names)
		}

		e.update("db", func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "busybox:2" })
		st := e.waitStatus("db", "pods from the partition on updated", func(s appsv1.StatefulSetStatus) bool {
			return s.UpdatedReplicas == 2 && s.ReadyReplicas == 4 && s.CurrentRevision == first
		}).Status
		e.waitFor("db-7 and db-8 updated, db-5 and db-6 not", func() (bool, string, error) {
			pods, err := e.podsByName()
			if err != nil {
				return false, "", err
			}
			var desc []string
			ok := true
			for name, p := range pods {
				rev := p.Labels[appsv1.ControllerRevisionHashLabelKey]
				desc = append(desc, name+"="+rev)
				want := first
				if name == "db-7" || name == "db-8" {
					want = st.UpdateRevision
				}
				ok = ok && rev == want && ready(p)
			}
			return ok && len(pods) == 4, strings.Join(desc, " "), nil
		})

		// A failed pod is replaced, at its revision (below the partition: the current one).
		p := pods["db-5"]
		p.Status.Phase = corev1.PodFailed
		if _, err := e.client.CoreV1().Pods(e.ns).UpdateStatus(e.ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitFor("db-5 recreated", func() (bool, string, error) {
			got, err := e.client.CoreV1().Pods(e.ns).Get(e.ctx, "db-5", metav1.GetOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			return got.UID != p.UID && ready(got) && got.Labels[appsv1.ControllerRevisionHashLabelKey] == first, string(got.UID), nil
		})

		e.update("db", func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = new(int32(0)) })
		e.waitStatus("db", "all updated", rolledOut(4))
	})

	t.Run("a pod waits until its old claim is deleted", func(t *testing.T) {
		e := base.namespace(t, "stale")
		old := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "data-cache-0", Finalizers: []string{"example.com/hold"}},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}
		old, err := e.client.CoreV1().PersistentVolumeClaims(e.ns).Create(e.ctx, old, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.client.CoreV1().PersistentVolumeClaims(e.ns).Delete(e.ctx, old.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		set := newSet("cache", 1)
		set.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: old.Spec}}
		e.create(set)
		e.waitStatus("cache", "observed without pods", func(s appsv1.StatefulSetStatus) bool { return s.UpdateRevision != "" && s.Replicas == 0 })
		if _, err := e.client.CoreV1().Pods(e.ns).Get(e.ctx, "cache-0", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("cache-0 created while its claim was being deleted (err %v)", err)
		}
		claims := e.client.CoreV1().PersistentVolumeClaims(e.ns)
		controllertest.Update(e.ctx, t, old.Name, claims.Get, claims.Update, func(pvc *corev1.PersistentVolumeClaim) {
			pvc.Finalizers = nil
		})
		e.waitStatus("cache", "cache-0 ready", rolledOut(1))
		pvc, err := e.client.CoreV1().PersistentVolumeClaims(e.ns).Get(e.ctx, old.Name, metav1.GetOptions{})
		if err != nil || pvc.UID == old.UID {
			t.Errorf("claim after the old one went: %v, %v", pvc, err)
		}
	})

	t.Run("OnDelete and retention policy Delete", func(t *testing.T) {
		e := base.namespace(t, "ondelete")
		set := newSet("kv", 2)
		set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
		set.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
			WhenDeleted: appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
			WhenScaled:  appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
		}
		set.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{
			ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}}
		set = e.create(set)
		first := e.waitStatus("kv", "2 ready", func(s appsv1.StatefulSetStatus) bool { return s.ReadyReplicas == 2 }).Status.UpdateRevision
		for _, name := range []string{"data-kv-0", "data-kv-1"} {
			pvc, err := e.client.CoreV1().PersistentVolumeClaims(e.ns).Get(e.ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(pvc.OwnerReferences) != 1 || pvc.OwnerReferences[0].UID != set.UID {
				t.Errorf("claim %s owners %+v, want the set (whenDeleted=Delete)", name, pvc.OwnerReferences)
			}
		}

		e.update("kv", func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "busybox:2" })
		st := e.waitStatus("kv", "a new update revision", func(s appsv1.StatefulSetStatus) bool { return s.UpdateRevision != first }).Status
		pods, err := e.podsByName()
		if err != nil {
			t.Fatal(err)
		}
		if rev := pods["kv-1"].Labels[appsv1.ControllerRevisionHashLabelKey]; rev != first {
			t.Errorf("OnDelete replaced kv-1 by itself (revision %s)", rev)
		}
		if err := e.client.CoreV1().Pods(e.ns).Delete(e.ctx, "kv-1", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitFor("kv-1 recreated at the update revision", func() (bool, string, error) {
			p, err := e.client.CoreV1().Pods(e.ns).Get(e.ctx, "kv-1", metav1.GetOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			return p.Labels[appsv1.ControllerRevisionHashLabelKey] == st.UpdateRevision && p.Spec.Containers[0].Image == "busybox:2", p.Labels[appsv1.ControllerRevisionHashLabelKey], nil
		})

		e.update("kv", func(s *appsv1.StatefulSet) { s.Spec.Replicas = new(int32(1)) })
		e.waitStatus("kv", "1 replica", func(s appsv1.StatefulSetStatus) bool { return s.Replicas == 1 })
		// The set still exists and owned the claim: only its move to the
		// pod scaled away lets the garbage collector delete it.
		e.waitGone("the claim of the scaled-away pod", "data-kv-1")

		if err := e.client.AppsV1().StatefulSets(e.ns).Delete(e.ctx, "kv", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitGone("the claim of the deleted set", "data-kv-0")
	})
}
