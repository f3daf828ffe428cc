package serviceaccount

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"berth.dev/berth/internal/controller/controllertest"
)

func namespace(name string, phase corev1.NamespacePhase) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: phase}}
	if phase == corev1.NamespaceTerminating {
		ns.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
	}
	return ns
}

func serviceAccount(ns, name string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

// action is what the tests compare of a client call.
type action struct {
	Verb, Resource, Namespace string
	Object                    runtime.Object
}

func TestSync(t *testing.T) {
	tests := []struct {
		name  string
		cache []runtime.Object
		want  []action
	}{{
		name:  "active namespace without account",
		cache: []runtime.Object{namespace("team", corev1.NamespaceActive), serviceAccount("team", "builder")},
		want:  []action{{"create", "serviceaccounts", "team", &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "team"}}}},
	}, {
		name:  "account exists",
		cache: []runtime.Object{namespace("team", corev1.NamespaceActive), serviceAccount("team", "default")},
	}, {
		name:  "terminating namespace",
		cache: []runtime.Object{namespace("team", corev1.NamespaceTerminating)},
	}, {
		name: "namespace gone",
	}, {
		name:  "account in another namespace only",
		cache: []runtime.Object{namespace("team", corev1.NamespaceActive), serviceAccount("other", "default")},
		want:  []action{{"create", "serviceaccounts", "team", &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "team"}}}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			factory := informers.NewSharedInformerFactory(client, 0)
			c, err := New(Config{Client: client, Informers: factory})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range tt.cache {
				var err error
				switch o := o.(type) {
				case *corev1.Namespace:
					err = factory.Core().V1().Namespaces().Informer().GetIndexer().Add(o)
				case *corev1.ServiceAccount:
					err = factory.Core().V1().ServiceAccounts().Informer().GetIndexer().Add(o)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := c.sync(context.Background(), "team"); err != nil {
				t.Fatalf("sync: %v", err)
			}
			var got []action
			for _, a := range client.Actions() {
				got = append(got, action{a.GetVerb(), a.GetResource().Resource, a.GetNamespace(), a.(k8stesting.CreateAction).GetObject()})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
		})
	}
}

// start runs a controller against a fresh API server and returns an admin
// client.
func start(t *testing.T) kubernetes.Interface {
	t.Helper()
	cl := controllertest.Start(t)
	client := cl.Client
	c, err := New(Config{Client: client, Informers: cl.Informers})
	if err != nil {
		t.Fatal(err)
	}
	controllertest.Run(t, cl.Informers, c)
	return client
}

// waitForAccount waits until namespace has a default ServiceAccount whose
// UID differs from notUID, and returns it.
func waitForAccount(t *testing.T, client kubernetes.Interface, namespace, notUID string) *corev1.ServiceAccount {
	t.Helper()
	var sa *corev1.ServiceAccount
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		sa, err = client.CoreV1().ServiceAccounts(namespace).Get(ctx, DefaultName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil && string(sa.UID) != notUID, err
	})
	if err != nil {
		t.Fatalf("waiting for ServiceAccount %s/default: %v", namespace, err)
	}
	return sa
}

func TestControllerKeepsDefaultAccount(t *testing.T) {
	client := start(t)
	ctx := context.Background()

	for _, ns := range []string{"default", "kube-system", "kube-public"} {
		waitForAccount(t, client, ns, "")
	}

	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first := waitForAccount(t, client, "team", "")

	if err := client.CoreV1().ServiceAccounts("team").Delete(ctx, DefaultName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForAccount(t, client, "team", string(first.UID))
}
