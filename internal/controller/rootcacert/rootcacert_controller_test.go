package rootcacert

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

	"berth.dev/berth/internal/controller/controllertest"
)

const testCA = "-----BEGIN CERTIFICATE-----\nMAo=\n-----END CERTIFICATE-----\n"

func namespace(name string, phase corev1.NamespacePhase) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: phase}}
	if phase == corev1.NamespaceTerminating {
		ns.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
	}
	return ns
}

// configMap is a ConfigMap in namespace "team".
func configMap(name string, annotations map[string]string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name, Annotations: annotations},
		Data:       data,
	}
}

var (
	described = map[string]string{DescriptionAnnotation: Description}
	caData    = map[string]string{DataKey: testCA}
)

// action is what the tests compare of a client call.
type action struct {
	Verb   string
	Object runtime.Object
}

func TestNewValidatesRootCA(t *testing.T) {
	client := fake.NewClientset()
	for _, ca := range [][]byte{nil, []byte("not pem"), []byte("-----BEGIN RSA PRIVATE KEY-----\nMAo=\n-----END RSA PRIVATE KEY-----\n")} {
		if _, err := New(Config{Client: client, Informers: informers.NewSharedInformerFactory(client, 0), RootCA: ca}); err == nil {
			t.Errorf("New accepted RootCA %q", ca)
		}
	}
}

func TestSync(t *testing.T) {
	tests := []struct {
		name  string
		cache []runtime.Object
		want  []action
	}{{
		name:  "missing",
		cache: []runtime.Object{namespace("team", corev1.NamespaceActive), configMap("other", nil, nil)},
		want:  []action{{"create", configMap(ConfigMapName, described, caData)}},
	}, {
		name:  "up to date",
		cache: []runtime.Object{namespace("team", corev1.NamespaceActive), configMap(ConfigMapName, described, caData)},
	}, {
		name:  "other description kept while data is right",
		cache: []runtime.Object{namespace("team", corev1.NamespaceActive), configMap(ConfigMapName, map[string]string{DescriptionAnnotation: "ours"}, caData)},
	}, {
		name: "data edited",
		cache: []runtime.Object{namespace("team", corev1.NamespaceActive),
			configMap(ConfigMapName, map[string]string{DescriptionAnnotation: "ours", "keep": "me"}, map[string]string{DataKey: "x", "extra": "y"})},
		want: []action{{"update", configMap(ConfigMapName, map[string]string{DescriptionAnnotation: Description, "keep": "me"}, caData)}},
	}, {
		name:  "annotation removed",
		cache: []runtime.Object{namespace("team", corev1.NamespaceActive), configMap(ConfigMapName, nil, caData)},
		want:  []action{{"update", configMap(ConfigMapName, described, caData)}},
	}, {
		name:  "terminating namespace",
		cache: []runtime.Object{namespace("team", corev1.NamespaceTerminating), configMap(ConfigMapName, nil, nil)},
	}, {
		name: "namespace gone",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The server holds what the cache holds.
			client := fake.NewClientset(tt.cache...)
			factory := informers.NewSharedInformerFactory(client, 0)
			c, err := New(Config{Client: client, Informers: factory, RootCA: []byte(testCA)})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range tt.cache {
				var err error
				switch o := o.(type) {
				case *corev1.Namespace:
					err = factory.Core().V1().Namespaces().Informer().GetIndexer().Add(o)
				case *corev1.ConfigMap:
					err = factory.Core().V1().ConfigMaps().Informer().GetIndexer().Add(o)
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
				got = append(got, action{a.GetVerb(), a.(interface{ GetObject() runtime.Object }).GetObject()})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
		})
	}
}

// start runs a controller against a fresh API server and returns an admin
// client and the cluster CA it publishes.
func start(t *testing.T) (kubernetes.Interface, string) {
	t.Helper()
	cl := controllertest.Start(t)
	s, client := cl.Server, cl.Client
	c, err := New(Config{Client: client, Informers: cl.Informers, RootCA: s.PKI.CAPEM()})
	if err != nil {
		t.Fatal(err)
	}
	controllertest.Run(t, cl.Informers, c)
	return client, string(s.PKI.CAPEM())
}

// waitForConfigMap waits until namespace has the published ConfigMap with
// the CA bundle, the description and a UID other than notUID, and returns it.
func waitForConfigMap(t *testing.T, client kubernetes.Interface, namespace, ca, notUID string) *corev1.ConfigMap {
	t.Helper()
	var cm *corev1.ConfigMap
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		cm, err = client.CoreV1().ConfigMaps(namespace).Get(ctx, ConfigMapName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return string(cm.UID) != notUID && cmp.Equal(cm.Data, map[string]string{DataKey: ca}) &&
			cm.Annotations[DescriptionAnnotation] == Description, nil
	})
	if err != nil {
		t.Fatalf("waiting for ConfigMap %s/%s: %v (last seen: %+v)", namespace, ConfigMapName, err, cm)
	}
	return cm
}

func TestControllerPublishesRootCA(t *testing.T) {
	client, ca := start(t)
	ctx := context.Background()

	for _, ns := range []string{"default", "kube-system", "kube-public"} {
		waitForConfigMap(t, client, ns, ca, "")
	}

	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first := waitForConfigMap(t, client, "team", ca, "")

	if err := client.CoreV1().ConfigMaps("team").Delete(ctx, ConfigMapName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	second := waitForConfigMap(t, client, "team", ca, string(first.UID))

	edited := second.DeepCopy()
	edited.Data = map[string]string{DataKey: "tampered", "extra": "x"}
	edited, err := client.CoreV1().ConfigMaps("team").Update(ctx, edited, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if edited.Data[DataKey] != "tampered" {
		t.Fatalf("update not applied: %v", edited.Data)
	}
	reverted := waitForConfigMap(t, client, "team", ca, "")
	if reverted.UID != second.UID {
		t.Errorf("ConfigMap was recreated (UID %s, was %s), want it updated in place", reverted.UID, second.UID)
	}
}
