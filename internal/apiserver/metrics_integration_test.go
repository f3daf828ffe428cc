package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
)

// fixedMetrics answers with fixed usage for the names it knows.
type fixedMetrics struct {
	nodes map[string]string            // node → cpu
	pods  map[string]map[string]string // node → pod → cpu
}

func (f fixedMetrics) NodeMetrics(name string) (*metricsv1beta1.NodeMetrics, bool) {
	cpu, ok := f.nodes[name]
	if !ok {
		return nil, false
	}
	return &metricsv1beta1.NodeMetrics{Window: metav1.Duration{Duration: 15 * time.Second},
		Usage: corev1.ResourceList{corev1.ResourceCPU: apiresource.MustParse(cpu), corev1.ResourceMemory: apiresource.MustParse("1Gi")}}, true
}

func (f fixedMetrics) PodMetrics(node, namespace, name string) (*metricsv1beta1.PodMetrics, bool) {
	cpu, ok := f.pods[node][namespace+"/"+name]
	if !ok {
		return nil, false
	}
	u := corev1.ResourceList{corev1.ResourceCPU: apiresource.MustParse(cpu), corev1.ResourceMemory: apiresource.MustParse("64Mi")}
	return &metricsv1beta1.PodMetrics{Window: metav1.Duration{Duration: 15 * time.Second},
		Containers: []metricsv1beta1.ContainerMetrics{{Name: "a", Usage: u}, {Name: "b", Usage: u}}}, true
}

func TestMetricsAPI(t *testing.T) {
	src := fixedMetrics{
		nodes: map[string]string{"n1": "1500m"},
		pods:  map[string]map[string]string{"n1": {"default/web": "250m", "default/db": "100m"}},
	}
	ts := startTestServerWith(t, func(c *Config) { c.Metrics = src })
	ctx := context.Background()
	c := kubernetes.NewForConfigOrDie(ts.admin)
	if _, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"zone": "a"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ name, app, node string }{{"web", "web", "n1"}, {"db", "db", "n1"}, {"idle", "web", ""}} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.name, Labels: map[string]string{"app": p.app}},
			Spec: corev1.PodSpec{NodeName: p.node, Containers: []corev1.Container{{Name: "a", Image: "x"}, {Name: "b", Image: "x"}}}}
		if _, err := c.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mc := metricsclient.NewForConfigOrDie(ts.admin)

	pods, err := mc.MetricsV1beta1().PodMetricses("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pods.Items {
		names = append(names, p.Namespace+"/"+p.Name+" "+p.Labels["app"]+" "+p.Containers[0].Usage.Cpu().String())
	}
	if d := cmp.Diff([]string{"default/web web 250m"}, names); d != "" {
		t.Errorf("pod metrics app=web (-want +got):\n%s", d)
	}
	all, err := mc.MetricsV1beta1().PodMetricses("").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name!=web"})
	if err != nil || len(all.Items) != 1 || all.Items[0].Name != "db" {
		t.Errorf("all-namespace list with field selector: %v, %+v", err, all)
	}
	db, err := mc.MetricsV1beta1().PodMetricses("default").Get(ctx, "db", metav1.GetOptions{})
	if err != nil || db.Name != "db" || len(db.Containers) != 2 {
		t.Errorf("get db: %v, %+v", err, db)
	}
	if _, err := mc.MetricsV1beta1().PodMetricses("default").Get(ctx, "idle", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get of a pod without metrics: %v, want NotFound", err)
	}
	nodes, err := mc.MetricsV1beta1().NodeMetricses().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 1 || nodes.Items[0].Name != "n1" || nodes.Items[0].Labels["zone"] != "a" {
		t.Errorf("node metrics: %v, %+v", err, nodes)
	}
	if _, err := mc.MetricsV1beta1().NodeMetricses().Watch(ctx, metav1.ListOptions{}); !apierrors.IsMethodNotSupported(err) {
		t.Errorf("watch: %v, want MethodNotSupported", err)
	}

	// Table, as kubectl get podmetrics asks.
	body, err := c.CoreV1().RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var table metav1.Table
	if err := json.Unmarshal(body, &table); err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	for _, r := range table.Rows {
		rows = append(rows, r.Cells)
	}
	if d := cmp.Diff([][]any{{"db", "200m", "128Mi", "15s"}, {"web", "500m", "128Mi", "15s"}}, rows); d != "" {
		t.Errorf("table rows (-want +got):\n%s", d)
	}

	// Discovery: listed read-only, in both forms.
	res, err := c.Discovery().ServerResourcesForGroupVersion("metrics.k8s.io/v1beta1")
	if err != nil {
		t.Fatal(err)
	}
	verbs := map[string][]string{}
	for _, r := range res.APIResources {
		verbs[r.Name] = r.Verbs
	}
	if d := cmp.Diff(map[string][]string{"nodes": {"get", "list"}, "pods": {"get", "list"}}, verbs); d != "" {
		t.Errorf("discovery (-want +got):\n%s", d)
	}
	raw, err := c.CoreV1().RESTClient().Get().AbsPath("/apis").SetHeader("Accept", aggregatedMediaType).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(`"name":"metrics.k8s.io"`)) {
		t.Errorf("aggregated discovery lacks metrics.k8s.io: %s", raw)
	}
}
