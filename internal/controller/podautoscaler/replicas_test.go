package podautoscaler

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var testNow = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// calcCase follows upstream's replica calculator tests: pods named
// pod-0.. with the given readiness, start (hot: within the CPU
// initialization period, just turned ready) and CPU request, and metrics
// for the first len(levels) of them.
type calcCase struct {
	name      string
	current   int32
	ready     []corev1.ConditionStatus // nil: all True
	hot       []bool
	phases    []corev1.PodPhase
	deleted   []bool
	requests  []string // nil: "1" each
	levels    []int64  // milli-cores
	target    int32    // utilization percent; 0 uses averageValue
	average   int64    // average value target, milli
	want      int32
	wantUtil  int32
	wantAvg   int64
	wantError bool
}

func (c calcCase) snapshot() snapshot {
	s := snapshot{metrics: map[string]podMetric{}, resource: corev1.ResourceCPU, now: testNow, tolerance: 0.1,
		cpuInitialization: 5 * time.Minute, readinessDelay: 30 * time.Second}
	for i := range c.current {
		name := fmt.Sprintf("pod-%d", i)
		status := corev1.ConditionTrue
		if c.ready != nil {
			status = c.ready[i]
		}
		start, transition := testNow.Add(-10*time.Minute), testNow.Add(-10*time.Minute)
		if c.hot != nil && c.hot[i] {
			start, transition = testNow.Add(-time.Minute), testNow.Add(-10*time.Second)
		}
		req := "1"
		if c.requests != nil {
			req = c.requests[i]
		}
		phase := corev1.PodRunning
		if c.phases != nil {
			phase = c.phases[i]
		}
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(req)}}}}},
			Status: corev1.PodStatus{Phase: phase, StartTime: &metav1.Time{Time: start},
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.Time{Time: transition}}}},
		}
		if c.deleted != nil && c.deleted[i] {
			p.DeletionTimestamp = &metav1.Time{Time: testNow}
		}
		s.pods = append(s.pods, p)
		if int(i) < len(c.levels) {
			s.metrics[name] = podMetric{Value: c.levels[i], Timestamp: testNow, Window: 30 * time.Second}
		}
	}
	return s
}

func TestReplicaCalculator(t *testing.T) {
	f, tr := corev1.ConditionFalse, corev1.ConditionTrue
	tests := []calcCase{
		{name: "scale up", current: 3, levels: []int64{300, 500, 700}, target: 30, want: 5, wantUtil: 50, wantAvg: 500},
		{name: "scale up, unready pods scale less", current: 3, ready: []corev1.ConditionStatus{f, tr, tr},
			levels: []int64{300, 500, 700}, target: 30, want: 4, wantUtil: 60, wantAvg: 600},
		{name: "scale up, hot cpu scales less", current: 3, hot: []bool{true, false, false},
			levels: []int64{300, 500, 700}, target: 30, want: 4, wantUtil: 60, wantAvg: 600},
		{name: "scale up, unready pods prevent it", current: 3, ready: []corev1.ConditionStatus{tr, f, f},
			levels: []int64{400, 500, 700}, target: 30, want: 3, wantUtil: 40, wantAvg: 400},
		{name: "scale up, ignores deleted and failed pods", current: 5, deleted: []bool{false, false, false, true, false},
			phases: []corev1.PodPhase{"Running", "Running", "Running", "Running", "Failed"},
			levels: []int64{500, 700, 300, 3000, 3000}, target: 30, want: 5, wantUtil: 50, wantAvg: 500},
		{name: "scale down", current: 5, levels: []int64{100, 300, 500, 250, 250}, target: 50, want: 3, wantUtil: 28, wantAvg: 280},
		{name: "scale down counts only ready pods", current: 5, ready: []corev1.ConditionStatus{tr, tr, tr, f, f},
			levels: []int64{100, 300, 500, 250, 250}, target: 50, want: 2, wantUtil: 30, wantAvg: 300},
		{name: "pending pods are unready", current: 4, phases: []corev1.PodPhase{"Running", "Running", "Running", "Pending"},
			levels: []int64{100, 300, 500, 250}, target: 50, want: 2, wantUtil: 30, wantAvg: 300},
		{name: "within tolerance", current: 3, requests: []string{"900m", "1", "1100m"}, levels: []int64{1010, 1030, 1020},
			target: 100, want: 3, wantUtil: 102, wantAvg: 1020},
		{name: "missing metrics, ratio 1", current: 2, levels: []int64{1000}, target: 100, want: 2, wantUtil: 100, wantAvg: 1000},
		{name: "missing metrics on a scale up count as 0", current: 2, levels: []int64{1900}, target: 100, want: 2, wantUtil: 190, wantAvg: 1900},
		{name: "missing metrics on a scale down count as 100%", current: 2, levels: []int64{600}, target: 100, want: 2, wantUtil: 60, wantAvg: 600},
		{name: "missing and unready flip direction", current: 3, ready: []corev1.ConditionStatus{f, tr, tr},
			levels: []int64{100, 450}, target: 50, want: 3, wantUtil: 45, wantAvg: 450},
		{name: "missing and unready, scale up", current: 3, ready: []corev1.ConditionStatus{f, tr, tr},
			levels: []int64{100, 2000}, target: 50, want: 4, wantUtil: 200, wantAvg: 2000},
		{name: "missing and unready, scale down", current: 4, ready: []corev1.ConditionStatus{f, tr, tr, tr},
			levels: []int64{100, 100, 100}, target: 50, want: 3, wantUtil: 10, wantAvg: 100},
		{name: "no metrics", current: 2, target: 50, wantError: true},
		{name: "no pods", current: 0, target: 50, wantError: true},
		{name: "average value scale up", current: 3, levels: []int64{300, 500, 700}, average: 300, want: 5, wantAvg: 500},
		{name: "average value within tolerance", current: 3, levels: []int64{300, 300, 330}, average: 300, want: 3, wantAvg: 310},
		{name: "average value scale down with missing at target", current: 4, levels: []int64{100, 100, 100}, average: 300, want: 2, wantAvg: 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			type result struct {
				Replicas, Util int32
				Avg            int64
			}
			var got result
			var err error
			if tc.target > 0 {
				got.Replicas, got.Util, got.Avg, err = resourceReplicas(tc.current, tc.target, tc.snapshot())
			} else {
				got.Replicas, got.Avg, err = averageValueReplicas(tc.current, tc.average, tc.snapshot())
			}
			if tc.wantError {
				if err == nil {
					t.Fatalf("got %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(result{tc.want, tc.wantUtil, tc.wantAvg}, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestMissingRequest(t *testing.T) {
	s := calcCase{current: 1, levels: []int64{100}}.snapshot()
	s.pods[0].Spec.Containers[0].Resources.Requests = nil
	if _, _, _, err := resourceReplicas(1, 50, s); err == nil {
		t.Error("utilization without requests succeeded")
	}
}

func TestRequestsOfContainers(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	req := func(name, cpu string) corev1.Container {
		c := corev1.Container{Name: name}
		if cpu != "" {
			c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
		}
		return c
	}
	sidecar := req("sidecar", "50m")
	sidecar.RestartPolicy = &always
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{req("init", ""), sidecar},
		Containers:     []corev1.Container{req("app", "200m"), req("log", "100m")},
	}}
	for _, tc := range []struct {
		container string
		want      int64
	}{{"", 350}, {"app", 200}, {"sidecar", 50}, {"init", 0}} {
		got, err := snapshot{pods: []*corev1.Pod{pod}, resource: corev1.ResourceCPU, container: tc.container}.requests()
		if err != nil {
			t.Fatal(err)
		}
		if got["p"] != tc.want {
			t.Errorf("requests of %q = %d, want %d", tc.container, got["p"], tc.want)
		}
	}
}
