package sim

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

func (s *Sim) enqueuePod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if _, ours := s.nodes[pod.Spec.NodeName]; !ours {
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(pod); err == nil {
		s.podQueue.Add(key)
	}
}

func (s *Sim) podDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		if n, ours := s.nodes[pod.Spec.NodeName]; ours {
			n.releaseIP(pod.UID)
		}
	}
}

// syncPod plays the kubelet for one pod bound to a live simulated node:
// it finishes the pod's graceful deletion, or moves its status one step
// towards Running (or its annotated end) and schedules the next step.
func (s *Sim) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := s.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	n, ours := s.nodes[pod.Spec.NodeName]
	if !ours || n.isKilled() {
		return nil
	}
	if pod.DeletionTimestamp != nil {
		// The containers are gone at once; the kubelet then removes the
		// pod it has stopped, and only that one.
		n.releaseIP(pod.UID)
		err := s.client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To[int64](0),
			Preconditions:      metav1.NewUIDPreconditions(string(pod.UID)),
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting pod %s: %w", key, err)
		}
		return nil
	}
	if terminal(pod.Status.Phase) {
		n.releaseIP(pod.UID)
		return nil
	}
	ip, err := s.podIP(n, pod)
	if err != nil {
		return err
	}
	status, after := podStatus(pod, ip, n.internal.String(), s.startDelay, s.clock.Now())
	if !equality.Semantic.DeepEqual(status, pod.Status) {
		upd := pod.DeepCopy()
		upd.Status = status
		if _, err := s.client.CoreV1().Pods(ns).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating pod %s status: %w", key, err)
		}
	}
	if terminal(status.Phase) {
		n.releaseIP(pod.UID)
	}
	if after > 0 {
		s.podQueue.AddAfter(key, after)
	}
	return nil
}

func terminal(p corev1.PodPhase) bool { return p == corev1.PodSucceeded || p == corev1.PodFailed }

// podIP returns the address of pod on n: the one its status or an
// earlier sync gave it, else the lowest free one in n's /24 from .2.
func (s *Sim) podIP(n *node, pod *corev1.Pod) (netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ip, err := netip.ParseAddr(pod.Status.PodIP); err == nil && n.podCIDR.Contains(ip) {
		n.podIPs[ip] = pod.UID
		return ip, nil
	}
	for ip, uid := range n.podIPs {
		if uid == pod.UID {
			return ip, nil
		}
	}
	// Addresses pods got before this Sim started are only in their status.
	objs, _ := s.podIndexer.ByIndex(nodeNameIndex, n.name)
	for _, obj := range objs {
		p := obj.(*corev1.Pod)
		if ip, err := netip.ParseAddr(p.Status.PodIP); err == nil && !terminal(p.Status.Phase) && n.podCIDR.Contains(ip) {
			if _, taken := n.podIPs[ip]; !taken {
				n.podIPs[ip] = p.UID
			}
		}
	}
	for ip := n.podCIDR.Addr().Next().Next(); n.podCIDR.Contains(ip.Next()); ip = ip.Next() {
		if _, taken := n.podIPs[ip]; !taken {
			n.podIPs[ip] = pod.UID
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("node %s has no free pod address in %s", n.name, n.podCIDR)
}

func (n *node) releaseIP(uid types.UID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ip, u := range n.podIPs {
		if u == uid {
			delete(n.podIPs, ip)
		}
	}
}

// podStatus returns the status a kubelet would report at now for pod
// with address ip on a node at hostIP, and how long until it changes on
// its own (0: never). The pod is Pending until startDelay after its
// startTime, then Running; a pod annotated with ExitCodeAnnotation and a
// restartPolicy other than Always ends RunSecondsAnnotation seconds after
// it started running. Times already in the status are kept, so the result
// is stable between changes.
func podStatus(pod *corev1.Pod, ip netip.Addr, hostIP string, startDelay time.Duration, now time.Time) (corev1.PodStatus, time.Duration) {
	have := pod.Status
	stamp := metav1.NewTime(now).Rfc3339Copy()
	st := corev1.PodStatus{
		Phase:              corev1.PodPending,
		HostIP:             hostIP,
		HostIPs:            []corev1.HostIP{{IP: hostIP}},
		QOSClass:           have.QOSClass,
		NominatedNodeName:  have.NominatedNodeName,
		ObservedGeneration: pod.Generation,
	}
	st.StartTime = have.StartTime
	if st.StartTime == nil {
		st.StartTime = &stamp
	}
	cond := func(typ corev1.PodConditionType, status corev1.ConditionStatus, reason string) corev1.PodCondition {
		c := corev1.PodCondition{Type: typ, Status: status, Reason: reason, LastTransitionTime: stamp}
		for _, old := range have.Conditions {
			if old.Type == typ && old.Status == status {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		return c
	}
	containerID := func(name string) string { return "sim://" + string(pod.UID) + "/" + name }
	startedAt := func(name string) metav1.Time {
		for _, c := range have.ContainerStatuses {
			if c.Name == name && c.State.Running != nil {
				return c.State.Running.StartedAt
			}
			if c.Name == name && c.State.Terminated != nil {
				return c.State.Terminated.StartedAt
			}
		}
		return stamp
	}
	for _, c := range pod.Spec.InitContainers {
		st.InitContainerStatuses = append(st.InitContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "sim://" + c.Image, ContainerID: containerID(c.Name),
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				Reason: "Completed", StartedAt: *st.StartTime, FinishedAt: *st.StartTime, ContainerID: containerID(c.Name)}},
			Started: ptr.To(false),
		})
	}

	if wait := st.StartTime.Add(startDelay).Sub(now); wait > 0 {
		st.Conditions = []corev1.PodCondition{
			cond(corev1.PodReadyToStartContainers, corev1.ConditionFalse, ""),
			cond(corev1.PodInitialized, corev1.ConditionTrue, ""),
			cond(corev1.PodReady, corev1.ConditionFalse, "ContainersNotReady"),
			cond(corev1.ContainersReady, corev1.ConditionFalse, "ContainersNotReady"),
			cond(corev1.PodScheduled, corev1.ConditionTrue, ""),
		}
		for _, c := range pod.Spec.Containers {
			st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{
				Name: c.Name, Image: c.Image, Started: ptr.To(false),
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
			})
		}
		st.Conditions = append(st.Conditions, foreignConditions(have.Conditions)...)
		return st, wait
	}

	st.PodIP = ip.String()
	st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	exitCode, runFor, ends := plannedExit(pod)
	var after time.Duration
	finished := false
	if ends {
		// The pod ends when its first container has run for runFor.
		after = startedAt(pod.Spec.Containers[0].Name).Add(runFor).Sub(now)
		finished = after <= 0
	}
	for _, c := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "sim://" + c.Image, ContainerID: containerID(c.Name),
			Ready: !finished, Started: ptr.To(!finished),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: startedAt(c.Name)}},
		}
		if finished {
			reason := "Completed"
			if exitCode != 0 {
				reason = "Error"
			}
			cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: exitCode, Reason: reason, StartedAt: startedAt(c.Name), FinishedAt: stamp, ContainerID: containerID(c.Name)}}
			for _, old := range have.ContainerStatuses {
				if old.Name == c.Name && old.State.Terminated != nil {
					cs.State.Terminated.FinishedAt = old.State.Terminated.FinishedAt
				}
			}
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	if !finished {
		st.Phase = corev1.PodRunning
		st.Conditions = []corev1.PodCondition{
			cond(corev1.PodReadyToStartContainers, corev1.ConditionTrue, ""),
			cond(corev1.PodInitialized, corev1.ConditionTrue, ""),
			cond(corev1.PodReady, corev1.ConditionTrue, ""),
			cond(corev1.ContainersReady, corev1.ConditionTrue, ""),
			cond(corev1.PodScheduled, corev1.ConditionTrue, ""),
		}
		st.Conditions = append(st.Conditions, foreignConditions(have.Conditions)...)
		return st, max(after, 0)
	}
	st.Phase = corev1.PodSucceeded
	if exitCode != 0 {
		st.Phase = corev1.PodFailed
	}
	st.Conditions = []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, corev1.ConditionFalse, ""),
		cond(corev1.PodInitialized, corev1.ConditionTrue, "PodCompleted"),
		cond(corev1.PodReady, corev1.ConditionFalse, "PodCompleted"),
		cond(corev1.ContainersReady, corev1.ConditionFalse, "PodCompleted"),
		cond(corev1.PodScheduled, corev1.ConditionTrue, ""),
	}
	st.Conditions = append(st.Conditions, foreignConditions(have.Conditions)...)
	return st, 0
}

// foreignConditions returns the conditions others own, such as
// DisruptionTarget, which the kubelet keeps as they are.
func foreignConditions(conds []corev1.PodCondition) []corev1.PodCondition {
	var out []corev1.PodCondition
	for _, c := range conds {
		switch c.Type {
		case corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled:
		default:
			out = append(out, c)
		}
	}
	return out
}

// plannedExit reads the pod's exit annotations: the exit code, how long
// it runs first, and whether it ends at all.
func plannedExit(pod *corev1.Pod) (int32, time.Duration, bool) {
	if pod.Spec.RestartPolicy == corev1.RestartPolicyAlways || pod.Spec.RestartPolicy == "" {
		return 0, 0, false
	}
	code, err := strconv.ParseInt(pod.Annotations[ExitCodeAnnotation], 10, 32)
	if err != nil {
		return 0, 0, false
	}
	var runFor time.Duration
	if v, ok := pod.Annotations[RunSecondsAnnotation]; ok {
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil || secs < 0 {
			return 0, 0, false
		}
		runFor = time.Duration(secs * float64(time.Second))
	}
	return int32(code), runFor, true
}
