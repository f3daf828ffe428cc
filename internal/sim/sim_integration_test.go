package sim

import (
	"context"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"berth.dev/berth/internal/apiserver/apiservertest"
)

const testLease = 2 * time.Second

func startSim(t *testing.T) (context.Context, kubernetes.Interface, *Sim) {
	t.Helper()
	srv := apiservertest.Start(t)
	cfg := *srv.Admin
	cfg.QPS = -1
	client, err := kubernetes.NewForConfig(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	factory := informers.NewSharedInformerFactory(client, 0)
	s, err := New(Config{Client: client, Informers: factory, Nodes: 3, LeaseDuration: testLease})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		factory.Shutdown()
	})
	return ctx, client, s
}

func poll(t *testing.T, ctx context.Context, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, cond); err != nil {
		t.Fatalf("waiting until %s: %v", what, err)
	}
}

func TestSimAgainstAPIServer(t *testing.T) {
	ctx, client, s := startSim(t)

	t.Run("nodes ready with leases", func(t *testing.T) {
		for _, name := range []string{"sim-0", "sim-1", "sim-2"} {
			poll(t, ctx, name+" is Ready", func(ctx context.Context) (bool, error) {
				n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return false, nil
				} else if err != nil {
					return false, err
				}
				for _, c := range n.Status.Conditions {
					if c.Type == corev1.NodeReady {
						return c.Status == corev1.ConditionTrue, nil
					}
				}
				return false, nil
			})
			n, _ := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if n.Labels["type"] != "sim" || n.Labels[corev1.LabelHostname] != name {
				t.Errorf("%s labels = %v", name, n.Labels)
			}
			if got := n.Status.NodeInfo.KubeletVersion; got != KubeletVersion {
				t.Errorf("%s kubeletVersion = %q", name, got)
			}
			if n.Status.Allocatable.Pods().Value() != 110 {
				t.Errorf("%s allocatable pods = %v", name, n.Status.Allocatable.Pods())
			}
			poll(t, ctx, name+" has a Lease", func(ctx context.Context) (bool, error) {
				l, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, name, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return false, nil
				}
				return err == nil && l.Spec.RenewTime != nil && *l.Spec.HolderIdentity == name, err
			})
		}
	})

	newPod := func(t *testing.T, name string, policy corev1.RestartPolicy, annotations map[string]string) *corev1.Pod {
		t.Helper()
		p, err := client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations},
			Spec: corev1.PodSpec{RestartPolicy: policy,
				Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		err = client.CoreV1().Pods("default").Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Target:     corev1.ObjectReference{Kind: "Node", Name: "sim-1"},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("binding %s: %v", name, err)
		}
		return p
	}
	waitPhase := func(t *testing.T, name string, phase corev1.PodPhase) *corev1.Pod {
		t.Helper()
		var pod *corev1.Pod
		poll(t, ctx, name+" is "+string(phase), func(ctx context.Context) (bool, error) {
			var err error
			pod, err = client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			return err == nil && pod.Status.Phase == phase, err
		})
		return pod
	}

	t.Run("pod runs and deletes", func(t *testing.T) {
		newPod(t, "web", corev1.RestartPolicyAlways, nil)
		pod := waitPhase(t, "web", corev1.PodRunning)
		ip, err := netip.ParseAddr(pod.Status.PodIP)
		if err != nil || !netip.MustParsePrefix("10.42.1.0/24").Contains(ip) {
			t.Errorf("podIP = %q, want one in 10.42.1.0/24", pod.Status.PodIP)
		}
		if pod.Status.HostIP != "192.0.2.2" {
			t.Errorf("hostIP = %q", pod.Status.HostIP)
		}
		ready := map[corev1.PodConditionType]corev1.ConditionStatus{}
		for _, c := range pod.Status.Conditions {
			ready[c.Type] = c.Status
		}
		for _, typ := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady, corev1.PodInitialized, corev1.PodScheduled} {
			if ready[typ] != corev1.ConditionTrue {
				t.Errorf("condition %s = %q", typ, ready[typ])
			}
		}
		if cs := pod.Status.ContainerStatuses; len(cs) != 1 || !cs[0].Ready || cs[0].State.Running == nil {
			t.Errorf("containerStatuses = %+v", cs)
		}

		if err := client.CoreV1().Pods("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		poll(t, ctx, "web is gone", func(ctx context.Context) (bool, error) {
			_, err := client.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		})
	})

	t.Run("exit codes", func(t *testing.T) {
		newPod(t, "ok", corev1.RestartPolicyNever, map[string]string{ExitCodeAnnotation: "0"})
		newPod(t, "bad", corev1.RestartPolicyOnFailure, map[string]string{ExitCodeAnnotation: "3", RunSecondsAnnotation: "1"})
		waitPhase(t, "ok", corev1.PodSucceeded)
		pod := waitPhase(t, "bad", corev1.PodFailed)
		if term := pod.Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 3 {
			t.Errorf("container state = %+v", pod.Status.ContainerStatuses[0].State)
		}
	})

	t.Run("kill and revive", func(t *testing.T) {
		leases := client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
		renewedWithin := func(ctx context.Context, d time.Duration) (bool, error) {
			l, err := leases.Get(ctx, "sim-2", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return time.Since(l.Spec.RenewTime.Time) < d, nil
		}
		if !s.Kill("sim-2") {
			t.Fatal("Kill(sim-2) = false")
		}
		// A live node renews every testLease/4; a dead one falls behind
		// by more than the whole Lease.
		poll(t, ctx, "sim-2 stops renewing", func(ctx context.Context) (bool, error) {
			fresh, err := renewedWithin(ctx, testLease+time.Second)
			return !fresh, err
		})
		s.Revive("sim-2")
		poll(t, ctx, "sim-2 renews again", func(ctx context.Context) (bool, error) {
			return renewedWithin(ctx, testLease/2)
		})
		if s.Kill("nope") {
			t.Error("Kill(nope) = true")
		}
	})
}
