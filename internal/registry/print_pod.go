package registry

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/duration"
)

// nodeLostReason is the pod status reason the node lifecycle controller
// sets on the pods of an unreachable node.
const nodeLostReason = "NodeLost"

func podTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
			column("Status", "string", "The aggregate status of the containers in this pod."),
			column("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
			ageColumn(),
			wide(column("IP", "string", corev1.PodStatus{}.SwaggerDoc()["podIP"])),
			wide(column("Node", "string", corev1.PodSpec{}.SwaggerDoc()["nodeName"])),
			wide(column("Nominated Node", "string", corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"])),
			wide(column("Readiness Gates", "string", corev1.PodSpec{}.SwaggerDoc()["readinessGates"])),
		},
		row:    rowOf(podRow),
		fields: fieldsOf(podFields),
	}
}

func podRow(pod *corev1.Pod, now time.Time) []any {
	s := summarizePod(pod, now)
	return []any{
		pod.Name, s.ready, s.status, s.restarts, since(pod.CreationTimestamp, now),
		orNone(podIP(pod)), orNone(pod.Spec.NodeName), orNone(pod.Status.NominatedNodeName), readinessGates(pod),
	}
}

// podSummary is what kubectl shows of a pod's containers.
type podSummary struct {
	ready    string // ready containers / containers, sidecars included: "1/2"
	status   string // "Running", "Init:0/1", "CrashLoopBackOff", "Terminating", ...
	restarts string // "0", or "3 (5m ago)" with the time of the last restart
}

// summarizePod computes the READY, STATUS and RESTARTS cells the way
// upstream's pod printer does. The status starts from the phase (or the
// pod's reason); an init container that has not finished overrides it
// ("Init:<reason>" or "Init:<done>/<total>"); once initialized, the
// containers' waiting or terminated reasons override it, the first
// container last; a pod being deleted reads "Terminating" unless it has
// already finished. Restartable init containers (sidecars) count among
// the containers once started.
func summarizePod(pod *corev1.Pod, now time.Time) podSummary {
	total := len(pod.Spec.Containers)
	sidecar := make(map[string]bool)
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecar[c.Name] = true
			total++
		}
	}

	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}

	var ready, restarts, sidecarRestarts int
	var lastRestart, lastSidecarRestart time.Time
	initializing := false
initContainers:
	for i, cs := range pod.Status.InitContainerStatuses {
		restarts += int(cs.RestartCount)
		lastRestart = laterTermination(lastRestart, cs)
		if sidecar[cs.Name] {
			sidecarRestarts += int(cs.RestartCount)
			lastSidecarRestart = laterTermination(lastSidecarRestart, cs)
		}
		switch t, w := cs.State.Terminated, cs.State.Waiting; {
		case t != nil && t.ExitCode == 0:
			continue
		case sidecar[cs.Name] && cs.Started != nil && *cs.Started:
			if cs.Ready {
				ready++
			}
			continue
		case t != nil:
			reason = "Init:" + terminatedReason(t)
		case w != nil && w.Reason != "" && w.Reason != "PodInitializing":
			reason = "Init:" + w.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		initializing = true
		break initContainers
	}

	if !initializing || podConditionTrue(pod, corev1.PodInitialized) {
		restarts, lastRestart = sidecarRestarts, lastSidecarRestart
		hasRunning := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := pod.Status.ContainerStatuses[i]
			restarts += int(cs.RestartCount)
			lastRestart = laterTermination(lastRestart, cs)
			switch t, w := cs.State.Terminated, cs.State.Waiting; {
			case w != nil && w.Reason != "":
				reason = w.Reason
			case t != nil:
				reason = terminatedReason(t)
			case cs.Ready && cs.State.Running != nil:
				hasRunning = true
				ready++
			}
		}
		// A pod whose first container completed while another still runs
		// is not done.
		if reason == "Completed" && hasRunning {
			reason = "NotReady"
			if podConditionTrue(pod, corev1.PodReady) {
				reason = string(corev1.PodRunning)
			}
		}
	}

	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	switch {
	case pod.DeletionTimestamp != nil && pod.Status.Reason == nodeLostReason:
		reason = "Unknown"
	case pod.DeletionTimestamp != nil && !terminal:
		reason = "Terminating"
	}

	restartsCell := strconv.Itoa(restarts)
	if restarts != 0 && !lastRestart.IsZero() {
		restartsCell = fmt.Sprintf("%d (%s ago)", restarts, duration.HumanDuration(now.Sub(lastRestart)))
	}
	return podSummary{
		ready:    fmt.Sprintf("%d/%d", ready, total),
		status:   reason,
		restarts: restartsCell,
	}
}

// terminatedReason is a terminated container's reason, or its signal or
// exit code when it has none: "Error", "Signal:9", "ExitCode:1".
func terminatedReason(t *corev1.ContainerStateTerminated) string {
	switch {
	case t.Reason != "":
		return t.Reason
	case t.Signal != 0:
		return fmt.Sprintf("Signal:%d", t.Signal)
	default:
		return fmt.Sprintf("ExitCode:%d", t.ExitCode)
	}
}

// laterTermination returns the later of last and the time cs's previous
// run finished.
func laterTermination(last time.Time, cs corev1.ContainerStatus) time.Time {
	if t := cs.LastTerminationState.Terminated; t != nil && t.FinishedAt.After(last) {
		return t.FinishedAt.Time
	}
	return last
}

// podConditionTrue reports whether the pod's first condition of type t is
// true.
func podConditionTrue(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podIP is the pod's primary IP. The API keeps podIP and podIPs[0] equal;
// the singular field covers a writer that set only it.
func podIP(pod *corev1.Pod) string {
	if len(pod.Status.PodIPs) > 0 {
		return pod.Status.PodIPs[0].IP
	}
	return pod.Status.PodIP
}

// readinessGates is "<true gates>/<gates>", or "<none>" without gates.
func readinessGates(pod *corev1.Pod) string {
	if len(pod.Spec.ReadinessGates) == 0 {
		return "<none>"
	}
	met := 0
	for _, g := range pod.Spec.ReadinessGates {
		if podConditionTrue(pod, g.ConditionType) {
			met++
		}
	}
	return fmt.Sprintf("%d/%d", met, len(pod.Spec.ReadinessGates))
}

func podTemplateTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Containers", "string", "Names of each container in the template."),
			column("Images", "string", "Images referenced by each container in the template."),
			column("Pod Labels", "string", "The labels for the pod template."),
		},
		row: rowOf(func(t *corev1.PodTemplate, _ time.Time) []any {
			names, images := containerCells(t.Template.Spec.Containers)
			return []any{t.Name, names, images, labels.FormatLabels(t.Template.Labels)}
		}),
	}
}
