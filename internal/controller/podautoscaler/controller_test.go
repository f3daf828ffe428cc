package podautoscaler

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	fakescale "k8s.io/client-go/scale/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	metricsapi "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	fakemetrics "k8s.io/metrics/pkg/client/clientset/versioned/fake"
	testingclock "k8s.io/utils/clock/testing"
)

// reconcileCase is one HPA over a Deployment with the given scale and
// pods, each using cpu milli-cores of a 1-core request.
type reconcileCase struct {
	name       string
	replicas   int32
	selector   string
	usage      []int64 // one pod per entry; nil entries have no metrics
	min, max   int32
	behavior   *autoscalingv2.HorizontalPodAutoscalerBehavior
	container  string // makes the metric a ContainerResource one
	wantScale  int32  // -1: the scale is not updated
	wantStatus autoscalingv2.HorizontalPodAutoscalerStatus
	wantEvent  string
	wantErr    bool
}

func TestReconcile(t *testing.T) {
	percent := func(v int32) *int32 { return &v }
	cond := func(typ autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus, reason string) autoscalingv2.HorizontalPodAutoscalerCondition {
		return autoscalingv2.HorizontalPodAutoscalerCondition{Type: typ, Status: status, Reason: reason}
	}
	cpu := func(util int32, avg string) []autoscalingv2.MetricStatus {
		q := resource.MustParse(avg)
		return []autoscalingv2.MetricStatus{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
			Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: percent(util), AverageValue: &q}}}}
	}
	now := metav1.NewTime(testNow)
	tests := []reconcileCase{{
		name: "scale up", replicas: 2, selector: "app=web", usage: []int64{1000, 1000}, min: 1, max: 10, wantScale: 4,
		wantStatus: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 2, DesiredReplicas: 4, LastScaleTime: &now, CurrentMetrics: cpu(100, "1"),
			Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{
				cond(autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale"),
				cond(autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound"),
				cond(autoscalingv2.ScalingLimited, corev1.ConditionFalse, "DesiredWithinRange"),
			}},
		wantEvent: "Normal SuccessfulRescale New size: 4; reason: cpu resource utilization (percentage of request) above target",
	}, {
		name: "container resource", replicas: 2, selector: "app=web", usage: []int64{1000, 1000}, min: 1, max: 10, container: "c", wantScale: 4,
		wantStatus: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 2, DesiredReplicas: 4, LastScaleTime: &now,
			CurrentMetrics: []autoscalingv2.MetricStatus{{Type: autoscalingv2.ContainerResourceMetricSourceType, ContainerResource: &autoscalingv2.ContainerResourceMetricStatus{
				Name: corev1.ResourceCPU, Container: "c", Current: cpu(100, "1")[0].Resource.Current}}},
			Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{
				cond(autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale"),
				cond(autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound"),
				cond(autoscalingv2.ScalingLimited, corev1.ConditionFalse, "DesiredWithinRange"),
			}},
		wantEvent: "Normal SuccessfulRescale New size: 4; reason: cpu container resource utilization (percentage of request) above target",
	}, {
		name: "limited by the behavior", replicas: 2, selector: "app=web", usage: []int64{1000, 1000}, min: 1, max: 10, wantScale: 3,
		behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{
			Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 60}}}},
		wantStatus: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 2, DesiredReplicas: 3, LastScaleTime: &now, CurrentMetrics: cpu(100, "1"),
			Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{
				cond(autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale"),
				cond(autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound"),
				cond(autoscalingv2.ScalingLimited, corev1.ConditionTrue, "ScaleUpLimit"),
			}},
		wantEvent: "Normal SuccessfulRescale New size: 3; reason: cpu resource utilization (percentage of request) above target",
	}, {
		name: "at target", replicas: 2, selector: "app=web", usage: []int64{500, 520}, min: 1, max: 10, wantScale: -1,
		wantStatus: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 2, DesiredReplicas: 2, CurrentMetrics: cpu(51, "510m"),
			Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{
				cond(autoscalingv2.AbleToScale, corev1.ConditionTrue, "ReadyForNewScale"),
				cond(autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound"),
				cond(autoscalingv2.ScalingLimited, corev1.ConditionFalse, "DesiredWithinRange"),
			}},
	}, {
		name: "below minReplicas", replicas: 1, selector: "app=web", usage: []int64{10}, min: 3, max: 10, wantScale: 3,
		wantStatus: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 1, DesiredReplicas: 3, LastScaleTime: &now,
			Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{cond(autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale")}},
		wantEvent: "Normal SuccessfulRescale New size: 3; reason: Current number of replicas below Spec.MinReplicas",
	}, {
		name: "target scaled to zero", replicas: 0, selector: "app=web", min: 1, max: 10, wantScale: -1,
		wantStatus: autoscalingv2.HorizontalPodAutoscalerStatus{Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{
			cond(autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale"),
			cond(autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled"),
		}},
	}, {
		name: "no selector", replicas: 2, usage: []int64{1000, 1000}, min: 1, max: 10, wantScale: -1, wantErr: true,
		wantStatus: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 2, Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{
			cond(autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale"),
			cond(autoscalingv2.ScalingActive, corev1.ConditionFalse, "InvalidSelector"),
		}},
		wantEvent: "Warning SelectorRequired selector is required",
	}, {
		name: "no metrics", replicas: 2, selector: "app=web", usage: []int64{-1, -1}, min: 1, max: 10, wantScale: -1, wantErr: true,
		wantStatus: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 2, CurrentMetrics: []autoscalingv2.MetricStatus{{}},
			Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{
				cond(autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale"),
				cond(autoscalingv2.ScalingActive, corev1.ConditionFalse, "FailedGetResourceMetric"),
			}},
		wantEvent: "Warning FailedGetResourceMetric no metrics returned from resource metrics API",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			hpa := &autoscalingv2.HorizontalPodAutoscaler{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
				Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
					ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
					MinReplicas:    &tc.min, MaxReplicas: tc.max, Behavior: tc.behavior,
					Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
						Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: percent(50)}}}},
				},
			}
			if tc.container != "" {
				hpa.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.ContainerResourceMetricSourceType, ContainerResource: &autoscalingv2.ContainerResourceMetricSource{
					Name: corev1.ResourceCPU, Container: tc.container, Target: hpa.Spec.Metrics[0].Resource.Target}}}
			}
			objs := []runtime.Object{hpa}
			var podMetrics []metricsapi.PodMetrics
			for i, u := range tc.usage {
				name := fmt.Sprintf("web-%d", i)
				objs = append(objs, &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{"app": "web"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}},
					Status: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &metav1.Time{Time: testNow.Add(-time.Hour)},
						Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Time{Time: testNow.Add(-time.Hour)}}}},
				})
				if u >= 0 {
					podMetrics = append(podMetrics, metricsapi.PodMetrics{
						ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{"app": "web"}},
						Timestamp:  now, Window: metav1.Duration{Duration: 15 * time.Second},
						Containers: []metricsapi.ContainerMetrics{{Name: "c", Usage: corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(u, resource.DecimalSI)}}},
					})
				}
			}
			client := fake.NewClientset(objs...)
			scales := &fakescale.FakeScaleClient{}
			scales.AddReactor("get", "deployments", func(clienttesting.Action) (bool, runtime.Object, error) {
				return true, &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
					Spec: autoscalingv1.ScaleSpec{Replicas: tc.replicas}, Status: autoscalingv1.ScaleStatus{Replicas: tc.replicas, Selector: tc.selector}}, nil
			})
			updated := int32(-1)
			scales.AddReactor("update", "deployments", func(a clienttesting.Action) (bool, runtime.Object, error) {
				sc := a.(clienttesting.UpdateAction).GetObject().(*autoscalingv1.Scale)
				updated = sc.Spec.Replicas
				return true, sc, nil
			})
			mapper := apimeta.NewDefaultRESTMapper([]schema.GroupVersion{{Group: "apps", Version: "v1"}})
			mapper.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, apimeta.RESTScopeNamespace)
			mc := fakemetrics.NewSimpleClientset()
			mc.PrependReactor("list", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
				return true, &metricsapi.PodMetricsList{Items: podMetrics}, nil
			})
			factory := informers.NewSharedInformerFactory(client, 0)
			c, err := New(Config{Client: client, Informers: factory, Metrics: mc.MetricsV1beta1(),
				Scales: scales, Mapper: mapper, Clock: testingclock.NewFakeClock(testNow)})
			if err != nil {
				t.Fatal(err)
			}
			events := record.NewFakeRecorder(10)
			c.recorder = events
			factory.Start(ctx.Done())
			if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
				t.Fatal("caches did not sync")
			}
			err = c.sync(ctx, cache.ObjectName{Namespace: "ns", Name: "web"})
			if (err != nil) != tc.wantErr {
				t.Fatalf("sync: %v, want error %v", err, tc.wantErr)
			}
			if updated != tc.wantScale {
				t.Errorf("scale updated to %d, want %d", updated, tc.wantScale)
			}
			got, err := client.AutoscalingV2().HorizontalPodAutoscalers("ns").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			opts := cmp.Options{
				cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 }),
				cmp.FilterPath(func(p cmp.Path) bool {
					return strings.HasSuffix(p.String(), "Message") || strings.HasSuffix(p.String(), "LastTransitionTime")
				}, cmp.Ignore()),
			}
			if d := cmp.Diff(tc.wantStatus, got.Status, opts); d != "" {
				t.Errorf("status (-want +got):\n%s", d)
			}
			var gotEvent string
			select {
			case gotEvent = <-events.Events:
			default:
			}
			if gotEvent != tc.wantEvent {
				t.Errorf("event = %q, want %q", gotEvent, tc.wantEvent)
			}
		})
	}
}

func TestUsageOf(t *testing.T) {
	at := metav1.NewTime(testNow)
	usage := func(cpu string) corev1.ResourceList {
		if cpu == "" {
			return corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Mi")}
		}
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	}
	items := []metricsapi.PodMetrics{
		{ObjectMeta: metav1.ObjectMeta{Name: "p1"}, Timestamp: at, Containers: []metricsapi.ContainerMetrics{{Name: "a", Usage: usage("100m")}, {Name: "b", Usage: usage("200m")}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "p2"}, Timestamp: at, Containers: []metricsapi.ContainerMetrics{{Name: "a", Usage: usage("50m")}, {Name: "b", Usage: usage("")}}},
	}
	for _, tc := range []struct {
		container string
		want      map[string]int64
	}{
		{"", map[string]int64{"p1": 300}},
		{"a", map[string]int64{"p1": 100, "p2": 50}},
		{"c", map[string]int64{}},
	} {
		got := map[string]int64{}
		for name, m := range usageOf(items, corev1.ResourceCPU, tc.container) {
			got[name] = m.Value
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("usage of container %q (-want +got):\n%s", tc.container, d)
		}
	}
}
