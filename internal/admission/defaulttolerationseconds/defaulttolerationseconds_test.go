package defaulttolerationseconds

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"berth.dev/berth/internal/admission"
)

func TestApply(t *testing.T) {
	notReady300 := corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}
	unreachable300 := corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}
	custom := func(key string, effect corev1.TaintEffect, secs *int64) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect, TolerationSeconds: secs}
	}
	tests := []struct {
		name string
		have []corev1.Toleration
		want []corev1.Toleration
	}{
		{name: "none", have: nil, want: []corev1.Toleration{notReady300, unreachable300}},
		{
			name: "unrelated toleration kept",
			have: []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpEqual, Value: "yes", Effect: corev1.TaintEffectNoSchedule}},
			want: []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpEqual, Value: "yes", Effect: corev1.TaintEffectNoSchedule}, notReady300, unreachable300},
		},
		{
			name: "own not-ready toleration kept, unreachable added",
			have: []corev1.Toleration{custom(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute, ptr.To[int64](10))},
			want: []corev1.Toleration{custom(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute, ptr.To[int64](10)), unreachable300},
		},
		{
			name: "own unreachable toleration forever kept, not-ready added",
			have: []corev1.Toleration{custom(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute, nil)},
			want: []corev1.Toleration{custom(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute, nil), notReady300},
		},
		{
			name: "empty effect covers NoExecute",
			have: []corev1.Toleration{custom(corev1.TaintNodeNotReady, "", nil), custom(corev1.TaintNodeUnreachable, "", nil)},
			want: []corev1.Toleration{custom(corev1.TaintNodeNotReady, "", nil), custom(corev1.TaintNodeUnreachable, "", nil)},
		},
		{
			name: "empty key tolerates everything",
			have: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			want: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		},
		{
			name: "NoSchedule toleration of the same key does not count",
			have: []corev1.Toleration{custom(corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule, nil)},
			want: []corev1.Toleration{custom(corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule, nil), notReady300, unreachable300},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: tt.have}}
			Apply(pod)
			if diff := cmp.Diff(tt.want, pod.Spec.Tolerations); diff != "" {
				t.Errorf("tolerations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPluginOnlyTouchesNewPods(t *testing.T) {
	pods := corev1.SchemeGroupVersion.WithResource("pods")
	for _, tt := range []struct {
		a    *admission.Attributes
		want int
	}{
		{&admission.Attributes{Operation: admission.Create, Resource: pods, Object: &corev1.Pod{}}, 2},
		{&admission.Attributes{Operation: admission.Update, Resource: pods, Object: &corev1.Pod{}}, 0},
		{&admission.Attributes{Operation: admission.Create, Resource: pods, Subresource: "binding", Object: &corev1.Pod{}}, 0},
	} {
		if err := (Plugin{}).Admit(context.Background(), tt.a); err != nil {
			t.Fatal(err)
		}
		if got := len(tt.a.Object.(*corev1.Pod).Spec.Tolerations); got != tt.want {
			t.Errorf("%s %q: %d tolerations, want %d", tt.a.Operation, tt.a.Subresource, got, tt.want)
		}
	}
}
