package disruption

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// deletionTimeout is how long an entry of status.disruptedPods counts:
// a pod the eviction API admitted that is not being deleted by then is
// healthy again.
const deletionTimeout = 2 * time.Minute

// expectations returns expectedPods and desiredHealthy of pdb over the
// pods its selector matches. scale returns the summed scale of the pods'
// controllers and the names of pods that have none; it is only called
// when the budget is relative to the controllers' scale.
func expectations(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, scale func([]*corev1.Pod) (int32, []string, error)) (expected, desired int32, unmanaged []string, err error) {
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		expected, unmanaged, err = scale(pods)
		if err != nil {
			return 0, 0, nil, err
		}
		maxUnavailable, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, int(expected), true)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("maxUnavailable: %w", err)
		}
		return expected, max(expected-int32(maxUnavailable), 0), unmanaged, nil
	case pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.Int:
		return int32(len(pods)), pdb.Spec.MinAvailable.IntVal, nil, nil
	case pdb.Spec.MinAvailable != nil:
		expected, unmanaged, err = scale(pods)
		if err != nil {
			return 0, 0, nil, err
		}
		minAvailable, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(expected), true)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("minAvailable: %w", err)
		}
		return expected, int32(minAvailable), unmanaged, nil
	}
	return 0, 0, nil, nil
}

// disrupted returns the entries of pdb's disruptedPods that still count
// at now — those of matching pods not yet being deleted whose time is
// less than deletionTimeout ago — and when the first of them expires
// (nil if none will). Entries of other pods are dropped.
func disrupted(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, now time.Time) (map[string]metav1.Time, *time.Time) {
	out := map[string]metav1.Time{}
	var recheck *time.Time
	for _, p := range pods {
		at, ok := pdb.Status.DisruptedPods[p.Name]
		if !ok || p.DeletionTimestamp != nil {
			continue
		}
		expires := at.Add(deletionTimeout)
		if !now.Before(expires) {
			continue
		}
		out[p.Name] = at
		if recheck == nil || expires.Before(*recheck) {
			recheck = &expires
		}
	}
	return out, recheck
}

// healthy counts the pods that are Ready, not being deleted and not
// listed in disrupted.
func healthy(pods []*corev1.Pod, disrupted map[string]metav1.Time) int32 {
	var n int32
	for _, p := range pods {
		if _, ok := disrupted[p.Name]; ok || p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				n++
			}
		}
	}
	return n
}

// status returns pdb's status with the given counts, and whether it
// differs from the one pdb has. Conditions other than DisruptionAllowed
// are kept.
func status(pdb *policyv1.PodDisruptionBudget, current, desired, expected int32, disruptedPods map[string]metav1.Time, now time.Time) (policyv1.PodDisruptionBudgetStatus, bool) {
	allowed := current - desired
	if expected <= 0 || allowed < 0 {
		allowed = 0
	}
	st := policyv1.PodDisruptionBudgetStatus{
		ObservedGeneration: pdb.Generation,
		DisruptedPods:      disruptedPods,
		DisruptionsAllowed: allowed,
		CurrentHealthy:     current,
		DesiredHealthy:     desired,
		ExpectedPods:       expected,
		Conditions:         append([]metav1.Condition(nil), pdb.Status.Conditions...),
	}
	cond := metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse, Reason: policyv1.InsufficientPodsReason}
	if allowed > 0 {
		cond.Status, cond.Reason = metav1.ConditionTrue, policyv1.SufficientPodsReason
	}
	setCondition(&st, cond, now)
	have := pdb.Status
	if len(have.DisruptedPods) == 0 && len(st.DisruptedPods) == 0 {
		have.DisruptedPods = st.DisruptedPods
	}
	return st, !equality.Semantic.DeepEqual(have, st)
}

// failedStatus is the status of a budget whose counts cannot be computed:
// no disruption allowed, for reason err.
func failedStatus(pdb *policyv1.PodDisruptionBudget, err error, now time.Time) policyv1.PodDisruptionBudgetStatus {
	st := *pdb.Status.DeepCopy()
	st.DisruptionsAllowed = 0
	setCondition(&st, metav1.Condition{
		Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse, Reason: policyv1.SyncFailedReason, Message: err.Error(),
	}, now)
	return st
}

// setCondition sets cond, observed at the status's generation, keeping
// the transition time while its status stays.
func setCondition(st *policyv1.PodDisruptionBudgetStatus, cond metav1.Condition, now time.Time) {
	cond.ObservedGeneration = st.ObservedGeneration
	cond.LastTransitionTime = metav1.NewTime(now)
	apimeta.SetStatusCondition(&st.Conditions, cond)
}
