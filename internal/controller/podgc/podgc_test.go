package podgc

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type podOpt func(*corev1.Pod)

func pod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name), CreationTimestamp: metav1.NewTime(t0)}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func on(node string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = node } }
func phase(ph corev1.PodPhase) podOpt {
	return func(p *corev1.Pod) { p.Status.Phase = ph }
}
func evictedPod(p *corev1.Pod) { p.Status.Phase, p.Status.Reason = corev1.PodFailed, "Evicted" }
func terminating(p *corev1.Pod) {
	p.DeletionTimestamp = &metav1.Time{Time: t0}
}
func age(d time.Duration) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t0.Add(-d)) }
}

func node(name string, ready bool, taints ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}
	for _, k := range taints {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: k, Effect: corev1.TaintEffectNoExecute})
	}
	return n
}

func TestPlan(t *testing.T) {
	nodes := map[string]*corev1.Node{
		"up":       node("up", true),
		"down":     node("down", false),
		"oos-down": node("oos-down", false, corev1.TaintNodeOutOfService),
		"oos-up":   node("oos-up", true, corev1.TaintNodeOutOfService),
	}
	tests := []struct {
		name      string
		pods      []*corev1.Pod
		gone      map[string]bool
		threshold int
		want      []string
	}{
		{name: "nothing to do", threshold: 10, pods: []*corev1.Pod{pod("a", on("up")), pod("b", on("down"), terminating), pod("c", phase(corev1.PodSucceeded))}},
		{
			name: "finished pods over the threshold: evicted first, then oldest, then by name", threshold: 2,
			pods: []*corev1.Pod{
				pod("new", phase(corev1.PodSucceeded)),
				pod("old", phase(corev1.PodFailed), age(time.Hour)),
				pod("b", phase(corev1.PodSucceeded), age(time.Minute)),
				pod("a", phase(corev1.PodSucceeded), age(time.Minute)),
				pod("ev", evictedPod),
				pod("running", phase(corev1.PodRunning), age(48*time.Hour)),
			},
			want: []string{"ev", "old", "a"},
		},
		{name: "negative threshold keeps finished pods", threshold: -1, pods: []*corev1.Pod{pod("a", phase(corev1.PodSucceeded))}},
		{
			name: "terminating on an out-of-service node that is not Ready", threshold: 10,
			pods: []*corev1.Pod{pod("a", on("oos-down"), terminating), pod("b", on("oos-down")), pod("c", on("oos-up"), terminating), pod("d", on("down"), terminating)},
			want: []string{"a"},
		},
		{
			name: "orphaned only once the node is confirmed gone", threshold: 10,
			gone: map[string]bool{"ghost": true},
			pods: []*corev1.Pod{pod("a", on("ghost")), pod("b", on("missing-in-quarantine")), pod("c", on("ghost"), phase(corev1.PodSucceeded))},
			want: []string{"a", "c"},
		},
		{
			name: "terminating and never bound", threshold: 10,
			pods: []*corev1.Pod{pod("a", terminating), pod("b")},
			want: []string{"a"},
		},
		{
			name: "a pod matching twice is listed once", threshold: 0,
			gone: map[string]bool{"ghost": true},
			pods: []*corev1.Pod{pod("a", on("ghost"), phase(corev1.PodFailed))},
			want: []string{"a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, d := range plan(tt.pods, nodes, tt.gone, tt.threshold) {
				got = append(got, d.pod.Name)
				if (d.why == "orphaned") != (d.condition != nil) || d.condition != nil && d.condition.Reason != "DeletionByPodGC" {
					t.Errorf("pod %s (%s) condition %+v", d.pod.Name, d.why, d.condition)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("deleted (-want +got):\n%s", diff)
			}
		})
	}
}
