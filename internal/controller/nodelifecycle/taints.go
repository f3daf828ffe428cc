package nodelifecycle

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

var (
	notReadyNoExecute    = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
	unreachableNoExecute = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
)

// conditionTaints maps a node condition and its status to the NoSchedule
// taint the node carries meanwhile.
var conditionTaints = map[corev1.NodeConditionType]map[corev1.ConditionStatus]string{
	corev1.NodeReady: {
		corev1.ConditionFalse:   corev1.TaintNodeNotReady,
		corev1.ConditionUnknown: corev1.TaintNodeUnreachable,
	},
	corev1.NodeMemoryPressure:     {corev1.ConditionTrue: corev1.TaintNodeMemoryPressure},
	corev1.NodeDiskPressure:       {corev1.ConditionTrue: corev1.TaintNodeDiskPressure},
	corev1.NodeNetworkUnavailable: {corev1.ConditionTrue: corev1.TaintNodeNetworkUnavailable},
	corev1.NodePIDPressure:        {corev1.ConditionTrue: corev1.TaintNodePIDPressure},
}

// managedNoSchedule reports whether t is a NoSchedule taint this
// controller owns.
func managedNoSchedule(t corev1.Taint) bool {
	if t.Effect != corev1.TaintEffectNoSchedule {
		return false
	}
	if t.Key == corev1.TaintNodeUnschedulable {
		return true
	}
	for _, keys := range conditionTaints {
		for _, k := range keys {
			if k == t.Key {
				return true
			}
		}
	}
	return false
}

// noScheduleDiff returns the NoSchedule taints node's conditions and
// cordon call for that it lacks, and those it carries that they no longer
// call for. Taints are compared by key and effect.
func noScheduleDiff(node *corev1.Node) (add, remove []corev1.Taint) {
	var want []corev1.Taint
	for _, c := range node.Status.Conditions {
		if key, ok := conditionTaints[c.Type][c.Status]; ok {
			want = append(want, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
		}
	}
	if node.Spec.Unschedulable {
		want = append(want, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	for _, t := range want {
		if !hasTaint(node.Spec.Taints, t) {
			add = append(add, t)
		}
	}
	for _, t := range node.Spec.Taints {
		if managedNoSchedule(t) && !hasTaint(want, t) {
			remove = append(remove, t)
		}
	}
	return add, remove
}

// hasTaint reports whether taints hold one with t's key and effect.
func hasTaint(taints []corev1.Taint, t corev1.Taint) bool {
	return slices.ContainsFunc(taints, func(x corev1.Taint) bool { return x.MatchTaint(&t) })
}

// withTaints returns taints with every taint matching one of remove or
// add (by key and effect) replaced by add; NoExecute taints added get
// now as their timeAdded.
func withTaints(taints, add, remove []corev1.Taint, now time.Time) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range taints {
		if !hasTaint(remove, t) && !hasTaint(add, t) {
			out = append(out, t)
		}
	}
	for _, t := range add {
		if t.Effect == corev1.TaintEffectNoExecute {
			t.TimeAdded = &metav1.Time{Time: now}
		}
		out = append(out, t)
	}
	return out
}

// swapTaints adds the taints of add that node lacks and removes those of
// remove it has. It writes from node (from the cache) first and from a
// fresh read after a conflict; it writes nothing when nothing changes.
func swapTaints(ctx context.Context, client kubernetes.Interface, node *corev1.Node, add, remove []corev1.Taint, now time.Time) error {
	first := true
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if !first {
			fresh, err := client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			node = fresh
		}
		first = false
		var missing []corev1.Taint
		for _, t := range add {
			if !hasTaint(node.Spec.Taints, t) {
				missing = append(missing, t)
			}
		}
		present := slices.ContainsFunc(remove, func(t corev1.Taint) bool { return hasTaint(node.Spec.Taints, t) })
		if len(missing) == 0 && !present {
			return nil
		}
		upd := node.DeepCopy()
		upd.Spec.Taints = withTaints(node.Spec.Taints, missing, remove, now)
		if _, err := client.CoreV1().Nodes().Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating the taints of node %s: %w", node.Name, err)
		}
		return nil
	})
}
