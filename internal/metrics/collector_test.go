package metrics

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

func TestAdvance(t *testing.T) {
	t0 := time.Unix(1000, 0)
	t1 := t0.Add(10 * time.Second)
	c := func(pod, name string, cpu float64, mem uint64, at time.Time) ContainerPoint {
		return ContainerPoint{Namespace: "ns", Pod: pod, Container: name, Point: Point{CPUSeconds: cpu, MemoryBytes: mem, Time: at}}
	}
	first := Scrape{
		Node:       Point{CPUSeconds: 100, MemoryBytes: 1, Time: t0},
		Containers: []ContainerPoint{c("a", "x", 10, 1, t0), c("b", "x", 10, 1, t0), c("c", "x", 10, 1, t0)},
	}
	second := Scrape{
		Node: Point{CPUSeconds: 105, MemoryBytes: 2048, Time: t1},
		Containers: []ContainerPoint{
			c("a", "x", 12.5, 64<<20, t1),                 // 250m
			c("b", "x", 11, 1, t1), c("b", "y", 1, 1, t1), // y is new: b incomplete
			c("c", "x", 1, 1, t1), // restarted: counter went down
		},
	}
	st := advance(advance(nil, "n1", first), "n1", second)
	wantNode := &metricsv1beta1.NodeMetrics{
		ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Timestamp: metav1.NewTime(t1), Window: metav1.Duration{Duration: 10 * time.Second},
		Usage: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("2Ki")},
	}
	wantPods := map[string]*metricsv1beta1.PodMetrics{"ns/a": {
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}, Timestamp: metav1.NewTime(t1), Window: metav1.Duration{Duration: 10 * time.Second},
		Containers: []metricsv1beta1.ContainerMetrics{{Name: "x", Usage: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")}}},
	}}
	cmpQ := cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })
	if d := cmp.Diff(wantNode, st.node, cmpQ); d != "" {
		t.Errorf("node (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantPods, st.pods, cmpQ); d != "" {
		t.Errorf("pods (-want +got):\n%s", d)
	}
	if st := advance(nil, "n1", second); st.node != nil || len(st.pods) != 0 {
		t.Errorf("one scrape gave usage: %+v", st)
	}
}

func TestScrapeURL(t *testing.T) {
	node := func(ready corev1.ConditionStatus, port int32, addrs ...corev1.NodeAddress) *corev1.Node {
		n := &corev1.Node{Status: corev1.NodeStatus{Addresses: addrs,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}}}
		n.Status.DaemonEndpoints.KubeletEndpoint.Port = port
		return n
	}
	internal := corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}
	v6 := corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "fd00::1"}
	host := corev1.NodeAddress{Type: corev1.NodeHostName, Address: "n1"}
	tests := []struct {
		name string
		node *corev1.Node
		want string
	}{
		{"ready", node(corev1.ConditionTrue, 10250, host, internal), "https://127.0.0.1:10250/metrics/resource"},
		{"ipv6", node(corev1.ConditionTrue, 10250, v6), "https://[fd00::1]:10250/metrics/resource"},
		{"not ready", node(corev1.ConditionUnknown, 10250, internal), ""},
		{"no port", node(corev1.ConditionTrue, 0, internal), ""},
		{"no internal address", node(corev1.ConditionTrue, 10250, host), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := scrapeURL(tc.node)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("scrapeURL = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}
