package plugins

import (
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestTolerates(t *testing.T) {
	taint := &v1.Taint{Key: "k", Value: "v", Effect: v1.TaintEffectNoSchedule}
	tests := []struct {
		name string
		tol  v1.Toleration
		want bool
	}{
		{name: "equal", tol: v1.Toleration{Key: "k", Operator: v1.TolerationOpEqual, Value: "v", Effect: v1.TaintEffectNoSchedule}, want: true},
		{name: "default operator is Equal", tol: v1.Toleration{Key: "k", Value: "v"}, want: true},
		{name: "other value", tol: v1.Toleration{Key: "k", Value: "w"}, want: false},
		{name: "exists", tol: v1.Toleration{Key: "k", Operator: v1.TolerationOpExists}, want: true},
		{name: "empty key with Exists tolerates all", tol: v1.Toleration{Operator: v1.TolerationOpExists}, want: true},
		{name: "other key", tol: v1.Toleration{Key: "x", Operator: v1.TolerationOpExists}, want: false},
		{name: "other effect", tol: v1.Toleration{Key: "k", Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoExecute}, want: false},
		{name: "Gt is off", tol: v1.Toleration{Key: "k", Operator: v1.TolerationOpGt, Value: "1"}, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tolerates([]v1.Toleration{tc.tol}, taint); got != tc.want {
				t.Errorf("tolerates = %v, want %v", got, tc.want)
			}
		})
	}
}
