// Package defaulttolerationseconds is the DefaultTolerationSeconds
// admission rule, as upstream's plugin of that name: every new pod
// tolerates the node controller's not-ready and unreachable NoExecute
// taints for a bounded time, so pods on a failed node are evicted after
// five minutes unless they say otherwise.
package defaulttolerationseconds

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// Seconds is how long the added tolerations tolerate their taint.
const Seconds int64 = 300

// Apply adds to pod a toleration of the NoExecute taint
// node.kubernetes.io/not-ready for Seconds, unless one of its tolerations
// already covers that key (or every key) with the NoExecute effect (or
// every effect), and likewise for node.kubernetes.io/unreachable. It runs
// on pod creation only; existing tolerations are never changed.
func Apply(pod *corev1.Pod) {
	notReady, unreachable := false, false
	for _, t := range pod.Spec.Tolerations {
		if t.Effect != "" && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		notReady = notReady || t.Key == "" || t.Key == corev1.TaintNodeNotReady
		unreachable = unreachable || t.Key == "" || t.Key == corev1.TaintNodeUnreachable
	}
	if !notReady {
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, toleration(corev1.TaintNodeNotReady))
	}
	if !unreachable {
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, toleration(corev1.TaintNodeUnreachable))
	}
}

func toleration(key string) corev1.Toleration {
	return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To(Seconds)}
}
