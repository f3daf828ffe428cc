package deployment

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// testDeploy builds a Deployment fixture.
type testDeploy struct{ d *appsv1.Deployment }

func deploy(n int32) *testDeploy {
	return &testDeploy{&appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(n),
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
			ProgressDeadlineSeconds: ptr.To[int32](600),
		},
	}}
}

func (b *testDeploy) rolling(surge, unavailable intstr.IntOrString) *testDeploy {
	b.d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable}
	return b
}

func (b *testDeploy) recreate() *testDeploy {
	b.d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	return b
}

func (b *testDeploy) obj() *appsv1.Deployment { return b.d }

// rs builds a ReplicaSet fixture created at epoch+age seconds with spec
// replicas n and available pods.
func rs(name string, age int, n, available int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(epoch.Add(time.Duration(age) * time.Second))},
		Spec:       appsv1.ReplicaSetSpec{Replicas: ptr.To(n)},
		Status:     appsv1.ReplicaSetStatus{Replicas: n, ReadyReplicas: available, AvailableReplicas: available},
	}
}

func annotated(r *appsv1.ReplicaSet, kv ...string) *appsv1.ReplicaSet {
	r.Annotations = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Annotations[kv[i]] = kv[i+1]
	}
	return r
}

func TestComputeHash(t *testing.T) {
	tmpl := deploy(1).obj().Spec.Template
	a := computeHash(&tmpl, nil)
	if a != computeHash(tmpl.DeepCopy(), nil) {
		t.Fatalf("hash not deterministic")
	}
	if b := computeHash(&tmpl, ptr.To[int32](1)); b == a {
		t.Errorf("collision count does not change the hash %q", a)
	}
	other := tmpl.DeepCopy()
	other.Spec.Containers[0].Image = "nginx:2"
	if computeHash(other, nil) == a {
		t.Errorf("image change does not change the hash %q", a)
	}
	for _, r := range a {
		if !strconv.IsPrint(r) || r == '-' {
			t.Errorf("hash %q has unexpected character %q", a, r)
		}
	}
}

func TestEqualIgnoreHash(t *testing.T) {
	a := deploy(1).obj().Spec.Template
	b := *a.DeepCopy()
	b.Labels[hashLabel] = "abc"
	if !equalIgnoreHash(&a, &b) {
		t.Errorf("templates differing only in %s not equal", hashLabel)
	}
	b.Spec.Containers[0].Image = "other"
	if equalIgnoreHash(&a, &b) {
		t.Errorf("templates with different images equal")
	}
	if _, ok := a.Labels[hashLabel]; ok {
		t.Errorf("equalIgnoreHash modified its argument")
	}
}

func TestFenceposts(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		surge, unavailable    intstr.IntOrString
		n                     int32
		wantSurge, wantUnavbl int32
	}{
		{"ints", intstr.FromInt32(1), intstr.FromInt32(0), 3, 1, 0},
		{"percent surge rounds up, unavailable down", intstr.FromString("25%"), intstr.FromString("25%"), 10, 3, 2},
		{"both zero becomes one unavailable", intstr.FromInt32(0), intstr.FromString("10%"), 5, 0, 1},
		{"100 percent", intstr.FromString("100%"), intstr.FromString("0%"), 4, 4, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, u, err := fenceposts(&tc.surge, &tc.unavailable, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([2]int32{tc.wantSurge, tc.wantUnavbl}, [2]int32{s, u}); diff != "" {
				t.Errorf("(surge, unavailable) mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, _, err := fenceposts(ptr.To(intstr.FromString("x%")), nil, 3); err == nil {
		t.Errorf("invalid percentage accepted")
	}
}

func TestMaxUnavailableCapped(t *testing.T) {
	d := deploy(2).rolling(intstr.FromInt32(0), intstr.FromInt32(5)).obj()
	if got := maxUnavailable(d); got != 2 {
		t.Errorf("maxUnavailable = %d, want 2", got)
	}
	if got := maxUnavailable(deploy(2).recreate().obj()); got != 0 {
		t.Errorf("maxUnavailable(Recreate) = %d, want 0", got)
	}
}

func TestNewReplicaSetReplicas(t *testing.T) {
	for _, tc := range []struct {
		name  string
		d     *appsv1.Deployment
		newRS *appsv1.ReplicaSet
		old   []*appsv1.ReplicaSet
		want  int32
	}{
		{"surge one above three", deploy(3).rolling(intstr.FromInt32(1), intstr.FromInt32(0)).obj(),
			rs("new", 2, 0, 0), []*appsv1.ReplicaSet{rs("old", 1, 3, 3)}, 1},
		{"no room left", deploy(3).rolling(intstr.FromInt32(1), intstr.FromInt32(0)).obj(),
			rs("new", 2, 1, 0), []*appsv1.ReplicaSet{rs("old", 1, 3, 3)}, 1},
		{"never above replicas", deploy(3).rolling(intstr.FromInt32(5), intstr.FromInt32(0)).obj(),
			rs("new", 2, 0, 0), []*appsv1.ReplicaSet{rs("old", 1, 1, 1)}, 3},
		{"percent surge", deploy(10).rolling(intstr.FromString("25%"), intstr.FromString("25%")).obj(),
			rs("new", 2, 0, 0), []*appsv1.ReplicaSet{rs("old", 1, 10, 10)}, 3},
		{"recreate takes all", deploy(4).recreate().obj(),
			rs("new", 2, 0, 0), []*appsv1.ReplicaSet{rs("old", 1, 0, 0)}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := newReplicaSetReplicas(tc.d, append(tc.old, tc.newRS), tc.newRS)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("newReplicaSetReplicas = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestScaleDownOld(t *testing.T) {
	for _, tc := range []struct {
		name  string
		d     *appsv1.Deployment
		newRS *appsv1.ReplicaSet
		old   []*appsv1.ReplicaSet
		want  map[string]int32
	}{
		{"new not yet available: keep old", deploy(3).rolling(intstr.FromInt32(1), intstr.FromInt32(0)).obj(),
			rs("new", 2, 1, 0), []*appsv1.ReplicaSet{rs("old", 1, 3, 3)}, nil},
		{"new pod available: one old goes", deploy(3).rolling(intstr.FromInt32(1), intstr.FromInt32(0)).obj(),
			rs("new", 2, 1, 1), []*appsv1.ReplicaSet{rs("old", 1, 3, 3)}, map[string]int32{"old": 2}},
		{"unavailable budget", deploy(4).rolling(intstr.FromInt32(0), intstr.FromInt32(2)).obj(),
			rs("new", 2, 0, 0), []*appsv1.ReplicaSet{rs("old", 1, 4, 4)}, map[string]int32{"old": 2}},
		{"unhealthy old replicas go first, oldest set first", deploy(4).rolling(intstr.FromInt32(1), intstr.FromInt32(0)).obj(),
			rs("new", 3, 1, 1), []*appsv1.ReplicaSet{rs("mid", 2, 2, 2), rs("oldest", 1, 2, 1)}, map[string]int32{"oldest": 1}},
		{"nothing old", deploy(3).obj(), rs("new", 2, 3, 3), []*appsv1.ReplicaSet{rs("old", 1, 0, 0)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := scaleDownOld(tc.d, tc.newRS, tc.old)
			if len(got) == 0 {
				got = nil
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("scaleDownOld mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScalePlan(t *testing.T) {
	surge3 := func(n int32) *appsv1.Deployment {
		d := deploy(n).rolling(intstr.FromInt32(3), intstr.FromInt32(2)).obj()
		d.Status.Replicas = 13
		return d
	}
	for _, tc := range []struct {
		name  string
		d     *appsv1.Deployment
		newRS *appsv1.ReplicaSet
		old   []*appsv1.ReplicaSet
		want  map[string]int32
	}{
		{"single active set takes all", deploy(5).obj(), rs("new", 2, 3, 3), []*appsv1.ReplicaSet{rs("old", 1, 0, 0)},
			map[string]int32{"new": 5}},
		{"single active set already right", deploy(3).obj(), rs("new", 2, 3, 3), nil, nil},
		{"no active set: newest takes all", deploy(2).obj(), nil, []*appsv1.ReplicaSet{rs("a", 1, 0, 0), rs("b", 2, 0, 0)},
			map[string]int32{"b": 2}},
		{"saturated new set: old to zero", deploy(3).obj(),
			annotated(rs("new", 2, 3, 3), desiredReplicasAnnotation, "3"), []*appsv1.ReplicaSet{rs("old", 1, 1, 1)},
			map[string]int32{"old": 0}},
		{"proportional growth", surge3(20),
			annotated(rs("new", 2, 5, 5), maxReplicasAnnotation, "13"),
			[]*appsv1.ReplicaSet{annotated(rs("old", 1, 8, 8), maxReplicasAnnotation, "13")},
			// 23 allowed, 13 now: old gets round(8*23/13)-8=6, new round(5*23/13)-5=4.
			map[string]int32{"old": 14, "new": 9}},
		{"proportional shrink", surge3(5),
			annotated(rs("new", 2, 5, 5), maxReplicasAnnotation, "13"),
			[]*appsv1.ReplicaSet{annotated(rs("old", 1, 8, 8), maxReplicasAnnotation, "13")},
			// 8 allowed, -5: old round(8*8/13)-8=-3, new round(5*8/13)-5=-2.
			map[string]int32{"old": 5, "new": 3}},
		{"paused recreate does not spread", deploy(5).recreate().obj(), rs("new", 2, 1, 1), []*appsv1.ReplicaSet{rs("old", 1, 1, 1)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := scalePlan(tc.d, tc.newRS, tc.old)
			if len(got) == 0 {
				got = nil
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("scalePlan mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetNewAnnotations(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rs       *appsv1.ReplicaSet
		rev      int64
		creating bool
		want     map[string]string
		changed  bool
	}{
		{"new set", rs("new", 1, 0, 0), 1, true, map[string]string{
			revisionAnnotation: "1", desiredReplicasAnnotation: "3", maxReplicasAnnotation: "4", "team": "a",
		}, true},
		{"old template back takes the new revision", annotated(rs("old", 1, 0, 0), revisionAnnotation, "1", "team", "a"), 3, false,
			map[string]string{revisionAnnotation: "3", revisionHistoryAnnotation: "1", "team": "a"}, true},
		{"current revision kept", annotated(rs("cur", 1, 0, 0), revisionAnnotation, "3", "team", "a"), 3, false,
			map[string]string{revisionAnnotation: "3", "team": "a"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := deploy(3).rolling(intstr.FromInt32(1), intstr.FromInt32(0)).obj()
			d.Annotations = map[string]string{"team": "a", revisionAnnotation: "2", lastAppliedAnnotation: "{}"}
			got := tc.rs.DeepCopy()
			changed := setNewAnnotations(d, got, tc.rev, tc.creating)
			if changed != tc.changed {
				t.Errorf("changed = %v, want %v", changed, tc.changed)
			}
			if diff := cmp.Diff(tc.want, got.Annotations); diff != "" {
				t.Errorf("annotations mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMaxRevision(t *testing.T) {
	sets := []*appsv1.ReplicaSet{
		annotated(rs("a", 1, 0, 0), revisionAnnotation, "2"),
		annotated(rs("b", 2, 0, 0), revisionAnnotation, "10"),
		annotated(rs("c", 3, 0, 0), revisionAnnotation, "junk"),
	}
	if got := maxRevision(sets); got != 10 {
		t.Errorf("maxRevision = %d, want 10", got)
	}
}

func TestHistoryToDelete(t *testing.T) {
	d := deploy(1).obj()
	d.Spec.RevisionHistoryLimit = ptr.To[int32](1)
	old := []*appsv1.ReplicaSet{
		annotated(rs("r3", 3, 0, 0), revisionAnnotation, "3"),
		annotated(rs("r1", 1, 0, 0), revisionAnnotation, "1"),
		annotated(rs("r2-scaled", 2, 1, 1), revisionAnnotation, "2"),
	}
	var got []string
	for _, r := range historyToDelete(d, old) {
		got = append(got, r.Name)
	}
	if diff := cmp.Diff([]string{"r1"}, got); diff != "" {
		t.Errorf("historyToDelete mismatch (-want +got):\n%s", diff)
	}
	d.Spec.RevisionHistoryLimit = nil
	if got := historyToDelete(d, old); got != nil {
		t.Errorf("no limit: historyToDelete = %v, want none", got)
	}
}

func TestPodsRunning(t *testing.T) {
	old := rs("old", 1, 0, 0)
	old.UID = "old-uid"
	pod := func(owner types.UID, phase corev1.PodPhase, deleting bool) *corev1.Pod {
		p := &corev1.Pod{Status: corev1.PodStatus{Phase: phase}}
		p.OwnerReferences = []metav1.OwnerReference{{UID: owner, Controller: ptr.To(true)}}
		if deleting {
			p.DeletionTimestamp = ptr.To(metav1.NewTime(epoch))
		}
		return p
	}
	for _, tc := range []struct {
		name string
		old  *appsv1.ReplicaSet
		pods []*corev1.Pod
		want bool
	}{
		{"none", old, nil, false},
		{"pending pod", old, []*corev1.Pod{pod("old-uid", corev1.PodPending, false)}, true},
		{"terminating pod", old, []*corev1.Pod{pod("old-uid", corev1.PodRunning, true)}, true},
		{"finished pods", old, []*corev1.Pod{pod("old-uid", corev1.PodSucceeded, false), pod("old-uid", corev1.PodFailed, false)}, false},
		{"another owner's pod", old, []*corev1.Pod{pod("other", corev1.PodRunning, false)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := podsRunning([]*appsv1.ReplicaSet{tc.old}, tc.pods); got != tc.want {
				t.Errorf("podsRunning = %v, want %v", got, tc.want)
			}
		})
	}
	reporting := rs("old", 1, 0, 0)
	reporting.Status.Replicas = 1
	if !podsRunning([]*appsv1.ReplicaSet{reporting}, nil) {
		t.Errorf("podsRunning ignores status.replicas")
	}
}

func TestScalingEvent(t *testing.T) {
	d := deploy(5).obj()
	if !scalingEvent(d, annotated(rs("new", 2, 3, 3), desiredReplicasAnnotation, "3"), nil) {
		t.Errorf("desired 3 vs replicas 5 not a scaling event")
	}
	if scalingEvent(d, annotated(rs("new", 2, 3, 3), desiredReplicasAnnotation, "5"), []*appsv1.ReplicaSet{annotated(rs("old", 1, 0, 0), desiredReplicasAnnotation, "3")}) {
		t.Errorf("inactive old ReplicaSet made a scaling event")
	}
}
