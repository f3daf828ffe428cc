package statefulset

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// setBuilder builds StatefulSets for tests.
type setBuilder struct{ s *appsv1.StatefulSet }

func testSet(replicas int32) setBuilder {
	return setBuilder{&appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "set-uid"},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &replicas,
			ServiceName: "svc",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
			},
			PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
				Type:          appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: new(int32(0))},
			},
		},
	}}
}

func (b setBuilder) parallel() setBuilder {
	b.s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	return b
}
func (b setBuilder) onDelete() setBuilder {
	b.s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	return b
}
func (b setBuilder) partition(n int32) setBuilder {
	b.s.Spec.UpdateStrategy.RollingUpdate.Partition = &n
	return b
}
func (b setBuilder) maxUnavailable(v intstr.IntOrString) setBuilder {
	b.s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = &v
	return b
}
func (b setBuilder) start(n int32) setBuilder {
	b.s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: n}
	return b
}
func (b setBuilder) minReady(s int32) setBuilder {
	b.s.Spec.MinReadySeconds = s
	return b
}
func (b setBuilder) claim(name string) setBuilder {
	b.s.Spec.VolumeClaimTemplates = append(b.s.Spec.VolumeClaimTemplates, corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name}})
	return b
}
func (b setBuilder) retention(deleted, scaled appsv1.PersistentVolumeClaimRetentionPolicyType) setBuilder {
	b.s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: deleted, WhenScaled: scaled}
	return b
}

// revs returns revisions "old" (current) and "new" (update) of the set.
func (b setBuilder) revs() revisions {
	return revisions{current: b.s, update: b.s, currentName: "old", updateName: "new"}
}

// podBuilder builds pods of the set "web".
type podBuilder struct{ p *corev1.Pod }

func pod(ord int, rev string) podBuilder {
	name := fmt.Sprintf("web-%d", ord)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name + "-uid"), Labels: map[string]string{
			"app": "web", revisionLabel: rev, appsv1.StatefulSetPodNameLabel: name, appsv1.PodIndexLabel: fmt.Sprint(ord),
		}},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	return podBuilder{p}
}

// ready makes the pod Running and Ready since ago before now.
func (b podBuilder) ready(ago time.Duration) podBuilder {
	b.p.Status.Phase = corev1.PodRunning
	b.p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-ago))}}
	return b
}
func (b podBuilder) running() podBuilder {
	b.p.Status.Phase = corev1.PodRunning
	return b
}
func (b podBuilder) phase(ph corev1.PodPhase) podBuilder {
	b.p.Status.Phase = ph
	return b
}
func (b podBuilder) deleting() podBuilder {
	b.p.DeletionTimestamp = &metav1.Time{Time: now}
	return b
}
func (b podBuilder) label(k, v string) podBuilder {
	b.p.Labels[k] = v
	return b
}

func pods(bs ...podBuilder) []*corev1.Pod {
	var out []*corev1.Pod
	for _, b := range bs {
		out = append(out, b.p)
	}
	return out
}

func TestPlan(t *testing.T) {
	const ok = time.Hour // ready long ago
	tests := []struct {
		name   string
		set    setBuilder
		pods   []*corev1.Pod
		claims []string
		want   []string // kind:pod, and @revision for creations
		rolled int32
	}{
		{name: "ordered creates the first missing pod only", set: testSet(3),
			want: []string{"create:web-0@new"}},
		{name: "ordered waits for a pending predecessor", set: testSet(3), pods: pods(pod(0, "new"))},
		{name: "ordered waits for a running but unready predecessor", set: testSet(3), pods: pods(pod(0, "new").running())},
		{name: "ordered creates after a ready predecessor", set: testSet(3), pods: pods(pod(0, "new").ready(ok)),
			want: []string{"create:web-1@new"}},
		{name: "ordered waits for minReadySeconds", set: testSet(3).minReady(10), pods: pods(pod(0, "new").ready(5 * time.Second))},
		{name: "ordered goes on once available", set: testSet(3).minReady(10), pods: pods(pod(0, "new").ready(10 * time.Second)),
			want: []string{"create:web-1@new"}},
		{name: "ordered fills a hole first", set: testSet(3), pods: pods(pod(0, "new").ready(ok), pod(2, "new").ready(ok)),
			want: []string{"create:web-1@new"}},
		{name: "ordered waits for a terminating pod", set: testSet(2), pods: pods(pod(0, "new").ready(ok).deleting())},
		{name: "parallel creates every missing pod", set: testSet(3).parallel(), pods: pods(pod(1, "new")),
			want: []string{"create:web-0@new", "create:web-2@new"}},
		{name: "ordinals start", set: testSet(2).start(5).parallel(),
			want: []string{"create:web-5@new", "create:web-6@new"}},
		{name: "a failed pod is deleted and nothing after it happens", set: testSet(3),
			pods: pods(pod(0, "new").phase(corev1.PodFailed), pod(1, "new").ready(ok)),
			want: []string{"remove:web-0"}},
		{name: "a succeeded pod is deleted too", set: testSet(1), pods: pods(pod(0, "new").phase(corev1.PodSucceeded)),
			want: []string{"remove:web-0"}},
		{name: "a failed pod already being deleted waits", set: testSet(1),
			pods: pods(pod(0, "new").phase(corev1.PodFailed).deleting())},
		{name: "ordered scale down deletes the highest first", set: testSet(1),
			pods: pods(pod(0, "new").ready(ok), pod(1, "new").ready(ok), pod(2, "new").ready(ok)),
			want: []string{"remove:web-2"}},
		{name: "ordered scale down waits for the terminating pod", set: testSet(1),
			pods: pods(pod(0, "new").ready(ok), pod(1, "new").ready(ok), pod(2, "new").ready(ok).deleting())},
		{name: "ordered scale down waits while a pod in range is unhealthy", set: testSet(2),
			pods: pods(pod(0, "new").running(), pod(1, "new").ready(ok), pod(2, "new").ready(ok))},
		{name: "ordered scale down removes an unhealthy condemned pod first", set: testSet(1),
			pods: pods(pod(0, "new").ready(ok), pod(1, "new").ready(ok), pod(2, "new").running()),
			want: []string{"remove:web-2"}},
		{name: "ordered scale down deletes a healthy pod above an unhealthy one", set: testSet(1),
			pods: pods(pod(0, "new").ready(ok), pod(1, "new").running(), pod(2, "new").ready(ok)),
			want: []string{"remove:web-2"}},
		{name: "ordered scale down blocks on an unhealthy pod that is not the first unhealthy", set: testSet(1),
			pods: pods(pod(0, "new").ready(ok), pod(1, "new").running(), pod(2, "new").running())},
		{name: "parallel scale down deletes all at once", set: testSet(1).parallel(),
			pods: pods(pod(0, "new").ready(ok), pod(1, "new").running(), pod(2, "new").ready(ok)),
			want: []string{"remove:web-2", "remove:web-1"}},
		{name: "rolling update replaces the highest old pod", set: testSet(3),
			pods:   pods(pod(0, "old").ready(ok), pod(1, "old").ready(ok), pod(2, "old").ready(ok)),
			want:   []string{"remove:web-2"},
			rolled: 1},
		{name: "rolling update goes down the ordinals", set: testSet(3),
			pods:   pods(pod(0, "old").ready(ok), pod(1, "old").ready(ok), pod(2, "new").ready(ok)),
			want:   []string{"remove:web-1"},
			rolled: 1},
		{name: "rolling update stops at the partition", set: testSet(3).partition(2),
			pods: pods(pod(0, "old").ready(ok), pod(1, "old").ready(ok), pod(2, "new").ready(ok))},
		{name: "rolling update within maxUnavailable", set: testSet(4).parallel().maxUnavailable(intstr.FromString("50%")),
			pods:   pods(pod(0, "old").ready(ok), pod(1, "old").ready(ok), pod(2, "old").ready(ok), pod(3, "old").ready(ok)),
			want:   []string{"remove:web-3", "remove:web-2"},
			rolled: 2},
		{name: "unavailable pods use up maxUnavailable", set: testSet(4).parallel().maxUnavailable(intstr.FromInt32(2)),
			pods:   pods(pod(0, "old").ready(ok), pod(1, "old").running(), pod(2, "old").ready(ok), pod(3, "new").ready(ok)),
			want:   []string{"remove:web-2"},
			rolled: 1},
		{name: "OnDelete leaves old pods", set: testSet(2).onDelete(),
			pods: pods(pod(0, "old").ready(ok), pod(1, "old").ready(ok))},
		{name: "missing pods below the partition are current", set: testSet(2).partition(1).parallel(),
			want: []string{"create:web-0@old", "create:web-1@new"}},
		{name: "lost identity labels are restored", set: testSet(1),
			pods: pods(pod(0, "new").ready(ok).label(appsv1.PodIndexLabel, "7")),
			want: []string{"fix:web-0"}},
		{name: "a pending pod gets its missing claims", set: testSet(1).claim("data"), pods: pods(pod(0, "new")),
			want: []string{"fix:web-0"}},
		{name: "claims of a pod scaled away get the pod as owner", set: testSet(1).claim("data").
			retention(appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType),
			pods:   pods(pod(0, "new").ready(ok), pod(1, "new").ready(ok)),
			claims: []string{"data-web-0", "data-web-1"},
			want:   []string{"fix:web-1", "remove:web-1"}},
		{name: "claims match Retain", set: testSet(1).claim("data"),
			pods: pods(pod(0, "new").ready(ok)), claims: []string{"data-web-0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := tt.set.s
			claims := map[string]*corev1.PersistentVolumeClaim{}
			for _, c := range tt.claims {
				claims[c] = &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: c, Namespace: "ns"}}
			}
			acts, rolled := plan(set, tt.set.revs(), tt.pods, claims, now)
			var got []string
			for _, a := range acts {
				s := a.kind.String() + ":" + a.pod.Name
				if a.kind == create {
					s += "@" + a.pod.Labels[revisionLabel]
				}
				got = append(got, s)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			if rolled != tt.rolled {
				t.Errorf("rolled = %d, want %d", rolled, tt.rolled)
			}
		})
	}
}

func TestSlowStart(t *testing.T) {
	tests := []struct {
		name      string
		n, fail   int // fail is the index of the failing write, -1 for none
		attempted int
	}{
		{name: "all succeed", n: 7, fail: -1, attempted: 7},
		{name: "the first fails", n: 7, fail: 0, attempted: 1},
		{name: "a failure in the second batch stops there", n: 7, fail: 1, attempted: 3},
		{name: "a failure in the third batch", n: 10, fail: 4, attempted: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var acts []action
			for i := range tt.n {
				acts = append(acts, action{create, pod(i, "new").p})
			}
			var mu sync.Mutex
			attempted := 0
			err := slowStart(acts, func(a action) error {
				mu.Lock()
				defer mu.Unlock()
				attempted++
				if a.pod.Name == fmt.Sprintf("web-%d", tt.fail) {
					return errors.New("refused")
				}
				return nil
			})
			if (err != nil) != (tt.fail >= 0) || attempted != tt.attempted {
				t.Errorf("err = %v after %d writes; want failure %v after %d", err, attempted, tt.fail >= 0, tt.attempted)
			}
		})
	}
}
