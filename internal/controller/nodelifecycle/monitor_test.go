package nodelifecycle

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	testingclock "k8s.io/utils/clock/testing"
)

// monitorEnv drives the monitor and taint passes by hand over a fake
// clientset, with every write seen by the informers before the next pass.
type monitorEnv struct {
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	clock  *testingclock.FakeClock
	c      *Controller
	nodes  []string
}

func newMonitorEnv(t *testing.T, zones map[string]string) *monitorEnv {
	t.Helper()
	clk := testingclock.NewFakeClock(t0)
	client := fake.NewClientset()
	ctx := t.Context()
	e := &monitorEnv{t: t, ctx: ctx, client: client, clock: clk}
	for name, zone := range zones {
		node := readyNode(t0, corev1.ConditionTrue)
		node.Name, node.Labels = name, map[string]string{corev1.LabelTopologyZone: zone}
		if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		l := lease(t0)
		l.Name, l.Namespace = name, corev1.NamespaceNodeLease
		if _, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, l, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		e.nodes = append(e.nodes, name)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: factory, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	t.Cleanup(factory.Shutdown)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		t.Fatal("caches did not sync")
	}
	e.c = c
	return e
}

// settle waits until the informers hold what the clientset holds.
func (e *monitorEnv) settle() {
	e.t.Helper()
	err := wait.PollUntilContextTimeout(e.ctx, 5*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, n := range e.nodes {
			have, err1 := e.c.nodes.Get(n)
			want, err2 := e.client.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
			if err1 != nil || err2 != nil || !equality.Semantic.DeepEqual(have, want) {
				return false, nil
			}
			hl, err1 := e.c.leases.Leases(corev1.NamespaceNodeLease).Get(n)
			wl, err2 := e.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, n, metav1.GetOptions{})
			if err1 != nil || err2 != nil || !equality.Semantic.DeepEqual(hl, wl) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		e.t.Fatal("informers did not catch up")
	}
}

// renew renews the named nodes' Leases at the current time.
func (e *monitorEnv) renew(names ...string) {
	e.t.Helper()
	for _, n := range names {
		l, err := e.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(e.ctx, n, metav1.GetOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		rt := metav1.NewMicroTime(e.clock.Now())
		l.Spec.RenewTime = &rt
		if _, err := e.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(e.ctx, l, metav1.UpdateOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
	e.settle()
}

// revive renews the named nodes' Leases and reports them Ready, as their
// kubelets do.
func (e *monitorEnv) revive(names ...string) {
	e.t.Helper()
	for _, n := range names {
		node, err := e.client.CoreV1().Nodes().Get(e.ctx, n, metav1.GetOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		node.Status.Conditions = readyNode(e.clock.Now(), corev1.ConditionTrue).Status.Conditions
		if _, err := e.client.CoreV1().Nodes().UpdateStatus(e.ctx, node, metav1.UpdateOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
	e.renew(names...)
}

// pass advances the clock by d, then runs a monitor and a taint pass.
func (e *monitorEnv) pass(d time.Duration) {
	e.t.Helper()
	e.clock.Step(d)
	e.c.monitorPass(e.ctx)
	e.settle()
	e.c.taintPass(e.ctx)
	e.settle()
}

// tainted returns the nodes with the unreachable NoExecute taint.
func (e *monitorEnv) tainted() map[string]bool {
	e.t.Helper()
	out := map[string]bool{}
	for _, n := range e.nodes {
		node, err := e.client.CoreV1().Nodes().Get(e.ctx, n, metav1.GetOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		if hasTaint(node.Spec.Taints, unreachableNoExecute) {
			out[n] = true
		}
	}
	return out
}

func TestMonitorFullDisruptionStopsTainting(t *testing.T) {
	e := newMonitorEnv(t, map[string]string{"a1": "a", "a2": "a", "b1": "b"})
	e.pass(0)
	e.pass(45 * time.Second) // every node silent past the grace period
	for _, n := range e.nodes {
		node, _ := e.client.CoreV1().Nodes().Get(e.ctx, n, metav1.GetOptions{})
		if readyStatus(node) != corev1.ConditionUnknown {
			t.Errorf("%s is %s, want Unknown", n, readyStatus(node))
		}
	}
	for range 5 {
		e.pass(30 * time.Second)
	}
	if got := e.tainted(); len(got) != 0 {
		t.Errorf("tainted %v while every zone is fully disrupted", got)
	}

	// One node comes back: tainting resumes at the zone's rate, with an
	// empty bucket.
	e.revive("b1")
	e.pass(time.Second)
	if got := e.tainted(); len(got) != 0 {
		t.Errorf("tainted %v at once after the disruption ended", got)
	}
	e.revive("b1")
	e.pass(10 * time.Second)
	if got := e.tainted(); len(got) != 1 || got["b1"] {
		t.Errorf("tainted %v 10s after the disruption ended, want a1 or a2", got)
	}
	e.revive("b1")
	e.pass(10 * time.Second)
	if got := e.tainted(); len(got) != 2 || got["b1"] {
		t.Errorf("tainted %v 20s after the disruption ended, want a1 and a2", got)
	}
}

func TestMonitorTaintsAtTheZoneRate(t *testing.T) {
	// Zone a dies entirely while zone b lives: zone a is tainted at the
	// primary rate of 0.1 nodes a second.
	e := newMonitorEnv(t, map[string]string{"a1": "a", "a2": "a", "b1": "b", "b2": "b"})
	e.pass(0)
	for range 9 {
		e.renew("b1", "b2")
		e.pass(5 * time.Second)
	}
	if got := e.tainted(); len(got) != 1 {
		t.Fatalf("tainted %v, want one node of zone a (the burst)", got)
	}
	e.renew("b1", "b2")
	e.pass(5 * time.Second)
	if got := e.tainted(); len(got) != 1 {
		t.Errorf("tainted %v after 5s, want still one", got)
	}
	e.renew("b1", "b2")
	e.pass(5 * time.Second)
	if got := e.tainted(); len(got) != 2 || got["b1"] || got["b2"] {
		t.Errorf("tainted %v after 10s, want a1 and a2", got)
	}
	// A node of zone a comes back: its taint goes at once.
	e.revive("a1", "b1", "b2")
	e.pass(time.Second)
	if got := e.tainted(); got["a1"] || !got["a2"] {
		t.Errorf("tainted %v after a1 recovered, want a2 only", got)
	}
}
