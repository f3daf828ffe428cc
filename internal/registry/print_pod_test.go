package registry

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Container status builders.

func runningStatus(name string, ready bool) corev1.ContainerStatus {
	started := true
	return corev1.ContainerStatus{
		Name: name, Ready: ready, Started: &started,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Hour)}},
	}
}

func waitingStatus(name, reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func terminatedStatus(name, reason string, exitCode, signal int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		Reason: reason, ExitCode: exitCode, Signal: signal, FinishedAt: ago(time.Minute),
	}}}
}

// restarted records restarts, the last of which ended finishedAgo ago.
func restarted(cs corev1.ContainerStatus, restarts int32, finishedAgo time.Duration) corev1.ContainerStatus {
	cs.RestartCount = restarts
	cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", FinishedAt: ago(finishedAgo)}
	return cs
}

// testPod is a pod with the named containers in phase, and the given
// init containers; sidecar init containers restart always.
func testPod(phase corev1.PodPhase, containers []string, inits ...corev1.Container) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: om("p", time.Hour), Status: corev1.PodStatus{Phase: phase}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: c + ":1"})
	}
	p.Spec.InitContainers = inits
	return p
}

func initContainer(name string) corev1.Container { return corev1.Container{Name: name, Image: name} }

func sidecarContainer(name string) corev1.Container {
	always := corev1.ContainerRestartPolicyAlways
	return corev1.Container{Name: name, Image: name, RestartPolicy: &always}
}

func withCondition(p *corev1.Pod, t corev1.PodConditionType, status corev1.ConditionStatus, reason string) *corev1.Pod {
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: t, Status: status, Reason: reason})
	return p
}

func withStatuses(p *corev1.Pod, inits []corev1.ContainerStatus, containers ...corev1.ContainerStatus) *corev1.Pod {
	p.Status.InitContainerStatuses = inits
	p.Status.ContainerStatuses = containers
	return p
}

func deleting(p *corev1.Pod) *corev1.Pod {
	p.DeletionTimestamp = agoPtr(time.Second)
	return p
}

func TestSummarizePod(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		want podSummary
	}{{
		name: "pending, not scheduled",
		pod:  testPod(corev1.PodPending, []string{"app"}),
		want: podSummary{"0/1", "Pending", "0"},
	}, {
		name: "scheduling gated",
		pod:  withCondition(testPod(corev1.PodPending, []string{"app"}), corev1.PodScheduled, corev1.ConditionFalse, corev1.PodReasonSchedulingGated),
		want: podSummary{"0/1", "SchedulingGated", "0"},
	}, {
		name: "container creating",
		pod:  withStatuses(testPod(corev1.PodPending, []string{"app"}), nil, waitingStatus("app", "ContainerCreating")),
		want: podSummary{"0/1", "ContainerCreating", "0"},
	}, {
		name: "running and ready",
		pod:  withStatuses(testPod(corev1.PodRunning, []string{"app", "log"}), nil, runningStatus("app", true), runningStatus("log", true)),
		want: podSummary{"2/2", "Running", "0"},
	}, {
		name: "running, one container not ready",
		pod:  withStatuses(testPod(corev1.PodRunning, []string{"app", "log"}), nil, runningStatus("app", true), runningStatus("log", false)),
		want: podSummary{"1/2", "Running", "0"},
	}, {
		name: "crash loop back-off with the last restart's age",
		pod: withStatuses(testPod(corev1.PodRunning, []string{"app"}), nil,
			restarted(waitingStatus("app", "CrashLoopBackOff"), 4, 5*time.Minute)),
		want: podSummary{"0/1", "CrashLoopBackOff", "4 (5m ago)"},
	}, {
		name: "OOM killed",
		pod: withStatuses(testPod(corev1.PodRunning, []string{"app"}), nil,
			restarted(terminatedStatus("app", "OOMKilled", 137, 0), 2, 90*time.Second)),
		want: podSummary{"0/1", "OOMKilled", "2 (90s ago)"},
	}, {
		name: "terminated without reason shows the exit code",
		pod:  withStatuses(testPod(corev1.PodRunning, []string{"app"}), nil, terminatedStatus("app", "", 3, 0)),
		want: podSummary{"0/1", "ExitCode:3", "0"},
	}, {
		name: "terminated by a signal",
		pod:  withStatuses(testPod(corev1.PodRunning, []string{"app"}), nil, terminatedStatus("app", "", 0, 9)),
		want: podSummary{"0/1", "Signal:9", "0"},
	}, {
		name: "the first container's reason wins",
		pod: withStatuses(testPod(corev1.PodRunning, []string{"app", "log"}), nil,
			waitingStatus("app", "ImagePullBackOff"), waitingStatus("log", "ErrImagePull")),
		want: podSummary{"0/2", "ImagePullBackOff", "0"},
	}, {
		name: "first init container initializing",
		pod: withStatuses(testPod(corev1.PodPending, []string{"app"}, initContainer("setup")),
			[]corev1.ContainerStatus{waitingStatus("setup", "PodInitializing")}, waitingStatus("app", "PodInitializing")),
		want: podSummary{"0/1", "Init:0/1", "0"},
	}, {
		name: "second init container running",
		pod: withStatuses(testPod(corev1.PodPending, []string{"app"}, initContainer("fetch"), initContainer("setup")),
			[]corev1.ContainerStatus{terminatedStatus("fetch", "Completed", 0, 0), runningStatus("setup", false)},
			waitingStatus("app", "PodInitializing")),
		want: podSummary{"0/1", "Init:1/2", "0"},
	}, {
		name: "init container crash loop counts only init restarts",
		pod: withStatuses(testPod(corev1.PodPending, []string{"app"}, initContainer("setup")),
			[]corev1.ContainerStatus{restarted(waitingStatus("setup", "CrashLoopBackOff"), 3, time.Minute)},
			restarted(waitingStatus("app", "PodInitializing"), 7, time.Hour)),
		want: podSummary{"0/1", "Init:CrashLoopBackOff", "3 (60s ago)"},
	}, {
		name: "init container failed",
		pod: withStatuses(testPod(corev1.PodFailed, []string{"app"}, initContainer("setup")),
			[]corev1.ContainerStatus{terminatedStatus("setup", "Error", 1, 0)}, waitingStatus("app", "PodInitializing")),
		want: podSummary{"0/1", "Init:Error", "0"},
	}, {
		name: "init container exit code and signal",
		pod: withStatuses(testPod(corev1.PodPending, []string{"app"}, initContainer("setup")),
			[]corev1.ContainerStatus{terminatedStatus("setup", "", 2, 0)}),
		want: podSummary{"0/1", "Init:ExitCode:2", "0"},
	}, {
		name: "init container killed by a signal",
		pod: withStatuses(testPod(corev1.PodPending, []string{"app"}, initContainer("setup")),
			[]corev1.ContainerStatus{terminatedStatus("setup", "", 143, 15)}),
		want: podSummary{"0/1", "Init:Signal:15", "0"},
	}, {
		name: "completed",
		pod:  withStatuses(testPod(corev1.PodSucceeded, []string{"job"}), nil, terminatedStatus("job", "Completed", 0, 0)),
		want: podSummary{"0/1", "Completed", "0"},
	}, {
		name: "completed container beside a running one, pod ready",
		pod: withCondition(withStatuses(testPod(corev1.PodRunning, []string{"once", "server"}), nil,
			terminatedStatus("once", "Completed", 0, 0), runningStatus("server", true)), corev1.PodReady, corev1.ConditionTrue, ""),
		want: podSummary{"1/2", "Running", "0"},
	}, {
		name: "completed container beside a running one, pod not ready",
		pod: withStatuses(testPod(corev1.PodRunning, []string{"once", "server"}), nil,
			terminatedStatus("once", "Completed", 0, 0), runningStatus("server", true)),
		want: podSummary{"1/2", "NotReady", "0"},
	}, {
		name: "evicted",
		pod: func() *corev1.Pod {
			p := testPod(corev1.PodFailed, []string{"app"})
			p.Status.Reason = "Evicted"
			return p
		}(),
		want: podSummary{"0/1", "Evicted", "0"},
	}, {
		name: "terminating",
		pod:  deleting(withStatuses(testPod(corev1.PodRunning, []string{"app"}), nil, runningStatus("app", true))),
		want: podSummary{"1/1", "Terminating", "0"},
	}, {
		name: "being deleted after it completed",
		pod:  deleting(withStatuses(testPod(corev1.PodSucceeded, []string{"job"}), nil, terminatedStatus("job", "Completed", 0, 0))),
		want: podSummary{"0/1", "Completed", "0"},
	}, {
		name: "being deleted on a lost node",
		pod: func() *corev1.Pod {
			p := deleting(withStatuses(testPod(corev1.PodRunning, []string{"app"}), nil, runningStatus("app", true)))
			p.Status.Reason = "NodeLost"
			return p
		}(),
		want: podSummary{"1/1", "Unknown", "0"},
	}, {
		name: "sidecar counted among the containers with its restarts",
		pod: withCondition(withStatuses(testPod(corev1.PodRunning, []string{"app"}, sidecarContainer("proxy")),
			[]corev1.ContainerStatus{restarted(runningStatus("proxy", true), 1, 10*time.Minute)},
			runningStatus("app", true)), corev1.PodInitialized, corev1.ConditionTrue, ""),
		want: podSummary{"2/2", "Running", "1 (10m ago)"},
	}, {
		name: "sidecar not started yet",
		pod: withStatuses(testPod(corev1.PodPending, []string{"app"}, sidecarContainer("proxy")),
			[]corev1.ContainerStatus{waitingStatus("proxy", "PodInitializing")}, waitingStatus("app", "PodInitializing")),
		want: podSummary{"0/2", "Init:0/1", "0"},
	}, {
		name: "sidecar started, next init container running",
		pod: withStatuses(testPod(corev1.PodPending, []string{"app"}, sidecarContainer("proxy"), initContainer("setup")),
			[]corev1.ContainerStatus{runningStatus("proxy", true), runningStatus("setup", false)}, waitingStatus("app", "PodInitializing")),
		want: podSummary{"1/2", "Init:1/2", "0"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summarizePod(tt.pod, testNow)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(podSummary{})); diff != "" {
				t.Errorf("summarizePod (-want +got):\n%s", diff)
			}
		})
	}
}

func podGolden() map[schema.GroupKind][]runtime.Object {
	web := withCondition(withStatuses(testPod(corev1.PodRunning, []string{"nginx", "log"}), nil,
		runningStatus("nginx", true), runningStatus("log", true)), corev1.PodReady, corev1.ConditionTrue, "")
	web.Name = "web-7d4b9c5f6-x2x9q"
	web.Spec.NodeName = "node-1"
	web.Status.PodIPs = []corev1.PodIP{{IP: "10.42.0.12"}, {IP: "fd42::c"}}

	crash := withStatuses(testPod(corev1.PodRunning, []string{"app"}), nil,
		restarted(waitingStatus("app", "CrashLoopBackOff"), 12, 3*time.Minute))
	crash.Name, crash.CreationTimestamp = "crasher", ago(26*time.Hour)
	crash.Spec.NodeName = "node-2"
	crash.Status.PodIP = "10.42.1.7"

	gated := testPod(corev1.PodPending, []string{"app"})
	gated.Name, gated.CreationTimestamp = "preemptor", ago(30*time.Second)
	gated.Status.NominatedNodeName = "node-1"
	gated.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}, {ConditionType: "example.com/dns"}}
	withCondition(gated, "example.com/dns", corev1.ConditionTrue, "")

	return map[schema.GroupKind][]runtime.Object{
		{Kind: "Pod"}: {web, crash, gated},
		{Kind: "PodTemplate"}: {&corev1.PodTemplate{
			ObjectMeta: om("tmpl", time.Hour),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}},
				Spec:       testPod("", []string{"app", "sidecar"}).Spec,
			},
		}},
	}
}
