package agent

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"berth.dev/berth/internal/agent/runtime"
)

// Labels on every container the agent creates; List gives them back, so a
// restarted agent knows what each container is.
const (
	labelPodUID       = "berth.dev/pod-uid"
	labelPodName      = "berth.dev/pod-name"
	labelPodNamespace = "berth.dev/pod-namespace"
	labelContainer    = "berth.dev/container-name"
	labelAttempt      = "berth.dev/restart-count"
	// annotationImageID is the imageID to report.
	annotationImageID = "berth.dev/image-id"
)

// Waiting reasons, as kubelet reports them.
const (
	reasonContainerCreating = "ContainerCreating"
	reasonPodInitializing   = "PodInitializing"
	reasonCrashLoopBackOff  = "CrashLoopBackOff"
	reasonErrImagePull      = "ErrImagePull"
	reasonImagePullBackOff  = "ImagePullBackOff"
	reasonErrImageNeverPull = "ErrImageNeverPull"
	reasonConfigError       = "CreateContainerConfigError"
	reasonCreateError       = "CreateContainerError"
)

// attempts is what the node runs for one container of a pod: its latest
// attempt and the one before, nil when there is none.
type attempts struct {
	latest, previous *runtime.Container
}

// attempt is the restart count a container was created with.
func attempt(c *runtime.Container) int32 {
	n, _ := strconv.Atoi(c.Labels[labelAttempt])
	return int32(n)
}

// waiting is why a container does not run: a reason and message for its
// Waiting state, set by the worker when it could not (re)start it.
type waiting struct {
	reason, message string
}

// podView is the snapshot from which a pod's status is computed.
type podView struct {
	pod        *corev1.Pod
	containers map[string]attempts
	waiting    map[string]waiting
	// sandboxReady says the pod's sandbox and network are set up.
	sandboxReady bool
	podIPs       []string
	hostIP       string
	// probed says whether a running container counts as started and is
	// ready (its probes' verdicts); nil means every running container is
	// both.
	probed func(pod *corev1.Pod, container string) (started, ready bool)
	now    time.Time
}

// apiTime is t as the API keeps it, to the second, so that a status read
// back compares equal to the one computed.
func apiTime(t time.Time) metav1.Time {
	if t.IsZero() {
		return metav1.Time{}
	}
	return metav1.NewTime(t.Truncate(time.Second))
}

func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func terminatedState(c *runtime.Container) *corev1.ContainerStateTerminated {
	t := &corev1.ContainerStateTerminated{
		ExitCode:    int32(c.ExitCode),
		StartedAt:   apiTime(c.StartedAt),
		FinishedAt:  apiTime(c.FinishedAt),
		ContainerID: "runc://" + c.ID,
	}
	switch {
	case c.State == runtime.StateUnknown:
		t.Reason, t.ExitCode, t.Message = "ContainerStatusUnknown", 137, c.Reason
	case c.OOMKilled:
		t.Reason = "OOMKilled"
	case c.ExitCode == 0:
		t.Reason = "Completed"
	default:
		t.Reason = "Error"
	}
	return t
}

func exited(c *runtime.Container) bool {
	return c != nil && (c.State == runtime.StateExited || c.State == runtime.StateUnknown)
}

// containerStatus is one container's status. initDone says the pod's
// init containers are done (app containers wait on them).
func (v *podView) containerStatus(c *corev1.Container, initDone, isInit bool) corev1.ContainerStatus {
	a := v.containers[c.Name]
	s := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: new(bool)}
	w, hasWaiting := v.waiting[c.Name]
	if a.latest == nil {
		reason := reasonContainerCreating
		if isInit || !initDone {
			reason = reasonPodInitializing
		}
		if hasWaiting {
			reason = w.reason
		}
		s.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: w.message}
		if a.previous != nil {
			s.LastTerminationState.Terminated = terminatedState(a.previous)
		}
		return s
	}
	l := a.latest
	s.RestartCount = attempt(l)
	s.ContainerID = "runc://" + l.ID
	s.ImageID = l.Annotations[annotationImageID]
	switch {
	case l.State == runtime.StateRunning:
		s.State.Running = &corev1.ContainerStateRunning{StartedAt: apiTime(l.StartedAt)}
		*s.Started, s.Ready = true, true
		if v.probed != nil {
			*s.Started, s.Ready = v.probed(v.pod, c.Name)
		}
	case l.State == runtime.StateCreated:
		s.State.Waiting = &corev1.ContainerStateWaiting{Reason: reasonContainerCreating}
	case hasWaiting:
		s.State.Waiting = &corev1.ContainerStateWaiting{Reason: w.reason, Message: w.message}
		s.LastTerminationState.Terminated = terminatedState(l)
		return s
	default:
		s.State.Terminated = terminatedState(l)
	}
	if a.previous != nil {
		s.LastTerminationState.Terminated = terminatedState(a.previous)
	}
	return s
}

// podStatus computes the pod's status from the view. Conditions the agent
// does not own are kept; a condition whose status is unchanged keeps its
// transition time.
func (v *podView) podStatus() corev1.PodStatus {
	old := v.pod.Status
	st := corev1.PodStatus{
		QOSClass:  qosClass(v.pod),
		StartTime: old.StartTime,
		HostIP:    v.hostIP,
	}
	if st.StartTime == nil {
		t := apiTime(v.now)
		st.StartTime = &t
	}
	if v.hostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: v.hostIP}}
	}
	for _, ip := range v.podIPs {
		st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(v.podIPs) > 0 {
		st.PodIP = v.podIPs[0]
	}

	var incomplete, unready []string
	initFailed := false
	for i := range v.pod.Spec.InitContainers {
		c := &v.pod.Spec.InitContainers[i]
		s := v.containerStatus(c, true, true)
		st.InitContainerStatuses = append(st.InitContainerStatuses, s)
		if isSidecar(c) {
			if s.State.Running == nil {
				incomplete = append(incomplete, c.Name)
			}
			if !s.Ready {
				unready = append(unready, c.Name)
			}
			continue
		}
		if t := s.State.Terminated; t != nil && t.ExitCode == 0 {
			continue
		}
		incomplete = append(incomplete, c.Name)
		if t := s.State.Terminated; t != nil && v.pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			initFailed = true
		}
	}
	initDone := len(incomplete) == 0
	var running, waitingN, stopped, succeeded int
	for i := range v.pod.Spec.Containers {
		c := &v.pod.Spec.Containers[i]
		s := v.containerStatus(c, initDone, false)
		st.ContainerStatuses = append(st.ContainerStatuses, s)
		if !s.Ready {
			unready = append(unready, c.Name)
		}
		switch {
		case s.State.Running != nil:
			running++
		case s.State.Terminated != nil:
			stopped++
			if s.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case s.LastTerminationState.Terminated != nil:
			stopped++
		default:
			waitingN++
		}
	}
	st.Phase = phase(v.pod, initDone, initFailed, running, waitingN, stopped, succeeded)

	conds := []corev1.PodCondition{
		condition(corev1.PodReadyToStartContainers, v.sandboxReady, "", ""),
		condition(corev1.PodInitialized, initDone, "ContainersNotInitialized",
			fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incomplete, " "))),
	}
	unreadyMsg := fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	reason := "ContainersNotReady"
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		reason, unreadyMsg = "PodCompleted", ""
	}
	ready := len(unready) == 0 && st.Phase == corev1.PodRunning
	conds = append(conds, condition(corev1.ContainersReady, ready, reason, unreadyMsg))
	gatesReady, gateMsg := readinessGates(v.pod)
	switch {
	case !ready:
		conds = append(conds, condition(corev1.PodReady, false, reason, unreadyMsg))
	case !gatesReady:
		conds = append(conds, condition(corev1.PodReady, false, "ReadinessGatesNotReady", gateMsg))
	default:
		conds = append(conds, condition(corev1.PodReady, true, "", ""))
	}
	st.Conditions = mergeConditions(old.Conditions, conds, v.now)
	return st
}

// phase is the pod's phase from its containers' states, as kubelet's
// getPhase decides it. A terminal phase never changes.
func phase(pod *corev1.Pod, initDone, initFailed bool, running, waiting, stopped, succeeded int) corev1.PodPhase {
	if p := pod.Status.Phase; p == corev1.PodSucceeded || p == corev1.PodFailed {
		return p
	}
	switch {
	case initFailed:
		return corev1.PodFailed
	case !initDone:
		return corev1.PodPending
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped > 0:
		switch {
		case pod.Spec.RestartPolicy == corev1.RestartPolicyAlways:
			return corev1.PodRunning
		case stopped == succeeded:
			return corev1.PodSucceeded
		case pod.Spec.RestartPolicy == corev1.RestartPolicyNever:
			return corev1.PodFailed
		}
		return corev1.PodRunning
	}
	return corev1.PodPending
}

func readinessGates(pod *corev1.Pod) (bool, string) {
	var missing []string
	for _, g := range pod.Spec.ReadinessGates {
		ok := false
		for _, c := range pod.Status.Conditions {
			if c.Type == g.ConditionType && c.Status == corev1.ConditionTrue {
				ok = true
			}
		}
		if !ok {
			missing = append(missing, string(g.ConditionType))
		}
	}
	if len(missing) == 0 {
		return true, ""
	}
	return false, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist or is not True", strings.Join(missing, ", "))
}

func condition(t corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
	if ok {
		return corev1.PodCondition{Type: t, Status: corev1.ConditionTrue}
	}
	return corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, Message: msg}
}

// mergeConditions replaces or appends owned in old, keeping the
// transition time of a condition whose status did not change.
func mergeConditions(old, owned []corev1.PodCondition, now time.Time) []corev1.PodCondition {
	out := make([]corev1.PodCondition, 0, len(old)+len(owned))
	byType := map[corev1.PodConditionType]corev1.PodCondition{}
	for _, c := range owned {
		byType[c.Type] = c
	}
	placed := map[corev1.PodConditionType]bool{}
	stamp := func(c, prev corev1.PodCondition, hadPrev bool) corev1.PodCondition {
		if hadPrev && prev.Status == c.Status {
			c.LastTransitionTime = prev.LastTransitionTime
		} else {
			c.LastTransitionTime = apiTime(now)
		}
		return c
	}
	for _, c := range old {
		n, ok := byType[c.Type]
		if !ok {
			out = append(out, c)
			continue
		}
		out = append(out, stamp(n, c, true))
		placed[c.Type] = true
	}
	for _, c := range owned {
		if !placed[c.Type] {
			out = append(out, stamp(c, corev1.PodCondition{}, false))
		}
	}
	return out
}
