package nodelifecycle

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func noSched(key string) corev1.Taint {
	return corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule}
}

func TestNoScheduleDiff(t *testing.T) {
	cond := func(typ corev1.NodeConditionType, s corev1.ConditionStatus) corev1.NodeCondition {
		return corev1.NodeCondition{Type: typ, Status: s}
	}
	tests := []struct {
		name          string
		conds         []corev1.NodeCondition
		unschedulable bool
		taints        []corev1.Taint
		add, remove   []corev1.Taint
	}{
		{name: "healthy node, nothing to do", conds: []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue), cond(corev1.NodeMemoryPressure, corev1.ConditionFalse)}},
		{name: "not ready", conds: []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionFalse)}, add: []corev1.Taint{noSched(corev1.TaintNodeNotReady)}},
		{name: "unknown replaces not-ready",
			conds:  []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionUnknown)},
			taints: []corev1.Taint{noSched(corev1.TaintNodeNotReady)},
			add:    []corev1.Taint{noSched(corev1.TaintNodeUnreachable)}, remove: []corev1.Taint{noSched(corev1.TaintNodeNotReady)}},
		{name: "pressures and network",
			conds: []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue), cond(corev1.NodeMemoryPressure, corev1.ConditionTrue),
				cond(corev1.NodeDiskPressure, corev1.ConditionTrue), cond(corev1.NodePIDPressure, corev1.ConditionTrue), cond(corev1.NodeNetworkUnavailable, corev1.ConditionTrue)},
			add: []corev1.Taint{noSched(corev1.TaintNodeMemoryPressure), noSched(corev1.TaintNodeDiskPressure), noSched(corev1.TaintNodePIDPressure), noSched(corev1.TaintNodeNetworkUnavailable)}},
		{name: "pressure Unknown is no taint", conds: []corev1.NodeCondition{cond(corev1.NodeMemoryPressure, corev1.ConditionUnknown)}},
		{name: "cordoned", unschedulable: true, add: []corev1.Taint{noSched(corev1.TaintNodeUnschedulable)}},
		{name: "uncordoned, recovered; foreign and NoExecute taints stay",
			conds: []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue)},
			taints: []corev1.Taint{noSched(corev1.TaintNodeUnschedulable), noSched(corev1.TaintNodeUnreachable), noSched("dedicated"),
				{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}, {Key: corev1.TaintNodeDiskPressure, Effect: corev1.TaintEffectPreferNoSchedule}},
			remove: []corev1.Taint{noSched(corev1.TaintNodeUnschedulable), noSched(corev1.TaintNodeUnreachable)}},
		{name: "a taint with a value still counts", conds: []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionFalse)},
			taints: []corev1.Taint{{Key: corev1.TaintNodeNotReady, Value: "x", Effect: corev1.TaintEffectNoSchedule}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := &corev1.Node{Spec: corev1.NodeSpec{Unschedulable: tt.unschedulable, Taints: tt.taints}, Status: corev1.NodeStatus{Conditions: tt.conds}}
			add, remove := noScheduleDiff(node)
			if diff := cmp.Diff(tt.add, add); diff != "" {
				t.Errorf("add (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.remove, remove); diff != "" {
				t.Errorf("remove (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWithTaints(t *testing.T) {
	earlier := &metav1.Time{Time: t0.Add(-time.Hour)}
	have := []corev1.Taint{
		noSched("dedicated"),
		{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute, TimeAdded: earlier},
	}
	got := withTaints(have, []corev1.Taint{unreachableNoExecute, noSched(corev1.TaintNodeUnreachable)}, []corev1.Taint{notReadyNoExecute}, t0)
	want := []corev1.Taint{
		noSched("dedicated"),
		{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &metav1.Time{Time: t0}},
		noSched(corev1.TaintNodeUnreachable),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("taints (-want +got):\n%s", diff)
	}
	if have[1].TimeAdded != earlier || unreachableNoExecute.TimeAdded != nil {
		t.Error("withTaints changed its arguments")
	}
}

func TestEvictionDelay(t *testing.T) {
	tol := func(key string, secs *int64) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs}
	}
	unreachable := []corev1.Taint{unreachableNoExecute}
	tests := []struct {
		name        string
		tolerations []corev1.Toleration
		taints      []corev1.Taint
		delay       time.Duration
		forever     bool
	}{
		{name: "no taints", forever: true},
		{name: "not tolerated", taints: unreachable, delay: 0},
		{name: "other taint tolerated only", tolerations: []corev1.Toleration{tol(corev1.TaintNodeNotReady, nil)}, taints: unreachable, delay: 0},
		{name: "NoSchedule toleration does not count",
			tolerations: []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
			taints:      unreachable, delay: 0},
		{name: "tolerated forever", tolerations: []corev1.Toleration{tol(corev1.TaintNodeUnreachable, nil)}, taints: unreachable, forever: true},
		{name: "tolerated by a wildcard", tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, taints: unreachable, forever: true},
		{name: "tolerated for a while", tolerations: []corev1.Toleration{tol(corev1.TaintNodeUnreachable, ptr.To[int64](300))}, taints: unreachable, delay: 300 * time.Second},
		{name: "negative seconds mean now", tolerations: []corev1.Toleration{tol(corev1.TaintNodeUnreachable, ptr.To[int64](-5))}, taints: unreachable, delay: 0},
		{name: "the least of the tolerations used",
			tolerations: []corev1.Toleration{tol(corev1.TaintNodeUnreachable, ptr.To[int64](300)), tol("other", ptr.To[int64](20)), tol("x", nil)},
			taints:      []corev1.Taint{unreachableNoExecute, {Key: "other", Effect: corev1.TaintEffectNoExecute}, {Key: "x", Effect: corev1.TaintEffectNoExecute}},
			delay:       20 * time.Second},
		{name: "only the first matching toleration is used",
			tolerations: []corev1.Toleration{tol(corev1.TaintNodeUnreachable, nil), tol(corev1.TaintNodeUnreachable, ptr.To[int64](5))},
			taints:      unreachable, forever: true},
		{name: "Equal needs the value",
			tolerations: []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpEqual, Value: "a", Effect: corev1.TaintEffectNoExecute}},
			taints:      []corev1.Taint{{Key: "k", Value: "b", Effect: corev1.TaintEffectNoExecute}}, delay: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			delay, forever := evictionDelay(tt.tolerations, tt.taints)
			if delay != tt.delay || forever != tt.forever {
				t.Errorf("evictionDelay = %v, %v; want %v, %v", delay, forever, tt.delay, tt.forever)
			}
		})
	}
}
