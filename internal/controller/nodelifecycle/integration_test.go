package nodelifecycle_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"berth.dev/berth/internal/controller/controllertest"
	"berth.dev/berth/internal/controller/nodelifecycle"
	"berth.dev/berth/internal/controller/replicaset"
	"berth.dev/berth/internal/scheduler"
	"berth.dev/berth/internal/sim"
)

const (
	ns            = "nl"
	leaseDuration = 40 * time.Second
	// renewedWithin bounds the age of a live node's Lease: renewals come
	// every quarter of the duration, stretched by up to a tenth.
	renewedWithin = leaseDuration/4 + leaseDuration/40 + time.Second
	tolerate      = 30 * time.Second
)

// cluster is an API server with simulated nodes, the ReplicaSet
// controller, the scheduler and the node lifecycle controller, the
// simulated kubelets and the node lifecycle controller on one fake clock.
type cluster struct {
	t      *testing.T
	ctx    context.Context
	client kubernetes.Interface
	clock  *testingclock.FakeClock
	sim    *sim.Sim
	leases coordinationlisters.LeaseLister
	dead   map[string]bool
}

func startCluster(t *testing.T, nodes int) *cluster {
	t.Helper()
	cl := controllertest.Start(t)
	client, factory := cl.Client, cl.Informers
	clk := testingclock.NewFakeClock(time.Now())
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := sim.New(sim.Config{Client: client, Informers: factory, Nodes: nodes, LeaseDuration: leaseDuration, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := replicaset.New(replicaset.Config{Client: client, Informers: factory})
	if err != nil {
		t.Fatal(err)
	}
	sched, err := scheduler.New(scheduler.Config{Client: client, Informers: factory})
	if err != nil {
		t.Fatal(err)
	}
	nl, err := nodelifecycle.New(nodelifecycle.Config{Client: client, Informers: factory, Clock: clk, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	controllertest.CreateNamespace(t.Context(), t, client, ns)
	leases := factory.Coordination().V1().Leases().Lister()
	ctx := controllertest.Run(t, factory, s, rs, sched, nl)
	c := &cluster{t: t, ctx: ctx, client: client, clock: clk, sim: s, leases: leases, dead: map[string]bool{}}
	c.poll("every node is Ready", func() bool {
		for _, n := range s.NodeNames() {
			node, err := client.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
			if err != nil || nodeCondition(node, corev1.NodeReady) == nil || nodeCondition(node, corev1.NodeReady).Status != corev1.ConditionTrue {
				return false
			}
		}
		return true
	})
	// The first renewals are spread over the renewal interval.
	c.step(renewedWithin)
	return c
}

// poll waits, on the real clock, until cond holds.
func (c *cluster) poll(what string, cond func() bool) {
	c.t.Helper()
	err := wait.PollUntilContextTimeout(c.ctx, 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	if err != nil {
		c.t.Fatalf("waiting until %s: %v", what, err)
	}
}

// step moves the fake clock on by d and waits until every live
// node's Lease, as the controllers' shared cache holds it, shows the
// renewals that are due: the controller under test never sees a live
// node fall silent because the test outran the simulated kubelets.
func (c *cluster) step(d time.Duration) {
	c.t.Helper()
	c.clock.Step(d)
	now := c.clock.Now()
	c.poll("live nodes renewed their Leases", func() bool {
		for _, n := range c.sim.NodeNames() {
			if c.dead[n] {
				continue
			}
			l, err := c.leases.Leases(corev1.NamespaceNodeLease).Get(n)
			if err != nil || l.Spec.RenewTime == nil || now.Sub(l.Spec.RenewTime.Time) > renewedWithin {
				return false
			}
		}
		return true
	})
}

// stepUntil steps the fake clock until cond holds, for at most limit of
// fake time, and returns the fake time that took.
func (c *cluster) stepUntil(what string, limit time.Duration, cond func() bool) time.Duration {
	c.t.Helper()
	start := c.clock.Now()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if c.clock.Since(start) > limit || time.Now().After(deadline) {
			c.t.Fatalf("%s did not happen within %v of fake time", what, limit)
		}
		c.step(time.Second)
		// Let the controllers act on this second before the next.
		time.Sleep(5 * time.Millisecond)
	}
	return c.clock.Since(start)
}

func (c *cluster) node(name string) *corev1.Node {
	c.t.Helper()
	n, err := c.client.CoreV1().Nodes().Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	return n
}

func (c *cluster) pods() []corev1.Pod {
	c.t.Helper()
	l, err := c.client.CoreV1().Pods(ns).List(c.ctx, metav1.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	return l.Items
}

func nodeCondition(n *corev1.Node, typ corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == typ {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

func podCondition(p *corev1.Pod, typ corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == typ {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func taint(n *corev1.Node, key string, effect corev1.TaintEffect) *corev1.Taint {
	for i := range n.Spec.Taints {
		if n.Spec.Taints[i].Key == key && n.Spec.Taints[i].Effect == effect {
			return &n.Spec.Taints[i]
		}
	}
	return nil
}

func toleration(secs *int64) []corev1.Toleration {
	return []corev1.Toleration{
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs},
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs},
	}
}

// TestNodeDies: a node stops renewing its Lease; after the grace period
// it is Unknown, its pods not Ready, and it carries the unreachable
// taints; a pod that tolerates nothing goes at once, the ReplicaSet's
// pods after their tolerationSeconds (and are replaced on the live
// nodes), a pod that tolerates the taint forever stays. When the node
// comes back its taints go.
func TestNodeDies(t *testing.T) {
	c := startCluster(t, 3)
	names := c.sim.NodeNames()

	replicas := int32(6)
	_, err := c.client.AppsV1().ReplicaSets(ns).Create(c.ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{
					Containers:  []corev1.Container{{Name: "c", Image: "busybox"}},
					Tolerations: toleration(ptr.To(int64(tolerate / time.Second))),
				},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	allReady := func(want int) func() bool {
		return func() bool {
			pods := c.pods()
			for _, p := range pods {
				if r := podCondition(&p, corev1.PodReady); r == nil || r.Status != corev1.ConditionTrue {
					return false
				}
			}
			return len(pods) == want
		}
	}
	c.poll("the web pods Ready", allReady(int(replicas)))
	// The node of the first web pod dies; two more pods are bound there.
	doomed := c.pods()[0].Spec.NodeName
	// The intolerant pod's toleration names the taint but not its value:
	// it tolerates nothing, and keeps DefaultTolerationSeconds from
	// adding one that does.
	intolerant := []corev1.Toleration{
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpEqual, Value: "never", Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpEqual, Value: "never", Effect: corev1.TaintEffectNoExecute},
	}
	for name, tol := range map[string][]corev1.Toleration{"intolerant": intolerant, "stubborn": toleration(nil)} {
		_, err := c.client.CoreV1().Pods(ns).Create(c.ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.PodSpec{NodeName: doomed, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}, Tolerations: tol},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	c.poll("every pod Ready", allReady(int(replicas)+2))

	c.sim.Kill(doomed)
	c.dead[doomed] = true
	killedAt := c.clock.Now()
	c.stepUntil(doomed+" Unknown", 2*time.Minute, func() bool {
		r := nodeCondition(c.node(doomed), corev1.NodeReady)
		return r.Status == corev1.ConditionUnknown
	})
	if silent := c.clock.Since(killedAt); silent < 40*time.Second-renewedWithin {
		t.Errorf("node Unknown after %v of silence, before the 40s grace period could pass", silent)
	}
	n := c.node(doomed)
	for _, typ := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		cond := nodeCondition(n, typ)
		if cond.Status != corev1.ConditionUnknown || cond.Reason != "NodeStatusUnknown" || cond.Message != "Kubelet stopped posting node status." {
			t.Errorf("condition %s = %s %s %q", typ, cond.Status, cond.Reason, cond.Message)
		}
	}
	for _, live := range names {
		if live == doomed {
			continue
		}
		if r := nodeCondition(c.node(live), corev1.NodeReady); r.Status != corev1.ConditionTrue {
			t.Errorf("live node %s is %s", live, r.Status)
		}
	}
	c.poll("pods on "+doomed+" not Ready", func() bool {
		for _, p := range c.pods() {
			if p.Spec.NodeName == doomed && p.DeletionTimestamp == nil && podCondition(&p, corev1.PodReady).Status != corev1.ConditionFalse {
				return false
			}
		}
		return true
	})

	var taintedAt time.Time
	c.stepUntil("the unreachable taints", 10*time.Second, func() bool {
		n := c.node(doomed)
		noExec := taint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)
		if noExec == nil || taint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule) == nil {
			return false
		}
		taintedAt = noExec.TimeAdded.Time
		return true
	})

	c.stepUntil("web pods on "+doomed+" evicted, the intolerant pod at once", tolerate+10*time.Second, func() bool {
		for _, p := range c.pods() {
			if p.Spec.NodeName == doomed && p.Name != "stubborn" && p.DeletionTimestamp == nil {
				return false
			}
		}
		return true
	})
	for _, p := range c.pods() {
		if p.Spec.NodeName != doomed {
			continue
		}
		dt := podCondition(&p, corev1.DisruptionTarget)
		switch {
		case p.Name == "stubborn":
			if p.DeletionTimestamp != nil || dt != nil {
				t.Errorf("pod tolerating the taint forever was evicted")
			}
		case dt == nil || dt.Reason != "DeletionByTaintManager":
			t.Errorf("pod %s has no DisruptionTarget condition from the taint manager: %+v", p.Name, p.Status.Conditions)
		case p.Name == "intolerant":
			if after := dt.LastTransitionTime.Sub(taintedAt); after >= tolerate {
				t.Errorf("intolerant pod evicted %v after the taint", after)
			}
		default:
			if after := dt.LastTransitionTime.Sub(taintedAt); after < tolerate {
				t.Errorf("web pod %s evicted %v after the taint, before its %v toleration", p.Name, after, tolerate)
			}
		}
	}

	c.poll("6 web pods running on the live nodes", func() bool {
		running := 0
		for _, p := range c.pods() {
			if p.Labels["app"] != "web" || p.DeletionTimestamp != nil {
				continue
			}
			if p.Spec.NodeName == doomed {
				return false
			}
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		return running == int(replicas)
	})

	c.sim.Revive(doomed)
	delete(c.dead, doomed)
	c.stepUntil(doomed+" Ready without taints", 30*time.Second, func() bool {
		n := c.node(doomed)
		return nodeCondition(n, corev1.NodeReady).Status == corev1.ConditionTrue && len(n.Spec.Taints) == 0
	})
	c.poll("the terminating pods finished by the revived kubelet", func() bool {
		return !slices.ContainsFunc(c.pods(), func(p corev1.Pod) bool { return p.DeletionTimestamp != nil })
	})
	if _, err := c.client.CoreV1().Pods(ns).Get(c.ctx, "stubborn", metav1.GetOptions{}); apierrors.IsNotFound(err) {
		t.Error("the stubborn pod is gone")
	}
}
