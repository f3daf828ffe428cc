package nodeipam

import (
	"context"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"berth.dev/berth/internal/apiserver/apiservertest"
)

func TestFree(t *testing.T) {
	p := netip.MustParsePrefix
	tests := []struct {
		cluster string
		bits    int
		used    []string
		want    string
	}{
		{"10.42.0.0/16", 24, nil, "10.42.0.0/24"},
		{"10.42.0.0/16", 24, []string{"10.42.0.0/24", "10.42.2.0/24"}, "10.42.1.0/24"},
		{"10.42.0.0/16", 24, []string{"10.42.0.0/24", "10.42.1.0/24"}, "10.42.2.0/24"},
		{"10.42.0.0/22", 24, []string{"10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24"}, "10.42.3.0/24"},
		{"10.42.0.0/22", 24, []string{"10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24", "10.42.3.0/24"}, ""},
		{"fd42::/56", 64, []string{"fd42::/64"}, "fd42:0:0:1::/64"},
		{"10.42.0.0/16", 26, []string{"10.42.0.0/26"}, "10.42.0.64/26"},
	}
	for _, tt := range tests {
		used := map[netip.Prefix]bool{}
		for _, u := range tt.used {
			used[p(u)] = true
		}
		got, err := free(p(tt.cluster), tt.bits, used)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%s /%d %v: %v, want exhausted", tt.cluster, tt.bits, tt.used, got)
			}
			continue
		}
		if err != nil || got != p(tt.want) {
			t.Errorf("%s /%d %v: %v %v, want %s", tt.cluster, tt.bits, tt.used, got, err, tt.want)
		}
	}
}

// TestAllocates: Nodes without a range get distinct ones, a Node with a
// range keeps it and that range is not handed out again.
func TestAllocates(t *testing.T) {
	s := apiservertest.Start(t)
	client := kubernetes.NewForConfigOrDie(s.Admin)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nodes := client.CoreV1().Nodes()
	if _, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "old"}, Spec: corev1.NodeSpec{PodCIDR: "10.42.0.0/24", PodCIDRs: []string{"10.42.0.0/24"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: factory})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for _, name := range []string{"a", "b", "c"} {
		if _, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]string{}
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := nodes.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, n := range list.Items {
			if n.Spec.PodCIDR == "" || len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
				return false, nil
			}
			got[n.Name] = n.Spec.PodCIDR
		}
		return len(got) == 4, nil
	})
	if err != nil {
		t.Fatalf("ranges: %v (%v)", got, err)
	}
	seen := map[string]string{}
	for name, r := range got {
		if other, dup := seen[r]; dup {
			t.Errorf("%s and %s share %s", name, other, r)
		}
		seen[r] = name
	}
	if got["old"] != "10.42.0.0/24" {
		t.Errorf("old node's range = %s, want it kept", got["old"])
	}
	cancel()
	if err := <-done; err != nil && ctx.Err() == nil {
		t.Errorf("Run: %v", err)
	}
}
