package garbagecollector

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"berth.dev/berth/internal/apiserver/apiservertest"
)

const timeout = 30 * time.Second

// env is a running API server with a garbage collector.
type env struct {
	kube    kubernetes.Interface
	dynamic dynamic.Interface
	ext     apiextensions.Interface
}

func start(t *testing.T) (context.Context, *env) {
	t.Helper()
	s := apiservertest.Start(t)
	e := &env{
		kube:    kubernetes.NewForConfigOrDie(s.Admin),
		dynamic: dynamic.NewForConfigOrDie(s.Admin),
		ext:     apiextensions.NewForConfigOrDie(s.Admin),
	}
	gc, err := New(Config{
		Metadata:        metadata.NewForConfigOrDie(s.Admin),
		Discovery:       e.kube.Discovery(),
		DiscoveryPeriod: 200 * time.Millisecond,
		Logger:          slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- gc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return ctx, e
}

// ref returns a reference to o, blocking its deletion if block.
func ref(apiVersion, kind string, o metav1.Object, block bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: o.GetName(), UID: o.GetUID(), BlockOwnerDeletion: &block}
}

func cmRef(o metav1.Object, block bool) metav1.OwnerReference {
	return ref("v1", "ConfigMap", o, block)
}

func (e *env) configMap(ctx context.Context, t *testing.T, name string, finalizers []string, owners ...metav1.OwnerReference) *corev1.ConfigMap {
	t.Helper()
	cm, err := e.kube.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: name, OwnerReferences: owners, Finalizers: finalizers,
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating ConfigMap %s: %v", name, err)
	}
	return cm
}

// settle waits until the collector has seen every ConfigMap created so far:
// it collects a ConfigMap created now, whose owner never existed, and its
// informer delivers events in order.
func (e *env) settle(ctx context.Context, t *testing.T) {
	t.Helper()
	probe := e.configMap(ctx, t, "probe-"+string(uuid.NewUUID())[:8], nil,
		cmRef(&metav1.ObjectMeta{Name: "never", UID: uuid.NewUUID()}, false))
	e.waitGone(ctx, t, probe.Name)
}

func (e *env) getCM(ctx context.Context, name string) (*corev1.ConfigMap, error) {
	return e.kube.CoreV1().ConfigMaps("default").Get(ctx, name, metav1.GetOptions{})
}

func (e *env) waitGone(ctx context.Context, t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
			_, err := e.getCM(ctx, name)
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		})
		if err != nil {
			t.Fatalf("ConfigMap %s not deleted: %v", name, err)
		}
	}
}

// waitOwners waits until the ConfigMap exists with owner references to
// exactly the given UIDs.
func (e *env) waitOwners(ctx context.Context, t *testing.T, name string, want ...types.UID) {
	t.Helper()
	var got []types.UID
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		cm, err := e.getCM(ctx, name)
		if err != nil {
			return false, err
		}
		got = nil
		for _, r := range cm.OwnerReferences {
			got = append(got, r.UID)
		}
		return cmp.Equal(want, got), nil
	})
	if err != nil {
		t.Fatalf("ConfigMap %s owners: %v (-want +got):\n%s", name, err, cmp.Diff(want, got))
	}
}

func TestBackground(t *testing.T) {
	ctx, e := start(t)
	owner := e.configMap(ctx, t, "owner", nil)
	other := e.configMap(ctx, t, "other", nil)
	dep := e.configMap(ctx, t, "dep", nil, cmRef(owner, false))
	e.configMap(ctx, t, "grandchild", nil, cmRef(dep, false))
	e.configMap(ctx, t, "shared", nil, cmRef(owner, false), cmRef(other, false))
	// A reference to a name that now holds another object is dangling.
	e.configMap(ctx, t, "stale-ref", nil, cmRef(&metav1.ObjectMeta{Name: "other", UID: uuid.NewUUID()}, false))
	// A namespaced owner is looked for in its dependent's namespace only.
	if _, err := e.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	remote, err := e.kube.CoreV1().ConfigMaps("elsewhere").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "remote"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.configMap(ctx, t, "cross-namespace", nil, cmRef(remote, false))
	// A cluster-scoped owner is found from any namespace.
	role, err := e.kube.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "gc-owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.configMap(ctx, t, "role-dep", nil, ref("rbac.authorization.k8s.io/v1", "ClusterRole", role, false))
	e.settle(ctx, t)
	e.waitGone(ctx, t, "cross-namespace")
	for _, name := range []string{"dep", "grandchild", "shared", "role-dep"} {
		if _, err := e.getCM(ctx, name); err != nil {
			t.Fatalf("%s went while its owners live: %v", name, err)
		}
	}

	if err := e.kube.CoreV1().ConfigMaps("default").Delete(ctx, "owner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitGone(ctx, t, "dep", "grandchild", "stale-ref")
	e.waitOwners(ctx, t, "shared", other.UID)
	if _, err := e.getCM(ctx, "other"); err != nil {
		t.Errorf("other: %v", err)
	}

	if err := e.kube.RbacV1().ClusterRoles().Delete(ctx, "gc-owner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitGone(ctx, t, "role-dep")
}

func TestForeground(t *testing.T) {
	ctx, e := start(t)
	const hold = "example.com/hold"
	owner := e.configMap(ctx, t, "owner", nil)
	dep := e.configMap(ctx, t, "dep", nil, cmRef(owner, true))
	e.configMap(ctx, t, "grandchild", nil, cmRef(dep, true))
	e.configMap(ctx, t, "held", []string{hold}, cmRef(owner, true))
	e.configMap(ctx, t, "loose", nil, cmRef(owner, false))
	e.settle(ctx, t)

	w, err := e.kube.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: owner.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	fg := metav1.DeletePropagationForeground
	if err := e.kube.CoreV1().ConfigMaps("default").Delete(ctx, "owner", metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Fatal(err)
	}
	e.waitGone(ctx, t, "grandchild", "dep", "loose")
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		cm, err := e.getCM(ctx, "held")
		return err == nil && cm.DeletionTimestamp != nil, err
	})
	if err != nil {
		t.Fatalf("held not being deleted: %v", err)
	}
	o, err := e.getCM(ctx, "owner")
	if err != nil {
		t.Fatalf("owner went while held remains: %v", err)
	}
	if !slices.Contains(o.Finalizers, metav1.FinalizerDeleteDependents) {
		t.Fatalf("owner finalizers %v, want %s", o.Finalizers, metav1.FinalizerDeleteDependents)
	}

	held, err := e.getCM(ctx, "held")
	if err != nil {
		t.Fatal(err)
	}
	held.Finalizers = nil
	if _, err := e.kube.CoreV1().ConfigMaps("default").Update(ctx, held, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitGone(ctx, t, "held", "owner")

	var order []string
	for ev := range w.ResultChan() {
		if ev.Type != watch.Deleted {
			continue
		}
		name := ev.Object.(*corev1.ConfigMap).Name
		if !slices.Contains([]string{"grandchild", "dep", "held", "loose", "owner"}, name) {
			continue
		}
		order = append(order, name)
		if name == "owner" {
			break
		}
	}
	if len(order) != 5 || order[4] != "owner" || slices.Index(order, "grandchild") > slices.Index(order, "dep") {
		t.Errorf("deletion order %v, want grandchild before dep, and every dependent before owner", order)
	}
}

func TestForegroundCycle(t *testing.T) {
	ctx, e := start(t)
	a := e.configMap(ctx, t, "a", nil)
	b := e.configMap(ctx, t, "b", nil, cmRef(a, true))
	a.OwnerReferences = []metav1.OwnerReference{cmRef(b, true)}
	if _, err := e.kube.CoreV1().ConfigMaps("default").Update(ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.settle(ctx, t)
	fg := metav1.DeletePropagationForeground
	if err := e.kube.CoreV1().ConfigMaps("default").Delete(ctx, "a", metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Fatal(err)
	}
	e.waitGone(ctx, t, "a", "b")
}

func TestOrphan(t *testing.T) {
	ctx, e := start(t)
	owner := e.configMap(ctx, t, "owner", nil)
	other := e.configMap(ctx, t, "other", nil)
	e.configMap(ctx, t, "dep", nil, cmRef(owner, true))
	e.configMap(ctx, t, "shared", nil, cmRef(other, false), cmRef(owner, false))
	e.settle(ctx, t)

	orphan := metav1.DeletePropagationOrphan
	if err := e.kube.CoreV1().ConfigMaps("default").Delete(ctx, "owner", metav1.DeleteOptions{PropagationPolicy: &orphan}); err != nil {
		t.Fatal(err)
	}
	e.waitGone(ctx, t, "owner")
	e.waitOwners(ctx, t, "dep")
	e.waitOwners(ctx, t, "shared", other.UID)
}

func TestCustomResources(t *testing.T) {
	ctx, e := start(t)
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "example.com",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr(true),
				}},
			}},
		},
	}
	if _, err := e.ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		c, err := e.ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return slices.ContainsFunc(c.Status.Conditions, func(c apiextensionsv1.CustomResourceDefinitionCondition) bool {
			return c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue
		}), nil
	})
	if err != nil {
		t.Fatalf("CRD not established: %v", err)
	}
	widgets := e.dynamic.Resource(schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}).Namespace("default")
	widget := func(name string, owners ...metav1.OwnerReference) *unstructured.Unstructured {
		t.Helper()
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("example.com/v1")
		u.SetKind("Widget")
		u.SetName(name)
		u.SetOwnerReferences(owners)
		var w *unstructured.Unstructured
		err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
			var err error
			w, err = widgets.Create(ctx, u, metav1.CreateOptions{})
			if apierrors.IsNotFound(err) {
				// The server may serve a new CRD's resource a moment after Established.
				return false, nil
			}
			return err == nil, err
		})
		if err != nil {
			t.Fatalf("creating Widget %s: %v", name, err)
		}
		return w
	}

	ownerWidget := widget("owner")
	e.configMap(ctx, t, "owned-by-widget", nil, ref("example.com/v1", "Widget", ownerWidget, false))
	ownerCM := e.configMap(ctx, t, "owner", nil)
	widget("owned-by-cm", cmRef(ownerCM, false))
	widget("owned-by-widget", ref("example.com/v1", "Widget", ownerWidget, true))
	e.settle(ctx, t)

	fg := metav1.DeletePropagationForeground
	if err := widgets.Delete(ctx, "owner", metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Fatal(err)
	}
	e.waitGone(ctx, t, "owned-by-widget")
	waitWidgetGone(ctx, t, widgets, "owned-by-widget")
	waitWidgetGone(ctx, t, widgets, "owner")

	if err := e.kube.CoreV1().ConfigMaps("default").Delete(ctx, "owner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitWidgetGone(ctx, t, widgets, "owned-by-cm")
}

func waitWidgetGone(ctx context.Context, t *testing.T, widgets dynamic.ResourceInterface, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		_, err := widgets.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		t.Fatalf("Widget %s not deleted: %v", name, err)
	}
}

func ptr[T any](v T) *T { return &v }
