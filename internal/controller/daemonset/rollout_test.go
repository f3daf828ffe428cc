package daemonset

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// podBuilder builds DaemonSet pods; hash "new" is the current one.
type podBuilder struct{ p *corev1.Pod }

func pod(name, node, hash string) podBuilder {
	return podBuilder{&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-time.Hour)), Labels: map[string]string{hashLabel: hash}},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}}
}
func (b podBuilder) ready(ago time.Duration) podBuilder {
	b.p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-ago))}}
	return b
}
func (b podBuilder) age(ago time.Duration) podBuilder {
	b.p.CreationTimestamp = metav1.NewTime(now.Add(-ago))
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

func byNodeOf(bs ...podBuilder) map[string][]*corev1.Pod {
	var pods []*corev1.Pod
	for _, b := range bs {
		pods = append(pods, b.p)
	}
	return podsByNode(pods)
}

func nodes(names ...string) []*corev1.Node {
	var out []*corev1.Node
	for _, n := range names {
		out = append(out, testNode(n, nil))
	}
	return out
}

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func surgeDS(surge, unavailable intstr.IntOrString) *appsv1.DaemonSet {
	ds := testDS()
	ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxSurge: &surge, MaxUnavailable: &unavailable}
	return ds
}

func TestManage(t *testing.T) {
	const ok = time.Hour
	tainted := testNode("tainted", nil, corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoExecute})
	tests := []struct {
		name   string
		ds     *appsv1.DaemonSet
		nodes  []*corev1.Node
		pods   map[string][]*corev1.Pod
		create []string
		remove []string
		failed []string
	}{
		{name: "nodes without pods get one", ds: testDS(), nodes: nodes("a", "b", "c"),
			pods: byNodeOf(pod("pa", "a", "new").ready(ok)), create: []string{"b", "c"}},
		{name: "a pod being deleted still occupies its node", ds: testDS(), nodes: nodes("a"),
			pods: byNodeOf(pod("pa", "a", "new").deleting())},
		{name: "the oldest of several stays", ds: testDS(), nodes: nodes("a"),
			pods:   byNodeOf(pod("young", "a", "new").age(time.Minute), pod("old", "a", "new").age(time.Hour), pod("mid", "a", "old").age(time.Hour/2)),
			remove: []string{"mid", "young"}},
		{name: "with surge an old and a new pod may share a node", ds: surgeDS(intstr.FromInt32(1), intstr.FromInt32(0)), nodes: nodes("a"),
			pods:   byNodeOf(pod("new1", "a", "new").age(time.Minute), pod("new2", "a", "new").age(time.Second), pod("old1", "a", "old").age(time.Hour/2)),
			remove: []string{"new2"}},
		{name: "finished pods go; failed ones with backoff", ds: testDS(), nodes: nodes("a", "b"),
			pods:   byNodeOf(pod("done", "a", "new").phase(corev1.PodSucceeded), pod("bad", "b", "new").phase(corev1.PodFailed)),
			remove: []string{"done"}, failed: []string{"bad"}},
		{name: "finished pods being deleted are ignored", ds: testDS(), nodes: nodes("a"),
			pods: byNodeOf(pod("done", "a", "new").phase(corev1.PodSucceeded).deleting()), create: []string{"a"}},
		{name: "untolerated NoExecute removes", ds: testDS(), nodes: []*corev1.Node{tainted},
			pods: byNodeOf(pod("p", "tainted", "new")), remove: []string{"p"}},
		{name: "pods of vanished nodes go", ds: testDS(), nodes: nodes("a"),
			pods: byNodeOf(pod("pa", "a", "new"), pod("gone", "gone", "new"), pod("going", "gone", "new").deleting()), remove: []string{"gone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := manage(tt.ds, newPlacement(tt.ds), tt.nodes, tt.pods, "new")
			if diff := cmp.Diff(tt.create, got.create); diff != "" {
				t.Errorf("create (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.remove, names(got.remove)); diff != "" {
				t.Errorf("remove (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.failed, names(got.failed)); diff != "" {
				t.Errorf("failed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRoll(t *testing.T) {
	const ok = time.Hour
	four := nodes("a", "b", "c", "d")
	tests := []struct {
		name   string
		ds     *appsv1.DaemonSet
		nodes  []*corev1.Node
		pods   map[string][]*corev1.Pod
		remove []string
		create []string
	}{
		{name: "default: one old pod at a time", ds: surgeDS(intstr.FromInt32(0), intstr.FromInt32(1)), nodes: four,
			pods:   byNodeOf(pod("a", "a", "old").ready(ok), pod("b", "b", "old").ready(ok), pod("c", "c", "old").ready(ok), pod("d", "d", "old").ready(ok)),
			remove: []string{"a"}},
		{name: "a percentage rounds up", ds: surgeDS(intstr.FromInt32(0), intstr.FromString("30%")), nodes: four,
			pods:   byNodeOf(pod("a", "a", "old").ready(ok), pod("b", "b", "old").ready(ok), pod("c", "c", "old").ready(ok), pod("d", "d", "old").ready(ok)),
			remove: []string{"a", "b"}},
		{name: "an unavailable new pod uses the budget", ds: surgeDS(intstr.FromInt32(0), intstr.FromInt32(1)), nodes: four,
			pods: byNodeOf(pod("a", "a", "new"), pod("b", "b", "old").ready(ok), pod("c", "c", "old").ready(ok), pod("d", "d", "old").ready(ok))},
		{name: "a node without a pod uses the budget", ds: surgeDS(intstr.FromInt32(0), intstr.FromInt32(1)), nodes: four,
			pods: byNodeOf(pod("b", "b", "old").ready(ok), pod("c", "c", "old").ready(ok), pod("d", "d", "old").ready(ok))},
		{name: "unavailable old pods go at once", ds: surgeDS(intstr.FromInt32(0), intstr.FromInt32(1)), nodes: four,
			pods:   byNodeOf(pod("a", "a", "new"), pod("b", "b", "old"), pod("c", "c", "old").ready(ok), pod("d", "d", "old").ready(ok)),
			remove: []string{"b"}},
		{name: "minReadySeconds: a new pod not yet available blocks", ds: func() *appsv1.DaemonSet {
			ds := surgeDS(intstr.FromInt32(0), intstr.FromInt32(1))
			ds.Spec.MinReadySeconds = 30
			return ds
		}(), nodes: nodes("a", "b"),
			pods: byNodeOf(pod("a", "a", "new").ready(10*time.Second), pod("b", "b", "old").ready(ok))},
		{name: "surge: new pods beside old ones, maxSurge at a time", ds: surgeDS(intstr.FromInt32(2), intstr.FromInt32(0)), nodes: four,
			pods:   byNodeOf(pod("a", "a", "old").ready(ok), pod("b", "b", "old").ready(ok), pod("c", "c", "old").ready(ok), pod("d", "d", "old").ready(ok)),
			create: []string{"a", "b"}},
		{name: "surge: an available new pod retires the old one", ds: surgeDS(intstr.FromInt32(1), intstr.FromInt32(0)), nodes: four,
			pods: byNodeOf(pod("a-old", "a", "old").ready(ok), pod("a-new", "a", "new").ready(ok),
				pod("b", "b", "old").ready(ok), pod("c", "c", "old").ready(ok), pod("d", "d", "new").ready(ok)),
			remove: []string{"a-old"}, create: []string{"b"}},
		{name: "surge: a new pod not yet ready holds the surge", ds: surgeDS(intstr.FromInt32(1), intstr.FromInt32(0)), nodes: four,
			pods: byNodeOf(pod("a-old", "a", "old").ready(ok), pod("a-new", "a", "new"),
				pod("b", "b", "old").ready(ok), pod("c", "c", "old").ready(ok), pod("d", "d", "old").ready(ok))},
		{name: "surge: unavailable old pods get a replacement at once", ds: surgeDS(intstr.FromInt32(1), intstr.FromInt32(0)), nodes: four,
			pods:   byNodeOf(pod("a", "a", "old"), pod("b", "b", "old"), pod("c", "c", "old").ready(ok), pod("d", "d", "old").ready(ok)),
			create: []string{"a", "b", "c"}},
		{name: "nothing to do when all are new", ds: surgeDS(intstr.FromInt32(0), intstr.FromInt32(1)), nodes: nodes("a"),
			pods: byNodeOf(pod("a", "a", "new").ready(ok))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := roll(tt.ds, newPlacement(tt.ds), tt.nodes, tt.pods, "new", now)
			if diff := cmp.Diff(tt.remove, names(got.remove)); diff != "" {
				t.Errorf("remove (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.create, got.create); diff != "" {
				t.Errorf("create (-want +got):\n%s", diff)
			}
		})
	}
}

func TestComputeStatus(t *testing.T) {
	ds := testDS()
	ds.Spec.MinReadySeconds = 60
	ds.Spec.Template.Spec.NodeSelector = map[string]string{"run": "yes"}
	yes := map[string]string{"run": "yes"}
	ns := []*corev1.Node{testNode("a", yes), testNode("b", yes), testNode("c", yes), testNode("d", yes), testNode("e", nil)}
	pods := byNodeOf(
		pod("a", "a", "new").ready(time.Hour),
		pod("b", "b", "old").ready(time.Second),
		pod("c-old", "c", "old").age(2*time.Hour), pod("c-new", "c", "new").ready(time.Hour), // the oldest counts
		pod("e", "e", "new").ready(time.Hour), // misscheduled
	)
	got := computeStatus(ds, newPlacement(ds), ns, pods, "new", now)
	want := appsv1.DaemonSetStatus{
		DesiredNumberScheduled: 4, CurrentNumberScheduled: 3, NumberMisscheduled: 1,
		NumberReady: 2, NumberAvailable: 1, UpdatedNumberScheduled: 1, NumberUnavailable: 3,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}

func TestIsUpdated(t *testing.T) {
	tests := []struct {
		gen, podGen, hash string
		want              bool
	}{
		{hash: "new", want: true},
		{hash: "old"},
		{gen: "3", podGen: "3", hash: "old", want: true},
		{gen: "3", podGen: "2", hash: "old"},
		{gen: "x", podGen: "x", hash: "old"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt), func(t *testing.T) {
			ds := testDS()
			if tt.gen != "" {
				ds.Annotations = map[string]string{generationAnnotation: tt.gen}
			}
			p := pod("p", "a", tt.hash).p
			if tt.podGen != "" {
				p.Labels[generationLabel] = tt.podGen
			}
			if got := isUpdated(ds, p, "new"); got != tt.want {
				t.Errorf("isUpdated = %v, want %v", got, tt.want)
			}
		})
	}
}
