package job

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// failure is how a Job's pod failure policy treats one failed pod.
type failure struct {
	// counted is false for a failure an Ignore rule matched: it counts
	// towards no limit and no backoff.
	counted bool
	// action is the matching rule's action; empty when none matched.
	action batchv1.PodFailurePolicyAction
	// msg explains a FailJob match, as upstream words it.
	msg string
}

// judge matches a failed pod against the rules of policy in order, as
// upstream does: onExitCodes against the terminated containers with a
// non-zero exit code (regular containers first, then init containers),
// onPodConditions against the pod's conditions (DisruptionTarget among
// them, which evictions and preemptions set). No policy, or no matching
// rule, counts the failure.
func judge(policy *batchv1.PodFailurePolicy, p *corev1.Pod) failure {
	if policy == nil {
		return failure{counted: true}
	}
	for i, r := range policy.Rules {
		var what string
		switch {
		case r.OnExitCodes != nil:
			cs := exitCodeMatch(p, r.OnExitCodes)
			if cs == nil {
				continue
			}
			what = fmt.Sprintf("Container %s for pod %s/%s failed with exit code %v", cs.Name, p.Namespace, p.Name, cs.State.Terminated.ExitCode)
		case r.OnPodConditions != nil:
			c := conditionMatch(p, r.OnPodConditions)
			if c == nil {
				continue
			}
			what = fmt.Sprintf("Pod %s/%s has condition %v", p.Namespace, p.Name, c.Type)
		default:
			continue
		}
		f := failure{counted: r.Action != batchv1.PodFailurePolicyActionIgnore, action: r.Action}
		if r.Action == batchv1.PodFailurePolicyActionFailJob {
			f.msg = fmt.Sprintf("%s matching %v rule at index %d", what, r.Action, i)
		}
		return f
	}
	return failure{counted: true}
}

func exitCodeMatch(p *corev1.Pod, req *batchv1.PodFailurePolicyOnExitCodesRequirement) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses} {
		for i := range list {
			cs := &list[i]
			term := cs.State.Terminated
			if term == nil || term.ExitCode == 0 || req.ContainerName != nil && *req.ContainerName != cs.Name {
				continue
			}
			in := slices.Contains(req.Values, term.ExitCode)
			if in && req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn || !in && req.Operator == batchv1.PodFailurePolicyOnExitCodesOpNotIn {
				return cs
			}
		}
	}
	return nil
}

func conditionMatch(p *corev1.Pod, patterns []batchv1.PodFailurePolicyOnPodConditionsPattern) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		c := &p.Status.Conditions[i]
		for _, pat := range patterns {
			if c.Type == pat.Type && c.Status == pat.Status {
				return c
			}
		}
	}
	return nil
}

// successPolicyMet returns the message of the first rule of the Job's
// successPolicy that the succeeded indexes meet: all of its
// succeededIndexes, or succeededCount of them (of all indexes when it
// names none).
func successPolicyMet(job *batchv1.Job, done map[int]bool) (string, bool) {
	policy := job.Spec.SuccessPolicy
	if policy == nil || len(done) == 0 || job.Spec.Completions == nil {
		return "", false
	}
	for i, r := range policy.Rules {
		met := false
		switch {
		case r.SucceededIndexes != nil:
			want, err := parseIndexes(*r.SucceededIndexes, int(*job.Spec.Completions))
			if err != nil || len(want) == 0 {
				continue
			}
			n := 0
			for idx := range want {
				if done[idx] {
					n++
				}
			}
			met = r.SucceededCount == nil && n == len(want) || r.SucceededCount != nil && n >= int(*r.SucceededCount)
		case r.SucceededCount != nil:
			met = len(done) >= int(*r.SucceededCount)
		}
		if met {
			return fmt.Sprintf("Matched rules at index %d", i), true
		}
	}
	return "", false
}

// parseIndexes parses upstream's index list ("1,3-5") into a set,
// keeping only indexes below completions.
func parseIndexes(s string, completions int) (map[int]bool, error) {
	set := map[int]bool{}
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("parsing index %q: %w", lo, err)
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("parsing index %q: %w", hi, err)
			}
		}
		for i := max(first, 0); i <= last && i < completions; i++ {
			set[i] = true
		}
	}
	return set, nil
}
