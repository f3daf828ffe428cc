package replicaset

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"berth.dev/berth/internal/controller/expectations"
)

// TestSyncWaitsForItsOwnWrites syncs against caches the test fills by
// hand and never updates, as an informer lagging behind the controller's
// writes: a second sync must not repeat the first one's creates or deletes
// until the first ones are observed or expire.
func TestSyncWaitsForItsOwnWrites(t *testing.T) {
	rs := testRS(3, 0)
	client := fake.NewClientset(rs)
	created := 0
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		created++
		p.Name = fmt.Sprintf("%s%d", p.GenerateName, created)
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	clk := clocktesting.NewFakePassiveClock(t0)
	c, err := New(Config{Client: client, Informers: factory, Clock: clk})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := factory.Apps().V1().ReplicaSets().Informer().GetIndexer().Add(rs); err != nil {
		t.Fatal(err)
	}
	k := key{kind: kindReplicaSet, namespace: "ns", name: "web"}
	countPods := func() int {
		t.Helper()
		l, err := client.CoreV1().Pods("ns").List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatalf("listing pods: %v", err)
		}
		return len(l.Items)
	}

	for range 2 {
		if err := c.sync(t.Context(), k); err != nil {
			t.Fatalf("sync: %v", err)
		}
	}
	if n := countPods(); n != 3 {
		t.Fatalf("%d pods after two syncs with a stale cache; want 3", n)
	}

	// The informer reports two of the three; the third is still pending.
	pods, err := client.CoreV1().Pods("ns").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items[:2] {
		c.addPod(&pods.Items[i])
		if err := factory.Core().V1().Pods().Informer().GetIndexer().Add(&pods.Items[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.sync(t.Context(), k); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if n := countPods(); n != 3 {
		t.Fatalf("%d pods while a creation is unobserved; want 3", n)
	}

	// After the timeout the controller trusts its cache again.
	clk.SetTime(t0.Add(expectations.Timeout + 1))
	if err := c.sync(t.Context(), k); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if n := countPods(); n != 4 {
		t.Fatalf("%d pods after expectations expired; want 4 (the cache shows 2 of 3)", n)
	}

	// Scale to one with all four pods in the cache: three deletes, once.
	pods, err = client.CoreV1().Pods("ns").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items {
		c.addPod(&pods.Items[i])
		if err := factory.Core().V1().Pods().Informer().GetIndexer().Update(&pods.Items[i]); err != nil {
			t.Fatal(err)
		}
	}
	deleted := 0
	client.PrependReactor("delete", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		deleted++
		return false, nil, nil
	})
	one := testRS(1, 0)
	if err := factory.Apps().V1().ReplicaSets().Informer().GetIndexer().Update(one); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.sync(t.Context(), k); err != nil {
			t.Fatalf("sync: %v", err)
		}
	}
	if deleted != 3 || countPods() != 1 {
		t.Fatalf("%d deletes leaving %d pods after two syncs with a stale cache; want 3 leaving 1", deleted, countPods())
	}
}
