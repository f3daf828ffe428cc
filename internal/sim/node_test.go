package sim

import (
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestNodeStatusHeartbeats(t *testing.T) {
	s := &Sim{capacity: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")}}
	n := &node{name: "sim-0", internal: netip.MustParseAddr("192.0.2.1")}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	first := s.nodeStatus(n, corev1.NodeStatus{}, t0)
	tests := []struct {
		name          string
		have          corev1.NodeStatus
		at            time.Duration
		wantUnchanged bool
		wantHeartbeat time.Duration
	}{
		{name: "within the report interval", have: first, at: time.Minute, wantUnchanged: true, wantHeartbeat: 0},
		{name: "report due", have: first, at: statusReportInterval, wantHeartbeat: statusReportInterval},
		{name: "changed status reported at once", have: func() corev1.NodeStatus {
			st := *first.DeepCopy()
			st.Capacity = nil
			return st
		}(), at: time.Minute, wantHeartbeat: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.nodeStatus(n, tt.have, t0.Add(tt.at))
			if unchanged := equality.Semantic.DeepEqual(got, tt.have); unchanged != tt.wantUnchanged {
				t.Errorf("unchanged = %v, want %v", unchanged, tt.wantUnchanged)
			}
			for _, c := range got.Conditions {
				if !c.LastHeartbeatTime.Time.Equal(t0.Add(tt.wantHeartbeat)) {
					t.Errorf("%s heartbeat = %v, want %v", c.Type, c.LastHeartbeatTime.Time, t0.Add(tt.wantHeartbeat))
				}
				if !c.LastTransitionTime.Time.Equal(t0) {
					t.Errorf("%s transition = %v, want %v", c.Type, c.LastTransitionTime.Time, t0)
				}
			}
		})
	}
}
