package agent

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"berth.dev/berth/internal/agent/runtime"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func ctr(id string, n int, st runtime.State, code int) *runtime.Container {
	c := &runtime.Container{
		ID: id, State: st, ExitCode: code, StartedAt: t0, Labels: map[string]string{labelAttempt: string(rune('0' + n))},
		Annotations: map[string]string{annotationImageID: "sha256:abc"},
	}
	if st == runtime.StateExited {
		c.FinishedAt = t0.Add(time.Minute)
	}
	return c
}

// summary is the part of a pod status the table compares.
type summary struct {
	Phase      corev1.PodPhase
	Conditions map[corev1.PodConditionType]corev1.ConditionStatus
	States     []string
	Restarts   []int32
}

func summarize(st corev1.PodStatus) summary {
	s := summary{Phase: st.Phase, Conditions: map[corev1.PodConditionType]corev1.ConditionStatus{}}
	for _, c := range st.Conditions {
		s.Conditions[c.Type] = c.Status
	}
	for _, cs := range append(st.InitContainerStatuses, st.ContainerStatuses...) {
		switch {
		case cs.State.Running != nil:
			s.States = append(s.States, cs.Name+":running")
		case cs.State.Terminated != nil:
			s.States = append(s.States, cs.Name+":"+cs.State.Terminated.Reason)
		default:
			s.States = append(s.States, cs.Name+":"+cs.State.Waiting.Reason)
		}
		s.Restarts = append(s.Restarts, cs.RestartCount)
	}
	return s
}

func conds(sandbox, init, ready corev1.ConditionStatus) map[corev1.PodConditionType]corev1.ConditionStatus {
	return map[corev1.PodConditionType]corev1.ConditionStatus{
		corev1.PodReadyToStartContainers: sandbox, corev1.PodInitialized: init,
		corev1.ContainersReady: ready, corev1.PodReady: ready, corev1.PodScheduled: corev1.ConditionTrue,
	}
}

func TestPodStatus(t *testing.T) {
	T, F := corev1.ConditionTrue, corev1.ConditionFalse
	always := corev1.ContainerRestartPolicyAlways
	tests := []struct {
		name       string
		policy     corev1.RestartPolicy
		init       []corev1.Container
		containers map[string]attempts
		waiting    map[string]waiting
		sandbox    bool
		notReady   string
		want       summary
	}{
		{
			name: "nothing yet", policy: corev1.RestartPolicyAlways,
			want: summary{Phase: corev1.PodPending, Conditions: conds(F, T, F), States: []string{"a:ContainerCreating"}, Restarts: []int32{0}},
		},
		{
			name: "running", policy: corev1.RestartPolicyAlways, sandbox: true,
			containers: map[string]attempts{"a": {latest: ctr("1", 0, runtime.StateRunning, 0)}},
			want:       summary{Phase: corev1.PodRunning, Conditions: conds(T, T, T), States: []string{"a:running"}, Restarts: []int32{0}},
		},
		{
			name: "running but not ready", policy: corev1.RestartPolicyAlways, sandbox: true, notReady: "a",
			containers: map[string]attempts{"a": {latest: ctr("1", 0, runtime.StateRunning, 0)}},
			want:       summary{Phase: corev1.PodRunning, Conditions: conds(T, T, F), States: []string{"a:running"}, Restarts: []int32{0}},
		},
		{
			name: "crash loop", policy: corev1.RestartPolicyAlways, sandbox: true,
			containers: map[string]attempts{"a": {latest: ctr("2", 3, runtime.StateExited, 1), previous: ctr("1", 2, runtime.StateExited, 1)}},
			waiting:    map[string]waiting{"a": {reason: reasonCrashLoopBackOff}},
			want:       summary{Phase: corev1.PodRunning, Conditions: conds(T, T, F), States: []string{"a:CrashLoopBackOff"}, Restarts: []int32{3}},
		},
		{
			name: "succeeded", policy: corev1.RestartPolicyOnFailure, sandbox: true,
			containers: map[string]attempts{"a": {latest: ctr("1", 0, runtime.StateExited, 0)}},
			want:       summary{Phase: corev1.PodSucceeded, Conditions: conds(T, T, F), States: []string{"a:Completed"}, Restarts: []int32{0}},
		},
		{
			name: "failed", policy: corev1.RestartPolicyNever, sandbox: true,
			containers: map[string]attempts{"a": {latest: ctr("1", 0, runtime.StateExited, 2)}},
			want:       summary{Phase: corev1.PodFailed, Conditions: conds(T, T, F), States: []string{"a:Error"}, Restarts: []int32{0}},
		},
		{
			name: "image pull error", policy: corev1.RestartPolicyAlways, sandbox: true,
			waiting: map[string]waiting{"a": {reason: reasonErrImagePull, message: "not found"}},
			want:    summary{Phase: corev1.PodPending, Conditions: conds(T, T, F), States: []string{"a:ErrImagePull"}, Restarts: []int32{0}},
		},
		{
			name: "init container running", policy: corev1.RestartPolicyAlways, sandbox: true,
			init:       []corev1.Container{{Name: "i"}},
			containers: map[string]attempts{"i": {latest: ctr("1", 0, runtime.StateRunning, 0)}},
			want:       summary{Phase: corev1.PodPending, Conditions: conds(T, F, F), States: []string{"i:running", "a:PodInitializing"}, Restarts: []int32{0, 0}},
		},
		{
			name: "init container failed, Never", policy: corev1.RestartPolicyNever, sandbox: true,
			init:       []corev1.Container{{Name: "i"}},
			containers: map[string]attempts{"i": {latest: ctr("1", 0, runtime.StateExited, 1)}},
			want:       summary{Phase: corev1.PodFailed, Conditions: conds(T, F, F), States: []string{"i:Error", "a:PodInitializing"}, Restarts: []int32{0, 0}},
		},
		{
			name: "sidecar and init done", policy: corev1.RestartPolicyAlways, sandbox: true,
			init: []corev1.Container{{Name: "i"}, {Name: "s", RestartPolicy: &always}},
			containers: map[string]attempts{
				"i": {latest: ctr("1", 0, runtime.StateExited, 0)},
				"s": {latest: ctr("2", 0, runtime.StateRunning, 0)},
				"a": {latest: ctr("3", 0, runtime.StateRunning, 0)},
			},
			want: summary{Phase: corev1.PodRunning, Conditions: conds(T, T, T), States: []string{"i:Completed", "s:running", "a:running"}, Restarts: []int32{0, 0, 0}},
		},
		{
			name: "OOM killed", policy: corev1.RestartPolicyNever, sandbox: true,
			containers: map[string]attempts{"a": {latest: func() *runtime.Container {
				c := ctr("1", 0, runtime.StateExited, 137)
				c.OOMKilled = true
				return c
			}()}},
			want: summary{Phase: corev1.PodFailed, Conditions: conds(T, T, F), States: []string{"a:OOMKilled"}, Restarts: []int32{0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod()
			pod.Spec.RestartPolicy = tt.policy
			pod.Spec.InitContainers = tt.init
			pod.Spec.Containers = []corev1.Container{{Name: "a", Image: "img"}}
			pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}
			v := podView{
				pod: pod, containers: tt.containers, waiting: tt.waiting, sandboxReady: tt.sandbox, now: t0,
				probed: func(_ *corev1.Pod, c string) (bool, bool) { return true, c != tt.notReady },
			}
			if diff := cmp.Diff(tt.want, summarize(v.podStatus())); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContainerStatusDetails(t *testing.T) {
	pod := testPod()
	pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
	pod.Spec.Containers = []corev1.Container{{Name: "a", Image: "berth.test/busybox:v1"}}
	latest, prev := ctr("new", 2, runtime.StateRunning, 0), ctr("old", 1, runtime.StateExited, 137)
	prev.OOMKilled = true
	v := podView{pod: pod, containers: map[string]attempts{"a": {latest: latest, previous: prev}}, sandboxReady: true, now: t0, podIPs: []string{"10.0.0.2"}, hostIP: "192.0.2.1"}
	st := v.podStatus()
	want := corev1.ContainerStatus{
		Name: "a", Image: "berth.test/busybox:v1", ImageID: "sha256:abc", ContainerID: "runc://new",
		RestartCount: 2, Ready: true, Started: new(true),
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(t0)}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 137, Reason: "OOMKilled", StartedAt: metav1.NewTime(t0), FinishedAt: metav1.NewTime(t0.Add(time.Minute)), ContainerID: "runc://old",
		}},
	}
	if diff := cmp.Diff(want, st.ContainerStatuses[0]); diff != "" {
		t.Errorf("container status (-want +got):\n%s", diff)
	}
	if st.PodIP != "10.0.0.2" || len(st.PodIPs) != 1 || st.HostIP != "192.0.2.1" || st.StartTime == nil || !st.StartTime.Equal(&metav1.Time{Time: t0}) {
		t.Errorf("pod IPs %q %v, hostIP %q, startTime %v", st.PodIP, st.PodIPs, st.HostIP, st.StartTime)
	}

	// A condition whose status did not change keeps its transition time.
	pod.Status = st
	v.pod, v.now = pod, t0.Add(time.Hour)
	again := v.podStatus()
	for i, c := range again.Conditions {
		if !c.LastTransitionTime.Equal(&st.Conditions[i].LastTransitionTime) {
			t.Errorf("condition %s moved from %v to %v", c.Type, st.Conditions[i].LastTransitionTime, c.LastTransitionTime)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := newBackoff()
	now := t0
	key := "uid/c"
	steps := []struct {
		failedAfter time.Duration // since the previous failure
		wantWait    time.Duration
	}{
		{0, 0},                         // the first failure restarts at once
		{time.Second, 9 * time.Second}, // then 10 s
		{11 * time.Second, 19 * time.Second},
		{21 * time.Second, 39 * time.Second},
		{41 * time.Second, 79 * time.Second},
		{81 * time.Second, 159 * time.Second},
		{161 * time.Second, 299 * time.Second}, // capped at 5 min
		{301 * time.Second, 299 * time.Second},
		{11 * time.Minute, 0}, // a long run starts over
		{time.Second, 9 * time.Second},
	}
	failed := now
	for i, s := range steps {
		failed = failed.Add(s.failedAfter)
		now = failed.Add(time.Second)
		if got := b.wait(key, failed, now); got != s.wantWait {
			t.Fatalf("step %d: wait %v, want %v", i, got, s.wantWait)
		}
		b.retried(key, failed)
	}
	b.forget(func(string) bool { return false })
	if got := b.wait(key, failed, now); got != 0 {
		t.Errorf("after forget: wait %v, want 0", got)
	}
}
