package podautoscaler

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// podMetric is one pod's usage of a resource, in milli-units summed over
// its containers, as the resource metrics API reported it.
type podMetric struct {
	Value     int64
	Timestamp time.Time
	Window    time.Duration
}

// snapshot is what a replica computation reads: the target's pods, their
// metrics by pod name, and the time and settings that decide readiness.
type snapshot struct {
	pods     []*corev1.Pod
	metrics  map[string]podMetric
	resource corev1.ResourceName
	// container, when set, limits requests to that container (a
	// ContainerResource metric); metrics are then that container's.
	container string
	now       time.Time
	// tolerance is the ratio distance from 1 within which nothing
	// changes (0.1).
	tolerance float64
	// cpuInitialization is how long after start a pod's CPU samples may
	// be from its initialization (5 min); readinessDelay how long after
	// start a pod that has never been ready counts as initializing (30 s).
	cpuInitialization, readinessDelay time.Duration
}

// groups sorts the pods as upstream: ignored (deleted or failed), unready
// (pending, or for CPU not yet ready or still initializing), missing (no
// metrics) and the number of ready pods with metrics.
func (s snapshot) groups() (ready int, unready, missing, ignored map[string]bool) {
	unready, missing, ignored = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, p := range s.pods {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodFailed {
			ignored[p.Name] = true
			continue
		}
		if p.Status.Phase == corev1.PodPending {
			unready[p.Name] = true
			continue
		}
		m, ok := s.metrics[p.Name]
		if !ok {
			missing[p.Name] = true
			continue
		}
		if s.resource == corev1.ResourceCPU && s.cpuUnready(p, m) {
			unready[p.Name] = true
			continue
		}
		ready++
	}
	return ready, unready, missing, ignored
}

// cpuUnready says whether a pod's CPU sample must be set aside: it has no
// Ready condition or start time; or, within its initialization period, it
// is not ready or its sample may include time before it became ready; or,
// after it, it is not ready and has never been since it started.
func (s snapshot) cpuUnready(p *corev1.Pod, m podMetric) bool {
	var cond *corev1.PodCondition
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			cond = &p.Status.Conditions[i]
		}
	}
	if cond == nil || p.Status.StartTime == nil {
		return true
	}
	start := p.Status.StartTime.Time
	if start.Add(s.cpuInitialization).After(s.now) {
		return cond.Status == corev1.ConditionFalse || m.Timestamp.Before(cond.LastTransitionTime.Add(m.Window))
	}
	return cond.Status == corev1.ConditionFalse && start.Add(s.readinessDelay).After(cond.LastTransitionTime.Time)
}

// requests sums, per pod, the requests of the resource of its containers
// (of the named one, when container is set) and restartable init
// containers, in milli-units; a counted container without one is an
// error, as utilization is then undefined.
func (s snapshot) requests() (map[string]int64, error) {
	out := make(map[string]int64, len(s.pods))
	for _, p := range s.pods {
		containers := slices.Clone(p.Spec.Containers)
		for _, c := range p.Spec.InitContainers {
			if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
				containers = append(containers, c)
			}
		}
		var sum int64
		for _, c := range containers {
			if s.container != "" && c.Name != s.container {
				continue
			}
			q, ok := c.Resources.Requests[s.resource]
			if !ok {
				return nil, fmt.Errorf("missing request for %s in container %s of Pod %s", s.resource, c.Name, p.Name)
			}
			sum += q.MilliValue()
		}
		out[p.Name] = sum
	}
	return out, nil
}

var errNoPods = errors.New("no pods returned by selector while calculating replica count")

// utilization is the usage of the pods with metrics as a percentage of
// their requests, its ratio to target, and their average usage.
func utilization(metrics map[string]podMetric, requests map[string]int64, target int32) (ratio float64, percent int32, avg int64, err error) {
	var usage, requested int64
	n := 0
	for name, m := range metrics {
		r, ok := requests[name]
		if !ok {
			continue
		}
		usage += m.Value
		requested += r
		n++
	}
	if requested == 0 {
		return 0, 0, 0, errors.New("no metrics returned matched known pods")
	}
	percent = int32(usage * 100 / requested)
	return float64(percent) / float64(target), percent, usage / int64(n), nil
}

// resourceReplicas is the replica count a Utilization target asks for,
// with the current utilization and average usage (milli-units) of the
// ready pods, as upstream's GetResourceReplicas.
func resourceReplicas(current, target int32, s snapshot) (replicas, percent int32, avg int64, err error) {
	if len(s.pods) == 0 {
		return 0, 0, 0, errNoPods
	}
	ready, unready, missing, ignored := s.groups()
	metrics := usable(s.metrics, unready, ignored)
	if len(metrics) == 0 {
		return 0, 0, 0, errors.New("did not receive metrics for targeted pods (pods might be unready)")
	}
	requests, err := s.requests()
	if err != nil {
		return 0, 0, 0, err
	}
	ratio, percent, avg, err := utilization(metrics, requests, target)
	if err != nil {
		return 0, 0, 0, err
	}
	fill := func(m map[string]podMetric, ratio float64) {
		for name := range missing {
			switch {
			case ratio < 1:
				// As using all it asked for, or the target when above 100%.
				m[name] = podMetric{Value: requests[name] * int64(max(100, target)) / 100}
			case ratio > 1:
				m[name] = podMetric{}
			}
		}
	}
	replicas = adjust(current, ratio, s.tolerance, ready, len(unready) > 0, len(missing) > 0, metrics, unready, fill, func(m map[string]podMetric) float64 {
		r, _, _, _ := utilization(m, requests, target)
		return r
	})
	return replicas, percent, avg, nil
}

// averageValueReplicas is the replica count an AverageValue target
// (milli-units per pod) asks for, with the current average, as upstream's
// GetRawResourceReplicas.
func averageValueReplicas(current int32, target int64, s snapshot) (replicas int32, avg int64, err error) {
	if len(s.pods) == 0 {
		return 0, 0, errNoPods
	}
	ready, unready, missing, ignored := s.groups()
	metrics := usable(s.metrics, unready, ignored)
	if len(metrics) == 0 {
		return 0, 0, errors.New("did not receive metrics for targeted pods (pods might be unready)")
	}
	ratioOf := func(m map[string]podMetric) (float64, int64) {
		var sum int64
		for _, v := range m {
			sum += v.Value
		}
		avg := sum / int64(len(m))
		return float64(sum) / float64(len(m)) / float64(target), avg
	}
	ratio, avg := ratioOf(metrics)
	fill := func(m map[string]podMetric, ratio float64) {
		for name := range missing {
			if ratio < 1 {
				m[name] = podMetric{Value: target}
			} else {
				m[name] = podMetric{}
			}
		}
	}
	replicas = adjust(current, ratio, s.tolerance, ready, len(unready) > 0, len(missing) > 0, metrics, unready, fill, func(m map[string]podMetric) float64 {
		r, _ := ratioOf(m)
		return r
	})
	return replicas, avg, nil
}

// usable copies metrics without the unready and ignored pods.
func usable(metrics map[string]podMetric, unready, ignored map[string]bool) map[string]podMetric {
	out := make(map[string]podMetric, len(metrics))
	for name, m := range metrics {
		if !unready[name] && !ignored[name] {
			out[name] = m
		}
	}
	return out
}

// adjust turns a usage ratio into replicas as upstream: with no missing
// pods and no unready pods on a scale up, ceil(ratio × ready) unless within
// tolerance; otherwise the ratio is recomputed with missing pods at 100%
// of target on a scale down and 0 on a scale up, and unready pods at 0 on
// a scale up, and no change is made if that flips the direction or comes
// within tolerance.
func adjust(current int32, ratio, tolerance float64, ready int, hasUnready, hasMissing bool,
	metrics map[string]podMetric, unready map[string]bool,
	fill func(map[string]podMetric, float64), ratioOf func(map[string]podMetric) float64) int32 {
	scaleUpWithUnready := hasUnready && ratio > 1
	if !scaleUpWithUnready && !hasMissing {
		if math.Abs(1-ratio) <= tolerance {
			return current
		}
		return int32(math.Ceil(ratio * float64(ready)))
	}
	if hasMissing {
		fill(metrics, ratio)
	}
	if scaleUpWithUnready {
		for name := range unready {
			metrics[name] = podMetric{}
		}
	}
	newRatio := ratioOf(metrics)
	if math.Abs(1-newRatio) <= tolerance || ratio < 1 && newRatio > 1 || ratio > 1 && newRatio < 1 {
		return current
	}
	replicas := int32(math.Ceil(newRatio * float64(len(metrics))))
	if newRatio < 1 && replicas > current || newRatio > 1 && replicas < current {
		return current
	}
	return replicas
}
