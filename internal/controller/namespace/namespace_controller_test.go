package namespace

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"berth.dev/berth/internal/apiserver/apiservertest"
	"berth.dev/berth/internal/controller/controllertest"
)

var widgets = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}

// env is an API server with the namespace controller running against it.
type env struct {
	client  kubernetes.Interface
	dynamic dynamic.Interface
	s       *apiservertest.Server
}

func startEnv(t *testing.T) *env {
	t.Helper()
	cl := controllertest.Start(t)
	s, client := cl.Server, cl.Client
	meta, err := metadata.NewForConfig(s.Admin)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(s.Admin)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{
		Client:    client,
		Informers: cl.Informers,
		Metadata:  meta,
		Logger:    slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	controllertest.Run(t, cl.Informers, c)
	return &env{client: client, dynamic: dyn, s: s}
}

func (e *env) createNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := e.client.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
}

func (e *env) createConfigMap(t *testing.T, ns, name string, finalizers ...string) {
	t.Helper()
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Finalizers: finalizers},
		Data:       map[string]string{"k": "v"},
	}
	if _, err := e.client.CoreV1().ConfigMaps(ns).Create(t.Context(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating configmap %s/%s: %v", ns, name, err)
	}
}

// createWidgetCRD creates the namespaced custom resource widgets.example.com
// and waits until it is established.
func (e *env) createWidgetCRD(t *testing.T) {
	t.Helper()
	ext, err := apiextensions.NewForConfig(e.s.Admin)
	if err != nil {
		t.Fatal(err)
	}
	preserve := true
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "example.com",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: &preserve,
				}},
			}},
		},
	}
	ctx := t.Context()
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating CRD: %v", err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return slices.ContainsFunc(got.Status.Conditions, func(c apiextensionsv1.CustomResourceDefinitionCondition) bool {
			return c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue
		}), nil
	})
	if err != nil {
		t.Fatalf("waiting for the CRD to be established: %v", err)
	}
}

// waitGone waits until namespace name no longer exists.
func (e *env) waitGone(t *testing.T, name string, timeout time.Duration) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		_, err := e.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		ns, _ := e.client.CoreV1().Namespaces().Get(t.Context(), name, metav1.GetOptions{})
		t.Fatalf("namespace %s still there after %v (%v): %+v", name, timeout, err, ns)
	}
}

func TestDeletedNamespaceIsEmptiedAndGoes(t *testing.T) {
	e := startEnv(t)
	ctx := t.Context()
	e.createWidgetCRD(t)
	e.createNamespace(t, "doomed")
	e.createNamespace(t, "kept")
	for _, ns := range []string{"doomed", "kept"} {
		e.createConfigMap(t, ns, "one")
		e.createConfigMap(t, ns, "two")
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}, StringData: map[string]string{"k": "v"}}
		if _, err := e.client.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating secret: %v", err)
		}
		labels := map[string]string{"app": "web"}
		replicas := int32(1)
		deploy := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
				},
			},
		}
		if _, err := e.client.AppsV1().Deployments(ns).Create(ctx, deploy, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating deployment: %v", err)
		}
		widget := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "example.com/v1", "kind": "Widget",
			"metadata": map[string]any{"name": "w"}, "spec": map[string]any{"size": int64(3)},
		}}
		if _, err := e.dynamic.Resource(widgets).Namespace(ns).Create(ctx, widget, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating widget: %v", err)
		}
	}

	if err := e.client.CoreV1().Namespaces().Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting namespace: %v", err)
	}
	e.waitGone(t, "doomed", 30*time.Second)

	// Its content went with it; the other namespace's stayed.
	counts := func(ns string) map[string]int {
		cms, err := e.client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		secrets, err := e.client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		deploys, err := e.client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ws, err := e.dynamic.Resource(widgets).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return map[string]int{"configmaps": len(cms.Items), "secrets": len(secrets.Items),
			"deployments": len(deploys.Items), "widgets": len(ws.Items)}
	}
	if diff := cmp.Diff(map[string]int{"configmaps": 0, "secrets": 0, "deployments": 0, "widgets": 0}, counts("doomed")); diff != "" {
		t.Errorf("content of the deleted namespace: %s", diff)
	}
	if diff := cmp.Diff(map[string]int{"configmaps": 2, "secrets": 1, "deployments": 1, "widgets": 1}, counts("kept")); diff != "" {
		t.Errorf("content of the namespace not deleted: %s", diff)
	}
	kept, err := e.client.CoreV1().Namespaces().Get(ctx, "kept", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if kept.DeletionTimestamp != nil || kept.Status.Phase != corev1.NamespaceActive ||
		!slices.Contains(kept.Spec.Finalizers, corev1.FinalizerKubernetes) || len(kept.Status.Conditions) != 0 {
		t.Errorf("namespace not deleted was touched: %+v", kept)
	}
}

func TestFinalizerHoldsNamespace(t *testing.T) {
	e := startEnv(t)
	ctx := t.Context()
	const finalizer = "example.com/f"
	e.createNamespace(t, "held")
	e.createConfigMap(t, "held", "pinned", finalizer)
	e.createConfigMap(t, "held", "free")
	if err := e.client.CoreV1().Namespaces().Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting namespace: %v", err)
	}

	want := map[corev1.NamespaceConditionType]cond{
		corev1.NamespaceContentRemaining: {corev1.NamespaceContentRemaining, corev1.ConditionTrue, "SomeResourcesRemain",
			"Some resources are remaining: configmaps. has 1 resource instances"},
		corev1.NamespaceFinalizersRemaining: {corev1.NamespaceFinalizersRemaining, corev1.ConditionTrue, "SomeFinalizersRemain",
			"Some content in the namespace has finalizers remaining: example.com/f in 1 resource instances"},
		corev1.NamespaceDeletionContentFailure:   okContent,
		corev1.NamespaceDeletionDiscoveryFailure: okDiscovery,
		corev1.NamespaceDeletionGVParsingFailure: okParsing,
	}
	var last *corev1.Namespace
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		ns, err := e.client.CoreV1().Namespaces().Get(ctx, "held", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = ns
		got := map[corev1.NamespaceConditionType]cond{}
		for _, c := range strip(ns.Status.Conditions) {
			got[c.Type] = c
		}
		return cmp.Diff(want, got) == "", nil
	})
	if err != nil {
		t.Fatalf("waiting for the deletion conditions (%v); last namespace: %+v", err, last)
	}
	if last.Status.Phase != corev1.NamespaceTerminating || !slices.Contains(last.Spec.Finalizers, corev1.FinalizerKubernetes) {
		t.Errorf("held namespace: phase %q, finalizers %v; want Terminating with kubernetes", last.Status.Phase, last.Spec.Finalizers)
	}
	cms, err := e.client.CoreV1().ConfigMaps("held").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cms.Items) != 1 || cms.Items[0].Name != "pinned" || cms.Items[0].DeletionTimestamp == nil {
		t.Fatalf("configmaps in the held namespace: %+v; want only pinned, being deleted", cms.Items)
	}

	// Releasing the finalizer lets the configmap and then the namespace go.
	pinned := cms.Items[0].DeepCopy()
	pinned.Finalizers = nil
	if _, err := e.client.CoreV1().ConfigMaps("held").Update(ctx, pinned, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("removing the configmap's finalizer: %v", err)
	}
	e.waitGone(t, "held", 30*time.Second)
}
