package sim

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodStatus(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ip := netip.MustParseAddr("10.42.0.2")
	pod := func(policy corev1.RestartPolicy, annotations map[string]string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p", UID: "u", Annotations: annotations},
			Spec:       corev1.PodSpec{RestartPolicy: policy, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}
	}
	// step computes the status at now and feeds it back, as the informer would.
	step := func(p *corev1.Pod, delay time.Duration, now time.Time) (*corev1.Pod, time.Duration) {
		st, after := podStatus(p, ip, "192.0.2.1", delay, now)
		p = p.DeepCopy()
		p.Status = st
		return p, after
	}
	type want struct {
		phase   corev1.PodPhase
		after   time.Duration
		podIP   string
		running bool
		exit    *int32
	}
	code := func(c int32) *int32 { return &c }
	tests := []struct {
		name  string
		pod   *corev1.Pod
		delay time.Duration
		times []time.Duration // offsets from t0 of successive syncs
		want  []want
	}{
		{
			name: "runs at once", pod: pod(corev1.RestartPolicyAlways, nil),
			times: []time.Duration{0, time.Hour},
			want:  []want{{phase: corev1.PodRunning, podIP: "10.42.0.2", running: true}, {phase: corev1.PodRunning, podIP: "10.42.0.2", running: true}},
		},
		{
			name: "start delay", pod: pod(corev1.RestartPolicyAlways, nil), delay: 3 * time.Second,
			times: []time.Duration{0, 3 * time.Second},
			want:  []want{{phase: corev1.PodPending, after: 3 * time.Second}, {phase: corev1.PodRunning, podIP: "10.42.0.2", running: true}},
		},
		{
			name: "exit code 0", pod: pod(corev1.RestartPolicyNever, map[string]string{ExitCodeAnnotation: "0"}),
			times: []time.Duration{0},
			want:  []want{{phase: corev1.PodSucceeded, podIP: "10.42.0.2", exit: code(0)}},
		},
		{
			name: "fails after run-seconds", pod: pod(corev1.RestartPolicyOnFailure, map[string]string{ExitCodeAnnotation: "2", RunSecondsAnnotation: "5"}),
			times: []time.Duration{0, 5 * time.Second},
			want:  []want{{phase: corev1.PodRunning, podIP: "10.42.0.2", running: true, after: 5 * time.Second}, {phase: corev1.PodFailed, podIP: "10.42.0.2", exit: code(2)}},
		},
		{
			name: "restartPolicy Always ignores the exit code", pod: pod(corev1.RestartPolicyAlways, map[string]string{ExitCodeAnnotation: "0"}),
			times: []time.Duration{0},
			want:  []want{{phase: corev1.PodRunning, podIP: "10.42.0.2", running: true}},
		},
		{
			name: "bad exit code runs on", pod: pod(corev1.RestartPolicyNever, map[string]string{ExitCodeAnnotation: "zero"}),
			times: []time.Duration{0},
			want:  []want{{phase: corev1.PodRunning, podIP: "10.42.0.2", running: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.pod
			var got []want
			for _, off := range tt.times {
				var after time.Duration
				p, after = step(p, tt.delay, t0.Add(off))
				w := want{phase: p.Status.Phase, after: after, podIP: p.Status.PodIP}
				cs := p.Status.ContainerStatuses[0]
				w.running = cs.State.Running != nil && cs.Ready
				if cs.State.Terminated != nil {
					w.exit = code(cs.State.Terminated.ExitCode)
				}
				got = append(got, w)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPodStatusIsStable(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", UID: "u"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	ip := netip.MustParseAddr("10.42.0.2")
	first, _ := podStatus(p, ip, "192.0.2.1", 0, t0)
	p.Status = first
	again, _ := podStatus(p, ip, "192.0.2.1", 0, t0.Add(time.Hour))
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("a running pod's status changed with time (-first +again):\n%s", diff)
	}

	target := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI"}
	p.Status.Conditions = append(p.Status.Conditions, target)
	kept, _ := podStatus(p, ip, "192.0.2.1", 0, t0.Add(time.Hour))
	if diff := cmp.Diff(p.Status, kept); diff != "" {
		t.Errorf("the DisruptionTarget condition was not kept (-want +got):\n%s", diff)
	}
}
