package podautoscaler

import (
	"context"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"berth.dev/berth/internal/controller/controllertest"
	"berth.dev/berth/internal/controller/deployment"
	"berth.dev/berth/internal/controller/replicaset"
	"berth.dev/berth/internal/metrics/metricstest"
	"berth.dev/berth/internal/sim"
)

// TestAutoscaleDeployment runs the autoscaler with the Deployment and
// ReplicaSet controllers against simulated nodes serving metrics: raising
// the pods' CPU usage scales the Deployment up, lowering it scales it down
// once the stabilization window has passed.
func TestAutoscaleDeployment(t *testing.T) {
	c := metricstest.Start(t, 1, 200*time.Millisecond)
	client := c.Client
	disc, err := discovery.NewDiscoveryClientForConfig(c.Admin)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	scales, err := scale.NewForConfig(c.Admin, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(disc))
	if err != nil {
		t.Fatal(err)
	}
	mc, err := metricsclient.NewForConfig(c.Admin)
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	rs, err := replicaset.New(replicaset.Config{Client: client, Informers: factory})
	if err != nil {
		t.Fatal(err)
	}
	dep, err := deployment.New(deployment.Config{Client: client, Informers: factory})
	if err != nil {
		t.Fatal(err)
	}
	hpa, err := New(Config{Client: client, Informers: factory, Metrics: mc.MetricsV1beta1(), Scales: scales, Mapper: mapper,
		SyncPeriod: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := controllertest.Run(t, factory, rs, dep, hpa)

	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{sim.CPUUsageAnnotation: "100m"}},
				Spec: corev1.PodSpec{NodeName: "sim-0", Containers: []corev1.Container{{Name: "c", Image: "x",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")}}}}},
			},
		},
	}
	if _, err := client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	downWindow := int32(2)
	h := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    new(int32(1)), MaxReplicas: 4,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: new(int32(50))}}}},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &downWindow}},
		},
	}
	if _, err := client.AutoscalingV2().HorizontalPodAutoscalers("default").Create(ctx, h, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	var last *autoscalingv2.HorizontalPodAutoscaler
	waitHPA := func(what string, cond func(*autoscalingv2.HorizontalPodAutoscaler) bool) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
			got, err := client.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			last = got
			return cond(got), nil
		})
		if err != nil {
			t.Fatalf("waiting until %s: %v; last status %+v", what, err, last.Status)
		}
	}
	utilization := func(h *autoscalingv2.HorizontalPodAutoscaler) int32 {
		if len(h.Status.CurrentMetrics) == 1 && h.Status.CurrentMetrics[0].Resource != nil && h.Status.CurrentMetrics[0].Resource.Current.AverageUtilization != nil {
			return *h.Status.CurrentMetrics[0].Resource.Current.AverageUtilization
		}
		return -1
	}
	condition := func(h *autoscalingv2.HorizontalPodAutoscaler, typ autoscalingv2.HorizontalPodAutoscalerConditionType) string {
		for _, c := range h.Status.Conditions {
			if c.Type == typ {
				return string(c.Status) + "/" + c.Reason
			}
		}
		return ""
	}
	waitHPA("the HPA measures 50% at 1 replica", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
		return utilization(h) == 50 && h.Status.CurrentReplicas == 1 && h.Status.DesiredReplicas == 1 &&
			condition(h, autoscalingv2.ScalingActive) == "True/ValidMetricFound"
	})

	setUsage := func(cpu string) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			d, err := client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			d.Spec.Template.Annotations[sim.CPUUsageAnnotation] = cpu
			_, err = client.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{})
			return err == nil, nil
		})
		if err != nil {
			t.Fatalf("setting the usage to %s: %v", cpu, err)
		}
	}
	setUsage("300m") // 150%: three replicas
	waitHPA("the HPA scales the Deployment up", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
		return h.Status.DesiredReplicas >= 3 && h.Status.LastScaleTime != nil
	})
	d, err = client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas < 3 {
		t.Fatalf("deployment replicas after the scale up: %v %v", err, d.Spec.Replicas)
	}
	if got := condition(last, autoscalingv2.AbleToScale); got != "True/SucceededRescale" && got != "True/ReadyForNewScale" && got != "True/ScaleDownStabilized" {
		t.Errorf("AbleToScale = %s", got)
	}

	setUsage("20m") // 10%: back to the minimum once the window passed
	waitHPA("the HPA scales the Deployment down to 1", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
		return h.Status.DesiredReplicas == 1 && h.Status.CurrentReplicas == 1 && utilization(h) == 10
	})
	events, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=web,reason=SuccessfulRescale"})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range events.Items {
		msgs = append(msgs, e.Message)
	}
	if !slices.ContainsFunc(msgs, func(m string) bool { return m == "New size: 1; reason: All metrics below target" }) {
		t.Errorf("rescale events = %q, want one scaling down to 1", msgs)
	}
}
