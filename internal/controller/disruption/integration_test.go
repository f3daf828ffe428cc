package disruption_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"berth.dev/berth/internal/controller/controllertest"
	"berth.dev/berth/internal/controller/disruption"
)

const ns = "pdb"

type env struct {
	t      *testing.T
	ctx    context.Context
	client kubernetes.Interface
	dyn    dynamic.Interface
	ext    apiextensionsclient.Interface
	clock  *testingclock.FakeClock
}

func start(t *testing.T) *env {
	t.Helper()
	cl := controllertest.Start(t)
	srv, client := cl.Server, cl.Client
	disc, err := discovery.NewDiscoveryClientForConfig(srv.Admin)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	scales, err := scale.NewForConfig(srv.Admin, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(disc))
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(srv.Admin)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := apiextensionsclient.NewForConfig(srv.Admin)
	if err != nil {
		t.Fatal(err)
	}
	clk := testingclock.NewFakeClock(time.Now())
	c, err := disruption.New(disruption.Config{Client: client, Informers: cl.Informers, Scales: scales, Mapper: mapper, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	controllertest.CreateNamespace(t.Context(), t, client, ns)
	return &env{t: t, ctx: controllertest.Run(t, cl.Informers, c), client: client, dyn: dyn, ext: ext, clock: clk}
}

// pod creates a Running, Ready pod with labels, controlled by owner if
// it is not nil.
func (e *env) pod(name string, labels map[string]string, owner *metav1.OwnerReference) {
	e.t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	p, err := e.client.CoreV1().Pods(ns).Create(e.ctx, p, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := e.client.CoreV1().Pods(ns).UpdateStatus(e.ctx, p, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) budget(name string, app string, minAvailable, maxUnavailable *intstr.IntOrString) {
	e.t.Helper()
	_, err := e.client.PolicyV1().PodDisruptionBudgets(ns).Create(e.ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: minAvailable, MaxUnavailable: maxUnavailable,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
}

// want waits until the budget's status has the counts, an up-to-date
// observedGeneration and the DisruptionAllowed condition with reason.
func (e *env) want(name string, expected, desired, current, allowed int32, reason string) *policyv1.PodDisruptionBudget {
	e.t.Helper()
	var got *policyv1.PodDisruptionBudget
	err := wait.PollUntilContextTimeout(e.ctx, 20*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		got, err = e.client.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		st := got.Status
		cond := apimeta.FindStatusCondition(st.Conditions, policyv1.DisruptionAllowedCondition)
		return st.ExpectedPods == expected && st.DesiredHealthy == desired && st.CurrentHealthy == current && st.DisruptionsAllowed == allowed &&
			// A failed sync leaves observedGeneration as it was.
			(st.ObservedGeneration == got.Generation) == (reason != policyv1.SyncFailedReason) && cond != nil && cond.Reason == reason, nil
	})
	if err != nil {
		e.t.Fatalf("budget %s: status %+v, want expected %d desired %d current %d allowed %d reason %s", name, got.Status, expected, desired, current, allowed, reason)
	}
	return got
}

// with returns e reporting to the subtest t.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

func TestBudgets(t *testing.T) {
	e := start(t)
	apps := e.client.AppsV1()
	dep, err := apps.Deployments(ns).Create(e.ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](4),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := apps.ReplicaSets(ns).Create(e.ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: dep.UID, Controller: ptr.To(true),
		}}},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: dep.Spec.Template,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byRS := &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}
	for _, name := range []string{"web-a", "web-b", "web-c"} {
		e.pod(name, map[string]string{"app": "web"}, byRS)
	}

	t.Run("maxUnavailable percent of the Deployment's scale", func(t *testing.T) {
		e := e.with(t)
		e.budget("web", "web", nil, ptr.To(intstr.FromString("50%")))
		e.want("web", 4, 2, 3, 1, policyv1.SufficientPodsReason)
	})

	t.Run("the eviction API takes the allowed disruption, and the controller follows", func(t *testing.T) {
		e := e.with(t)
		if err := e.client.CoreV1().Pods(ns).EvictV1(e.ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "web-a", Namespace: ns}}); err != nil {
			t.Fatalf("eviction: %v", err)
		}
		e.want("web", 4, 2, 2, 0, policyv1.InsufficientPodsReason)
		// The entry counts until the controller sees the pod deleted.
		err := wait.PollUntilContextTimeout(e.ctx, 20*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
			got, err := e.client.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "web", metav1.GetOptions{})
			return err == nil && len(got.Status.DisruptedPods) == 0 && got.Status.CurrentHealthy == 2, err
		})
		if err != nil {
			t.Fatalf("disruptedPods kept for a deleted pod: %v", err)
		}
		err = e.client.CoreV1().Pods(ns).EvictV1(e.ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "web-b", Namespace: ns}})
		if err == nil {
			t.Fatal("an eviction the budget does not allow succeeded")
		}
	})

	t.Run("disruptedPods entries count until they expire", func(t *testing.T) {
		e := e.with(t)
		e.pod("web-d", map[string]string{"app": "web"}, byRS)
		e.want("web", 4, 2, 3, 1, policyv1.SufficientPodsReason)
		pdbs := e.client.PolicyV1().PodDisruptionBudgets(ns)
		pdb, err := pdbs.Get(e.ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		now := e.clock.Now()
		pdb.Status.DisruptedPods = map[string]metav1.Time{
			"web-b": metav1.NewTime(now.Add(-3 * time.Minute)), // long expired
			"web-c": metav1.NewTime(now),
			"ghost": metav1.NewTime(now),
		}
		if _, err := pdbs.UpdateStatus(e.ctx, pdb, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		got := e.want("web", 4, 2, 2, 0, policyv1.InsufficientPodsReason)
		if _, ok := got.Status.DisruptedPods["web-c"]; !ok || len(got.Status.DisruptedPods) != 1 {
			t.Errorf("disruptedPods = %v, want only web-c", got.Status.DisruptedPods)
		}
		e.clock.Step(2*time.Minute + time.Second)
		got = e.want("web", 4, 2, 3, 1, policyv1.SufficientPodsReason)
		if len(got.Status.DisruptedPods) != 0 {
			t.Errorf("disruptedPods = %v after expiry", got.Status.DisruptedPods)
		}
	})

	t.Run("minAvailable number counts the pods", func(t *testing.T) {
		e := e.with(t)
		e.budget("web-min", "web", ptr.To(intstr.FromInt32(3)), nil)
		e.want("web-min", 3, 3, 3, 0, policyv1.InsufficientPodsReason)
	})

	t.Run("a pod whose controller is missing fails the sync", func(t *testing.T) {
		e := e.with(t)
		e.pod("stray", map[string]string{"app": "stray"}, &metav1.OwnerReference{
			APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "nowhere", UID: types.UID("0000"), Controller: ptr.To(true),
		})
		e.budget("stray", "stray", ptr.To(intstr.FromString("50%")), nil)
		got := e.want("stray", 0, 0, 0, 0, policyv1.SyncFailedReason)
		if c := apimeta.FindStatusCondition(got.Status.Conditions, policyv1.DisruptionAllowedCondition); c.Message != `found no controllers for pod "stray"` {
			t.Errorf("SyncFailed message %q", c.Message)
		}
	})

	t.Run("a custom resource's scale subresource", func(t *testing.T) {
		e := e.with(t)
		uid := e.widget(5)
		byWidget := &metav1.OwnerReference{APIVersion: "test.berth.dev/v1", Kind: "Widget", Name: "w", UID: uid, Controller: ptr.To(true)}
		e.pod("w-0", map[string]string{"app": "widget"}, byWidget)
		e.pod("w-1", map[string]string{"app": "widget"}, byWidget)
		e.budget("widget", "widget", nil, ptr.To(intstr.FromInt32(4)))
		e.want("widget", 5, 1, 2, 1, policyv1.SufficientPodsReason)
	})
}

// widget defines the Widget custom resource, with a scale subresource,
// and creates one with replicas; it returns its UID.
func (e *env) widget(replicas int64) types.UID {
	e.t.Helper()
	_, err := e.ext.ApiextensionsV1().CustomResourceDefinitions().Create(e.ctx, &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.test.berth.dev"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "test.berth.dev",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr.To(true),
				}},
				Subresources: &apiextensionsv1.CustomResourceSubresources{Scale: &apiextensionsv1.CustomResourceSubresourceScale{
					SpecReplicasPath: ".spec.replicas", StatusReplicasPath: ".status.replicas",
				}},
			}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	res := e.dyn.Resource(schema.GroupVersionResource{Group: "test.berth.dev", Version: "v1", Resource: "widgets"}).Namespace(ns)
	var w *unstructured.Unstructured
	err = wait.PollUntilContextTimeout(e.ctx, 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		w, err = res.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "test.berth.dev/v1", "kind": "Widget",
			"metadata": map[string]any{"name": "w"},
			"spec":     map[string]any{"replicas": replicas},
		}}, metav1.CreateOptions{})
		return err == nil, nil
	})
	if err != nil {
		e.t.Fatalf("creating the widget: %v", err)
	}
	return w.GetUID()
}
