package scheduler

import (
	"context"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"berth.dev/berth/internal/apiserver/apiservertest"
)

// servesBinding reports whether the server lists the pods/binding
// subresource.
func servesBinding(t *testing.T, client kubernetes.Interface) bool {
	t.Helper()
	list, err := client.Discovery().ServerResourcesForGroupVersion("v1")
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	for _, r := range list.APIResources {
		if r.Name == "pods/binding" {
			return true
		}
	}
	return false
}

func TestSchedulerAgainstAPIServer(t *testing.T) {
	srv := apiservertest.Start(t)
	client, err := kubernetes.NewForConfig(srv.Admin)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	node, err := client.CoreV1().Nodes().Create(ctx, readyNode("n1", "1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status = readyNode("n1", "1").Status
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	factory := informers.NewSharedInformerFactory(client, 0)
	s, err := New(Config{Client: client, Informers: factory})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	newPod := func(name, cpu string) *v1.Pod {
		p, err := client.CoreV1().Pods("default").Create(ctx, &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "busybox",
				Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)}}}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("unschedulable", func(t *testing.T) {
		newPod("big", "2")
		const want = "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
		err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
			p, err := client.CoreV1().Pods("default").Get(ctx, "big", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, c := range p.Status.Conditions {
				if c.Type == v1.PodScheduled && c.Status == v1.ConditionFalse && c.Reason == v1.PodReasonUnschedulable && c.Message == want {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("waiting for PodScheduled=False: %v", err)
		}
		err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
			events, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			for _, e := range events.Items {
				if e.Reason == "FailedScheduling" && e.Type == v1.EventTypeWarning && e.InvolvedObject.Name == "big" && e.Message == want {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("waiting for the FailedScheduling event: %v", err)
		}
	})

	t.Run("binds", func(t *testing.T) {
		if !servesBinding(t, client) {
			t.Skip("the API server does not serve the pods/binding subresource yet")
		}
		newPod("small", "500m")
		err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
			p, err := client.CoreV1().Pods("default").Get(ctx, "small", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return p.Spec.NodeName == "n1", nil
		})
		if err != nil {
			t.Fatalf("waiting for small to be bound to n1: %v", err)
		}
		err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
			events, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			for _, e := range events.Items {
				if e.Reason == "Scheduled" && e.InvolvedObject.Name == "small" && e.Message == "Successfully assigned default/small to n1" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("waiting for the Scheduled event: %v", err)
		}
	})
}
