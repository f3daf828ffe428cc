package metrics_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"berth.dev/berth/internal/metrics/metricstest"
	"berth.dev/berth/internal/sim"
)

// TestPipeline runs simulated nodes serving metrics, a Collector scraping
// them and the API server serving what it collected, read as kubectl top
// reads it.
func TestPipeline(t *testing.T) {
	c := metricstest.Start(t, 2, 200*time.Millisecond)
	ctx := t.Context()
	client, srv := c.Client, c.Server
	for i, cpu := range []string{"250m", "1"} {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: []string{"a", "b"}[i], Labels: map[string]string{"app": "x"},
				Annotations: map[string]string{sim.CPUUsageAnnotation: cpu, sim.MemoryUsageAnnotation: "64Mi"}},
			Spec: corev1.PodSpec{NodeName: "sim-0", Containers: []corev1.Container{{Name: "c1", Image: "x"}, {Name: "c2", Image: "x"}}},
		}
		if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mc := metricsclient.NewForConfigOrDie(srv.Admin).MetricsV1beta1()
	near := func(q resource.Quantity, want string) bool {
		w := resource.MustParse(want)
		return abs(q.MilliValue()-w.MilliValue()) <= w.MilliValue()/20
	}
	var last *metricsv1beta1.PodMetrics
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		m, err := mc.PodMetricses("default").Get(ctx, "a", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = m
		return len(m.Containers) == 2 && near(*m.Containers[0].Usage.Cpu(), "125m") && near(*m.Containers[1].Usage.Cpu(), "125m") &&
			m.Containers[0].Usage.Memory().Value() == 32<<20, nil
	})
	if err != nil {
		t.Fatalf("pod a's metrics never showed 125m and 32Mi per container: %v; last %+v", err, last)
	}
	var lastNode *metricsv1beta1.NodeMetrics
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		m, err := mc.NodeMetricses().Get(ctx, "sim-0", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		lastNode = m
		return near(*m.Usage.Cpu(), "1250m") && m.Usage.Memory().Value() == 128<<20, nil
	})
	if err != nil {
		t.Fatalf("sim-0's metrics never showed 1250m and 128Mi: %v; last %+v", err, lastNode)
	}
	// A change of the annotation shows in the next windows.
	p, err := client.CoreV1().Pods("default").Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Annotations[sim.CPUUsageAnnotation] = "2"
	if _, err := client.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		m, err := mc.PodMetricses("default").Get(ctx, "a", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = m
		return near(*m.Containers[0].Usage.Cpu(), "1"), nil
	})
	if err != nil {
		t.Fatalf("pod a's metrics never showed 1 core per container: %v; last %+v", err, last)
	}
	if m, err := mc.NodeMetricses().Get(ctx, "sim-1", metav1.GetOptions{}); err != nil || !m.Usage.Cpu().IsZero() {
		t.Errorf("idle sim-1: %v, %+v", err, m)
	}
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
