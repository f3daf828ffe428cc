package daemonset

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Labels of DaemonSet pods.
const (
	hashLabel       = appsv1.DefaultDaemonSetUniqueLabelKey
	generationLabel = "pod-template-generation"
	// generationAnnotation is where an API server may record the template
	// generation on the DaemonSet, as upstream's does.
	generationAnnotation = "deprecated.daemonset.template.generation"
)

// podsByNode maps node names to the DaemonSet pods meant for them, leaving
// out pods that have finished and are being deleted: nothing is left to do
// with those.
func podsByNode(pods []*corev1.Pod) map[string][]*corev1.Pod {
	out := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if isFinished(p) && p.DeletionTimestamp != nil {
			continue
		}
		n := targetNode(p)
		out[n] = append(out[n], p)
	}
	return out
}

func isFinished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded
}

// byAge orders pods scheduled first, then oldest first, then by name, as
// upstream's podByCreationTimestampAndPhase.
func byAge(a, b *corev1.Pod) int {
	if (a.Spec.NodeName != "") != (b.Spec.NodeName != "") {
		if a.Spec.NodeName != "" {
			return -1
		}
		return 1
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		if a.CreationTimestamp.Before(&b.CreationTimestamp) {
			return -1
		}
		return 1
	}
	return cmp.Compare(a.Name, b.Name)
}

// isUpdated reports whether p is at the DaemonSet's current template: its
// hash label, or its template generation label when the DaemonSet records
// one, matches.
func isUpdated(ds *appsv1.DaemonSet, p *corev1.Pod, hash string) bool {
	if gen := templateGeneration(ds); gen != "" && p.Labels[generationLabel] == gen {
		return true
	}
	return hash != "" && p.Labels[hashLabel] == hash
}

func allowsSurge(ds *appsv1.DaemonSet) bool {
	n, err := surgeCount(ds, 1)
	return err == nil && n > 0
}

func surgeCount(ds *appsv1.DaemonSet, desired int) (int, error) {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru == nil || ru.MaxSurge == nil {
		return 0, nil
	}
	return intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, desired, true)
}

func unavailableCount(ds *appsv1.DaemonSet, desired int) (int, error) {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru == nil || ru.MaxUnavailable == nil {
		return 0, nil
	}
	return intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, desired, true)
}

// managePlan is what manage decides.
type managePlan struct {
	// create names the nodes that need a pod.
	create []string
	// remove are pods to delete: on nodes that must not keep them, on
	// nodes that no longer exist, finished ones and surplus ones.
	remove []*corev1.Pod
	// failed are failed pods to delete and replace, when the node's
	// backoff allows.
	failed []*corev1.Pod
}

// manage decides, as upstream's DaemonSet manage loop, which nodes get a
// pod and which pods go: a node that should run one and has none gets
// one; one that must not keep them loses them; failed and succeeded pods
// go; and of several pods on a node the oldest stays (with maxSurge, the
// oldest at the current hash and the oldest before it). Pods meant for
// nodes that do not exist go too.
func manage(ds *appsv1.DaemonSet, pl placement, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) managePlan {
	var out managePlan
	surge := allowsSurge(ds)
	known := map[string]bool{}
	for _, node := range nodes {
		known[node.Name] = true
		run, keep := pl.check(node)
		pods := byNode[node.Name]
		switch {
		case run && len(pods) == 0:
			out.create = append(out.create, node.Name)
		case keep:
			var running []*corev1.Pod
			for _, p := range pods {
				switch {
				case p.DeletionTimestamp != nil:
				case p.Status.Phase == corev1.PodFailed:
					out.failed = append(out.failed, p)
				case p.Status.Phase == corev1.PodSucceeded:
					out.remove = append(out.remove, p)
				default:
					running = append(running, p)
				}
			}
			out.remove = append(out.remove, surplus(ds, running, surge, hash)...)
		default:
			for _, p := range pods {
				if p.DeletionTimestamp == nil {
					out.remove = append(out.remove, p)
				}
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(byNode)) {
		if known[name] {
			continue
		}
		for _, p := range byNode[name] {
			if p.DeletionTimestamp == nil {
				out.remove = append(out.remove, p)
			}
		}
	}
	return out
}

// surplus returns the running pods of one node beyond the one (or, with
// surge, the new and the old one) that stays.
func surplus(ds *appsv1.DaemonSet, running []*corev1.Pod, surge bool, hash string) []*corev1.Pod {
	if len(running) <= 1 {
		return nil
	}
	running = slices.Clone(running)
	slices.SortFunc(running, byAge)
	if !surge {
		return running[1:]
	}
	var out []*corev1.Pod
	var haveNew, haveOld bool
	for _, p := range running {
		kept := &haveOld
		if isUpdated(ds, p, hash) {
			kept = &haveNew
		}
		if !*kept {
			*kept = true
			continue
		}
		out = append(out, p)
	}
	return out
}

// updatedPods returns the one new and one old pod not being deleted on a
// node; ok is false when there are more, which manage cleans up first.
func updatedPods(ds *appsv1.DaemonSet, pods []*corev1.Pod, hash string) (newPod, oldPod *corev1.Pod, ok bool) {
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if isUpdated(ds, p, hash) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = p
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = p
		}
	}
	return newPod, oldPod, true
}

// rollPlan is what a RollingUpdate step decides.
type rollPlan struct {
	remove []*corev1.Pod
	create []string
}

// roll takes one RollingUpdate step, as upstream's rollingUpdate: without
// surge, old pods are deleted (unavailable ones at once, available ones
// while fewer than maxUnavailable nodes are unavailable) and manage
// replaces them; with maxSurge, a new pod is created beside an old one
// (at once where the old one is unavailable, else on at most maxSurge
// nodes at a time) and the old one is deleted when the new one is
// available. Nodes are taken in name order.
func roll(ds *appsv1.DaemonSet, pl placement, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string, now time.Time) rollPlan {
	byNode = maps.Clone(byNode)
	eligible := map[string]bool{}
	desired := 0
	for _, node := range nodes {
		if run, _ := pl.check(node); run {
			desired++
			eligible[node.Name] = true
			if _, ok := byNode[node.Name]; !ok {
				byNode[node.Name] = nil
			}
		}
	}
	maxUnavailable, err1 := unavailableCount(ds, desired)
	maxSurge, err2 := surgeCount(ds, desired)
	if err1 != nil || err2 != nil {
		return rollPlan{}
	}
	if desired > 0 && maxUnavailable == 0 && maxSurge == 0 {
		maxUnavailable = 1
	}
	minReady := ds.Spec.MinReadySeconds
	names := slices.Sorted(maps.Keys(byNode))
	var out rollPlan
	if maxSurge == 0 {
		unavailable := 0
		var candidates []*corev1.Pod
		for _, name := range names {
			newPod, oldPod, ok := updatedPods(ds, byNode[name], hash)
			switch {
			case !ok, newPod == nil && oldPod == nil, newPod != nil && oldPod != nil:
				unavailable++
			case newPod != nil:
				if !isAvailable(newPod, minReady, now) {
					unavailable++
				}
			case !isAvailable(oldPod, minReady, now):
				out.remove = append(out.remove, oldPod)
			case unavailable < maxUnavailable:
				candidates = append(candidates, oldPod)
			}
		}
		n := min(max(maxUnavailable-unavailable, 0), len(candidates))
		out.remove = append(out.remove, candidates[:n]...)
		return out
	}

	surged, available := 0, 0
	var candidates []string
	var sunset []*corev1.Pod // available old pods on nodes that should no longer run one
	for _, name := range names {
		newPod, oldPod, ok := updatedPods(ds, byNode[name], hash)
		if !ok {
			surged++
			continue
		}
		if oldPod != nil && isAvailable(oldPod, minReady, now) || oldPod == nil && newPod != nil && isAvailable(newPod, minReady, now) {
			available++
		}
		switch {
		case oldPod == nil:
		case newPod == nil && !isAvailable(oldPod, minReady, now):
			if !eligible[name] {
				out.remove = append(out.remove, oldPod)
				continue
			}
			out.create = append(out.create, name)
		case newPod == nil:
			if !eligible[name] {
				sunset = append(sunset, oldPod)
				continue
			}
			if surged < maxSurge {
				candidates = append(candidates, name)
			}
		case !isAvailable(newPod, minReady, now):
			surged++
		default:
			out.remove = append(out.remove, oldPod)
		}
	}
	// Pods on nodes that should no longer run one go only while enough
	// pods elsewhere are available.
	if n := min(available-desired, len(sunset)); n > 0 {
		out.remove = append(out.remove, sunset[:n]...)
	}
	n := min(max(maxSurge-surged, 0), len(candidates))
	out.create = append(out.create, candidates[:n]...)
	return out
}

// computeStatus counts, as upstream, over the nodes that should run a pod
// (desired) those that have one (current), whose oldest pod is ready,
// available (minReadySeconds) and updated, and the nodes that should not
// run one but have one (misscheduled).
func computeStatus(ds *appsv1.DaemonSet, pl placement, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string, now time.Time) appsv1.DaemonSetStatus {
	var st appsv1.DaemonSetStatus
	for _, node := range nodes {
		run, _ := pl.check(node)
		pods := byNode[node.Name]
		if !run {
			if len(pods) > 0 {
				st.NumberMisscheduled++
			}
			continue
		}
		st.DesiredNumberScheduled++
		if len(pods) == 0 {
			continue
		}
		st.CurrentNumberScheduled++
		p := slices.MinFunc(pods, byAge)
		if isReady(p) {
			st.NumberReady++
			if isAvailable(p, ds.Spec.MinReadySeconds, now) {
				st.NumberAvailable++
			}
		}
		if isUpdated(ds, p, hash) {
			st.UpdatedNumberScheduled++
		}
	}
	st.NumberUnavailable = st.DesiredNumberScheduled - st.NumberAvailable
	return st
}

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

// isAvailable: Ready for at least minReadySeconds at now.
func isAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	c := readyCondition(p)
	if c == nil || c.Status != corev1.ConditionTrue {
		return false
	}
	return minReadySeconds == 0 || !c.LastTransitionTime.IsZero() && !c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).After(now)
}

// templateGeneration is the DaemonSet's recorded template generation, or "".
func templateGeneration(ds *appsv1.DaemonSet) string {
	g, ok := ds.Annotations[generationAnnotation]
	if !ok {
		return ""
	}
	if _, err := strconv.ParseInt(g, 10, 64); err != nil {
		return ""
	}
	return g
}
