package replicaset_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"berth.dev/berth/internal/controller/controllertest"
	"berth.dev/berth/internal/controller/replicaset"
)

// TestReplicaFailure runs the controller against a fake clientset whose
// pod creations fail (as with an exhausted quota) until the test lets
// them through.
func TestReplicaFailure(t *testing.T) {
	three := int32(3)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "rs-uid", Generation: 1},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &three,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: template("web"),
		},
	}
	client := fake.NewClientset(rs)
	var failing atomic.Bool
	var created atomic.Int64
	failing.Store(true)
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if failing.Load() {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", fmt.Errorf("exceeded quota: compute"))
		}
		// The fake tracker does not generate names.
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Name = fmt.Sprintf("%s%d", p.GenerateName, created.Add(1))
		return false, nil, nil
	})

	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := replicaset.New(replicaset.Config{Client: client, Informers: factory})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx := controllertest.Run(t, factory, c)

	status := func(cond func(appsv1.ReplicaSetStatus) bool) appsv1.ReplicaSetStatus {
		t.Helper()
		var st appsv1.ReplicaSetStatus
		err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
			cur, err := client.AppsV1().ReplicaSets("ns").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			st = cur.Status
			return cond(st), nil
		})
		if err != nil {
			t.Fatalf("waiting for status: %v (last %+v)", err, st)
		}
		return st
	}
	st := status(func(s appsv1.ReplicaSetStatus) bool { return len(s.Conditions) > 0 })
	cond := st.Conditions[0]
	if cond.Type != appsv1.ReplicaSetReplicaFailure || cond.Status != corev1.ConditionTrue || cond.Reason != "FailedCreate" || !strings.Contains(cond.Message, "exceeded quota") {
		t.Errorf("condition %+v; want ReplicaFailure True FailedCreate about the quota", cond)
	}
	if st.Replicas != 0 || st.ObservedGeneration != 1 {
		t.Errorf("status %+v; want 0 replicas at generation 1", st)
	}

	failing.Store(false)
	status(func(s appsv1.ReplicaSetStatus) bool { return s.Replicas == 3 && len(s.Conditions) == 0 })
	pods, err := client.CoreV1().Pods("ns").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("listing pods: %v", err)
	}
	if len(pods.Items) != 3 || created.Load() != 3 {
		t.Errorf("%d pods after %d successful creates; want exactly 3", len(pods.Items), created.Load())
	}
}
