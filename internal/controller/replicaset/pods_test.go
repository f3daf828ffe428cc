package replicaset

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// testPod builds pods for the tests.
type testPod struct{ p *corev1.Pod }

func newPod(name string) testPod {
	return testPod{&corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: "ns", UID: types.UID("uid-" + name),
		CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour)),
		Labels:            map[string]string{"app": "web"},
	}, Status: corev1.PodStatus{Phase: corev1.PodPending}}}
}

func (b testPod) node(n string) testPod { b.p.Spec.NodeName = n; return b }
func (b testPod) phase(ph corev1.PodPhase) testPod {
	b.p.Status.Phase = ph
	return b
}
func (b testPod) created(t time.Time) testPod { b.p.CreationTimestamp = metav1.NewTime(t); return b }
func (b testPod) ready(since time.Time) testPod {
	b.p.Status.Phase = corev1.PodRunning
	b.p.Status.Conditions = append(b.p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(since)})
	return b
}
func (b testPod) restarts(n int32) testPod {
	b.p.Status.ContainerStatuses = append(b.p.Status.ContainerStatuses, corev1.ContainerStatus{Name: "c", RestartCount: n})
	return b
}
func (b testPod) cost(c string) testPod {
	b.p.Annotations = map[string]string{deletionCostAnnotation: c}
	return b
}
func (b testPod) deleting() testPod                  { b.p.DeletionTimestamp = &metav1.Time{Time: t0}; return b }
func (b testPod) labels(l map[string]string) testPod { b.p.Labels = l; return b }
func (b testPod) obj() *corev1.Pod                   { return b.p }

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestPodsToDelete(t *testing.T) {
	tests := []struct {
		name    string
		pods    []*corev1.Pod
		related []*corev1.Pod // nil means pods
		n       int
		want    []string
	}{
		{
			name: "unassigned before assigned",
			pods: []*corev1.Pod{newPod("a").node("n1").obj(), newPod("b").obj()},
			n:    1, want: []string{"b"},
		},
		{
			name: "pending, unknown, running",
			pods: []*corev1.Pod{newPod("run").node("n").phase(corev1.PodRunning).obj(), newPod("unk").node("n").phase(corev1.PodUnknown).obj(), newPod("pend").node("n").obj()},
			n:    3, want: []string{"pend", "unk", "run"},
		},
		{
			name: "not ready before ready",
			pods: []*corev1.Pod{newPod("r").node("n").ready(t0.Add(-time.Minute)).obj(), newPod("nr").node("n").phase(corev1.PodRunning).obj()},
			n:    1, want: []string{"nr"},
		},
		{
			name: "lower deletion cost first",
			pods: []*corev1.Pod{newPod("hi").cost("10").obj(), newPod("lo").cost("-5").obj(), newPod("none").obj()},
			n:    3, want: []string{"lo", "none", "hi"},
		},
		{
			name: "more pods of the family on the node first",
			pods: []*corev1.Pod{newPod("alone").node("n1").obj(), newPod("crowded").node("n2").obj()},
			related: []*corev1.Pod{
				newPod("alone").node("n1").obj(), newPod("crowded").node("n2").obj(),
				newPod("sibling").node("n2").obj(), newPod("gone").node("n1").phase(corev1.PodFailed).obj(),
			},
			n: 1, want: []string{"crowded"},
		},
		{
			name: "ready for less time first",
			pods: []*corev1.Pod{newPod("old").node("n").ready(t0.Add(-10 * time.Hour)).obj(), newPod("new").node("n").ready(t0.Add(-time.Second)).obj()},
			n:    1, want: []string{"new"},
		},
		{
			name: "more restarts first",
			pods: []*corev1.Pod{newPod("few").restarts(1).obj(), newPod("many").restarts(7).obj()},
			n:    1, want: []string{"many"},
		},
		{
			name: "newer first",
			pods: []*corev1.Pod{newPod("old").created(t0.Add(-48 * time.Hour)).obj(), newPod("new").created(t0.Add(-time.Minute)).obj(), newPod("mid").created(t0.Add(-2 * time.Hour)).obj()},
			n:    3, want: []string{"new", "mid", "old"},
		},
		{
			name: "same age bucket ties broken by uid",
			pods: []*corev1.Pod{newPod("b").created(t0.Add(-100 * time.Second)).obj(), newPod("a").created(t0.Add(-101 * time.Second)).obj()},
			n:    2, want: []string{"a", "b"},
		},
		{
			name: "all when n covers them",
			pods: []*corev1.Pod{newPod("a").obj(), newPod("b").obj()},
			n:    5, want: []string{"a", "b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			related := tt.related
			if related == nil {
				related = tt.pods
			}
			got := names(podsToDelete(tt.pods, related, tt.n, t0))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("podsToDelete (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSlowStartBatch(t *testing.T) {
	tests := []struct {
		name      string
		count     int
		failAfter int64 // calls after this many fail; -1 never
		wantDone  int
		wantCalls int64
	}{
		{name: "all succeed", count: 10, failAfter: -1, wantDone: 10, wantCalls: 10},
		{name: "first fails stops after one", count: 10, failAfter: 0, wantDone: 0, wantCalls: 1},
		// Batches 1, 2, 4: the batch of 4 has two failures and is the last.
		{name: "stops after the failing batch", count: 20, failAfter: 5, wantDone: 5, wantCalls: 7},
		{name: "nothing", count: 0, failAfter: -1, wantDone: 0, wantCalls: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls, ok atomic.Int64
			done, err := slowStartBatch(tt.count, 1, func() error {
				calls.Add(1)
				if tt.failAfter >= 0 && ok.Add(1) > tt.failAfter {
					return errors.New("quota")
				}
				return nil
			})
			if done != tt.wantDone || calls.Load() != tt.wantCalls {
				t.Errorf("done %d after %d calls; want %d after %d", done, calls.Load(), tt.wantDone, tt.wantCalls)
			}
			if (err != nil) != (tt.wantDone < tt.count) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func testRS(replicas int32, minReady int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "rs-uid", Generation: 3},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas, MinReadySeconds: minReady,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}}},
		},
	}
}

func TestComputeStatus(t *testing.T) {
	failure := appsv1.ReplicaSetCondition{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: "creating pods: quota", LastTransitionTime: metav1.NewTime(t0)}
	full := map[string]string{"app": "web", "tier": "front"}
	tests := []struct {
		name        string
		rs          *appsv1.ReplicaSet
		pods        []*corev1.Pod
		terminating int32
		err         error
		want        appsv1.ReplicaSetStatus
	}{
		{
			name: "counts",
			rs:   testRS(4, 10),
			pods: []*corev1.Pod{
				newPod("a").labels(full).ready(t0.Add(-time.Minute)).obj(),
				newPod("b").labels(full).ready(t0.Add(-5 * time.Second)).obj(),
				newPod("c").ready(t0.Add(-10 * time.Second)).obj(), // exactly minReadySeconds: not yet
				newPod("d").obj(),
			},
			terminating: 2,
			want:        appsv1.ReplicaSetStatus{Replicas: 4, FullyLabeledReplicas: 2, ReadyReplicas: 3, AvailableReplicas: 1, TerminatingReplicas: new(int32(2)), ObservedGeneration: 3},
		},
		{
			name: "create failure adds the condition",
			rs:   testRS(2, 0),
			pods: []*corev1.Pod{newPod("a").ready(t0).obj()},
			err:  errors.New("creating pods: quota"),
			want: appsv1.ReplicaSetStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, TerminatingReplicas: new(int32(0)), ObservedGeneration: 3, Conditions: []appsv1.ReplicaSetCondition{failure}},
		},
		{
			name: "success removes it",
			rs: func() *appsv1.ReplicaSet {
				rs := testRS(0, 0)
				rs.Status.Conditions = []appsv1.ReplicaSetCondition{failure}
				return rs
			}(),
			want: appsv1.ReplicaSetStatus{TerminatingReplicas: new(int32(0)), ObservedGeneration: 3},
		},
		{
			name: "a delete failure is FailedDelete",
			rs:   testRS(0, 0),
			pods: []*corev1.Pod{newPod("a").obj()},
			err:  errors.New("deleting: forbidden"),
			want: appsv1.ReplicaSetStatus{Replicas: 1, TerminatingReplicas: new(int32(0)), ObservedGeneration: 3, Conditions: []appsv1.ReplicaSetCondition{{
				Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedDelete", Message: "deleting: forbidden", LastTransitionTime: metav1.NewTime(t0),
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := computeStatus(tt.rs, tt.pods, tt.terminating, tt.err, t0)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("computeStatus (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNextAvailableCheck(t *testing.T) {
	pods := []*corev1.Pod{
		newPod("avail").ready(t0.Add(-time.Minute)).obj(),
		newPod("soon").ready(t0.Add(-8 * time.Second)).obj(),
		newPod("later").ready(t0.Add(-2 * time.Second)).obj(),
		newPod("notready").obj(),
	}
	d, ok := nextAvailableCheck(pods, 10, t0)
	if want := 2*time.Second + time.Millisecond; !ok || d != want {
		t.Errorf("nextAvailableCheck = %v, %v; want %v, true", d, ok, want)
	}
	if _, ok := nextAvailableCheck(pods[:1], 10, t0); ok {
		t.Errorf("nextAvailableCheck with every ready pod available: want none")
	}
	if _, ok := nextAvailableCheck(pods, 0, t0); ok {
		t.Errorf("nextAvailableCheck with minReadySeconds 0: want none")
	}
}

func TestFilterActive(t *testing.T) {
	pods := []*corev1.Pod{
		newPod("pending").obj(), newPod("running").phase(corev1.PodRunning).obj(),
		newPod("failed").phase(corev1.PodFailed).obj(), newPod("done").phase(corev1.PodSucceeded).obj(),
		newPod("deleting").deleting().obj(),
	}
	if diff := cmp.Diff([]string{"pending", "running"}, names(filterActive(pods))); diff != "" {
		t.Errorf("filterActive (-want +got):\n%s", diff)
	}
}

func TestPodFromTemplate(t *testing.T) {
	rs := testRS(1, 0)
	rs.Spec.Template.Annotations = map[string]string{"a": "b"}
	rs.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox"}}
	got := podFromTemplate(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
	want := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "web-", Namespace: "ns",
			Labels: map[string]string{"app": "web", "tier": "front"}, Annotations: map[string]string{"a": "b"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "rs-uid", Controller: new(true), BlockOwnerDeletion: new(true)}},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("podFromTemplate (-want +got):\n%s", diff)
	}
	got.Labels["app"] = "changed"
	if rs.Spec.Template.Labels["app"] != "web" {
		t.Errorf("podFromTemplate shares labels with the template")
	}
}

func TestReplicationControllerView(t *testing.T) {
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "rc", Namespace: "ns", UID: "u", Generation: 2},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: new(int32(3)), MinReadySeconds: 4, Selector: map[string]string{"app": "x"},
			Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}}},
		},
		Status: corev1.ReplicationControllerStatus{
			Replicas: 1, FullyLabeledReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 1,
			Conditions: []corev1.ReplicationControllerCondition{{Type: corev1.ReplicationControllerReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: "m"}},
		},
	}
	rs := rcToRS(rc)
	if diff := cmp.Diff(&metav1.LabelSelector{MatchLabels: rc.Spec.Selector}, rs.Spec.Selector); diff != "" {
		t.Errorf("selector (-want +got):\n%s", diff)
	}
	if *rs.Spec.Replicas != 3 || rs.Spec.MinReadySeconds != 4 || rs.Spec.Template.Labels["app"] != "x" {
		t.Errorf("spec not carried over: %+v", rs.Spec)
	}
	if diff := cmp.Diff(rc.Status, rsStatusToRC(rs.Status)); diff != "" {
		t.Errorf("status round trip (-want +got):\n%s", diff)
	}
}
