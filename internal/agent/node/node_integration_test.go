package node_test

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"berth.dev/berth/internal/agent/node"
	"berth.dev/berth/internal/apiserver/apiservertest"
)

func TestRegisterAndHeartbeat(t *testing.T) {
	s := apiservertest.Start(t)
	certPEM, keyPEM, err := s.PKI.IssueClientCert("system:node:n1", []string{"system:nodes"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(s.Admin)
	cfg.CertData, cfg.KeyData = certPEM, keyPEM
	client := kubernetes.NewForConfigOrDie(cfg)
	admin := kubernetes.NewForConfigOrDie(s.Admin)

	var mu sync.Mutex
	memory := "4Gi"
	machine := func(context.Context) (node.Machine, error) {
		mu.Lock()
		defer mu.Unlock()
		res := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse(memory), corev1.ResourcePods: resource.MustParse("110")}
		return node.Machine{Capacity: res, Allocatable: res,
			Addresses:   []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.1"}, {Type: corev1.NodeHostName, Address: "n1"}},
			Info:        corev1.NodeSystemInfo{KubeletVersion: "v1.37.0", OperatingSystem: "linux", Architecture: "amd64"},
			KubeletPort: 10250}, nil
	}
	a, err := node.New(node.Config{Client: client, Name: "n1", Machine: machine,
		RenewInterval: 50 * time.Millisecond, StatusInterval: 50 * time.Millisecond, ReportInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	poll := func(what string, cond func(ctx context.Context) (bool, error)) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 15*time.Second, true, cond); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	var n *corev1.Node
	poll("a Ready node", func(ctx context.Context) (bool, error) {
		n, err = admin.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if n.Labels[corev1.LabelHostname] != "n1" || n.Status.NodeInfo.KubeletVersion != "v1.37.0" || len(n.Status.Conditions) != 4 ||
		n.Status.DaemonEndpoints.KubeletEndpoint.Port != 10250 {
		t.Errorf("node %+v", n)
	}
	var first *metav1.MicroTime
	poll("the lease", func(ctx context.Context) (bool, error) {
		l, err := admin.CoordinationV1().Leases(node.LeaseNamespace).Get(ctx, "n1", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if len(l.OwnerReferences) != 1 || l.OwnerReferences[0].UID != n.UID || l.OwnerReferences[0].Kind != "Node" {
			t.Fatalf("lease owners %+v", l.OwnerReferences)
		}
		first = l.Spec.RenewTime
		return first != nil, nil
	})
	poll("the lease to be renewed", func(ctx context.Context) (bool, error) {
		l, err := admin.CoordinationV1().Leases(node.LeaseNamespace).Get(ctx, "n1", metav1.GetOptions{})
		return err == nil && l.Spec.RenewTime.After(first.Time), nil
	})

	mu.Lock()
	memory = "8Gi"
	mu.Unlock()
	poll("the new capacity", func(ctx context.Context) (bool, error) {
		n, err := admin.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return n.Status.Capacity.Memory().Cmp(resource.MustParse("8Gi")) == 0, nil
	})
}
