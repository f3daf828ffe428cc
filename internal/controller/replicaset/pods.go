package replicaset

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// deletionCostAnnotation lets users order pods for scale-down; lower cost goes first.
const deletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// isActive reports whether a pod counts towards replicas: not finished and
// not being deleted.
func isActive(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil
}

// isTerminating reports whether a pod is being deleted but has not finished.
func isTerminating(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp != nil
}

// filterActive returns the active pods, in order.
func filterActive(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if isActive(p) {
			out = append(out, p)
		}
	}
	return out
}

// readyCondition returns the pod's Ready condition, or nil.
func readyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func isReady(p *corev1.Pod) bool {
	c := readyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

// availableAt returns when a ready pod becomes available: minReadySeconds
// after its Ready condition last turned true. ok is false for a pod that
// is not ready.
func availableAt(p *corev1.Pod, minReadySeconds int32) (at time.Time, ok bool) {
	c := readyCondition(p)
	if c == nil || c.Status != corev1.ConditionTrue {
		return time.Time{}, false
	}
	if minReadySeconds == 0 {
		return time.Time{}, true
	}
	if c.LastTransitionTime.IsZero() {
		// A ready pod without a transition time never becomes available, as upstream.
		return time.Time{}, false
	}
	return c.LastTransitionTime.Add(time.Duration(minReadySeconds) * time.Second), true
}

// isAvailable reports whether the pod has been ready for more than
// minReadySeconds at now.
func isAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	at, ok := availableAt(p, minReadySeconds)
	if !ok {
		return false
	}
	return minReadySeconds == 0 || at.Before(now)
}

// nextAvailableCheck returns how long until the first ready but not yet
// available pod becomes available; ok is false when there is none.
func nextAvailableCheck(pods []*corev1.Pod, minReadySeconds int32, now time.Time) (d time.Duration, ok bool) {
	if minReadySeconds == 0 {
		return 0, false
	}
	for _, p := range pods {
		at, ready := availableAt(p, minReadySeconds)
		if !ready || at.Before(now) {
			continue
		}
		// Availability is strictly after the deadline; wake just past it.
		wait := at.Sub(now) + time.Millisecond
		if !ok || wait < d {
			d, ok = wait, true
		}
	}
	return d, ok
}

// computeStatus returns rs's status for its active controlled pods, the
// number of its terminating pods and the outcome of the last attempt to
// create or delete pods. Conditions keep their transition time while they
// hold.
func computeStatus(rs *appsv1.ReplicaSet, active []*corev1.Pod, terminating int32, manageErr error, now time.Time) appsv1.ReplicaSetStatus {
	st := *rs.Status.DeepCopy()
	template := labels.SelectorFromSet(rs.Spec.Template.Labels)
	var fully, ready, available int32
	for _, p := range active {
		if template.Matches(labels.Set(p.Labels)) {
			fully++
		}
		if isReady(p) {
			ready++
			if isAvailable(p, rs.Spec.MinReadySeconds, now) {
				available++
			}
		}
	}
	failure := -1
	for i, c := range st.Conditions {
		if c.Type == appsv1.ReplicaSetReplicaFailure {
			failure = i
		}
	}
	switch {
	case manageErr != nil && failure < 0:
		reason := "FailedDelete"
		if len(active) < int(replicasOf(rs)) {
			reason = "FailedCreate"
		}
		st.Conditions = append(st.Conditions, appsv1.ReplicaSetCondition{
			Type:               appsv1.ReplicaSetReplicaFailure,
			Status:             corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now),
			Reason:             reason,
			Message:            manageErr.Error(),
		})
	case manageErr == nil && failure >= 0:
		st.Conditions = append(st.Conditions[:failure:failure], st.Conditions[failure+1:]...)
		if len(st.Conditions) == 0 {
			st.Conditions = nil
		}
	}
	st.Replicas = int32(len(active))
	st.FullyLabeledReplicas = fully
	st.ReadyReplicas = ready
	st.AvailableReplicas = available
	st.TerminatingReplicas = &terminating
	st.ObservedGeneration = rs.Generation
	return st
}

// replicasOf returns spec.replicas, which defaults to 1.
func replicasOf(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// podFromTemplate returns a new pod for rs, controlled by it (gvk is rs's
// kind), with the template's labels, annotations, finalizers and spec and a
// generated name prefixed by rs's name.
func podFromTemplate(rs *appsv1.ReplicaSet, gvk schema.GroupVersionKind) *corev1.Pod {
	t := rs.Spec.Template.DeepCopy()
	prefix := rs.Name + "-"
	if len(validation.IsDNS1123Subdomain(prefix+"x")) != 0 {
		prefix = rs.Name
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    prefix,
			Namespace:       rs.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs, gvk)},
		},
		Spec: t.Spec,
	}
}

// slowStartBatch calls fn count times, in batches of initial, then twice
// as many, and so on, each batch concurrently, stopping after the first
// batch with an error. It returns how many calls succeeded and the first
// error. Failing early keeps a doomed create (quota, invalid template)
// from being attempted count times.
func slowStartBatch(count, initial int, fn func() error) (int, error) {
	done := 0
	for batch := min(count, initial); batch > 0; batch = min(2*batch, count-done) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Go(func() {
				if err := fn(); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		failed := len(errs)
		done += batch - failed
		if failed > 0 {
			return done, <-errs
		}
	}
	return done, nil
}

// podsToDelete returns the n pods of pods to delete first, in order. related are
// the active and inactive pods of rs and of its sibling ReplicaSets (same
// controller); pods sharing a node with more of them go first.
func podsToDelete(pods, related []*corev1.Pod, n int, now time.Time) []*corev1.Pod {
	onNode := map[string]int{}
	for _, p := range related {
		if isActive(p) {
			onNode[p.Spec.NodeName]++
		}
	}
	r := rankedPods{pods: append([]*corev1.Pod(nil), pods...), rank: make([]int, len(pods)), now: now}
	for i, p := range r.pods {
		r.rank[i] = onNode[p.Spec.NodeName]
	}
	sort.Stable(r)
	return r.pods[:min(n, len(r.pods))]
}

// rankedPods sorts pods so that the ones to delete first come first, as
// upstream's ActivePodsWithRanks: unassigned before assigned; pending,
// unknown, then running; not ready before ready; lower deletion cost;
// more pods of the family on the same node; ready for less time; more
// container restarts; newer. Times are compared in logarithmic buckets
// of their age at now, ties broken by UID, so that scale-down among
// similar pods is spread rather than strictly newest-first.
type rankedPods struct {
	pods []*corev1.Pod
	rank []int
	now  time.Time
}

func (r rankedPods) Len() int { return len(r.pods) }

func (r rankedPods) Swap(i, j int) {
	r.pods[i], r.pods[j] = r.pods[j], r.pods[i]
	r.rank[i], r.rank[j] = r.rank[j], r.rank[i]
}

var phaseOrder = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

func (r rankedPods) Less(i, j int) bool {
	a, b := r.pods[i], r.pods[j]
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if pa, pb := phaseOrder[a.Status.Phase], phaseOrder[b.Status.Phase]; pa != pb {
		return pa < pb
	}
	if ra, rb := isReady(a), isReady(b); ra != rb {
		return !ra
	}
	if ca, cb := deletionCost(a), deletionCost(b); ca != cb {
		return ca < cb
	}
	if r.rank[i] != r.rank[j] {
		return r.rank[i] > r.rank[j]
	}
	if isReady(a) && isReady(b) {
		ta, tb := readyCondition(a).LastTransitionTime.Time, readyCondition(b).LastTransitionTime.Time
		if !ta.Equal(tb) {
			return r.newerFirst(a, b, ta, tb)
		}
	}
	if ra, rb := restarts(a), restarts(b); ra != rb {
		return ra[0] > rb[0] || ra[0] == rb[0] && ra[1] > rb[1]
	}
	ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time
	if !ta.Equal(tb) {
		return r.newerFirst(a, b, ta, tb)
	}
	return false
}

// newerFirst orders a before b when ta is zero or later than tb, comparing
// in logarithmic buckets of age when both times and now are set.
func (r rankedPods) newerFirst(a, b *corev1.Pod, ta, tb time.Time) bool {
	if ta.IsZero() || tb.IsZero() || r.now.IsZero() {
		if ta.IsZero() || tb.IsZero() {
			return ta.IsZero()
		}
		return ta.After(tb)
	}
	ba, bb := ageBucket(r.now.Sub(ta)), ageBucket(r.now.Sub(tb))
	if ba == bb {
		return a.UID < b.UID
	}
	return ba < bb
}

// ageBucket returns floor(log2(age in nanoseconds)), or -1 for no age.
func ageBucket(age time.Duration) int64 {
	if age <= 0 {
		return -1
	}
	return int64(math.Floor(math.Log2(float64(age))))
}

// restarts returns the highest restart count among the pod's regular
// containers and among its sidecars (restartable init containers).
func restarts(p *corev1.Pod) [2]int32 {
	var out [2]int32
	for _, c := range p.Status.ContainerStatuses {
		out[0] = max(out[0], c.RestartCount)
	}
	sidecars := map[string]bool{}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
		}
	}
	for _, c := range p.Status.InitContainerStatuses {
		if sidecars[c.Name] {
			out[1] = max(out[1], c.RestartCount)
		}
	}
	return out
}

// deletionCost returns the pod's deletion cost annotation; missing or
// invalid means 0.
func deletionCost(p *corev1.Pod) int32 {
	v, err := strconv.ParseInt(p.Annotations[deletionCostAnnotation], 10, 32)
	if err != nil {
		return 0
	}
	return int32(v)
}

// podKey names a pod in log attributes and errors.
func podKey(p *corev1.Pod) string { return fmt.Sprintf("%s/%s", p.Namespace, p.Name) }
