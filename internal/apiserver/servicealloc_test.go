package apiserver

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"berth.dev/berth/internal/store/bolt"
)

func newTestAllocator(t *testing.T, cidr string, ports int) *serviceAllocator {
	t.Helper()
	st, err := bolt.New(bolt.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newServiceAllocator(st, netip.MustParsePrefix(cidr), 30000, ports)
}

func svc(name string, typ corev1.ServiceType, ip string, ports ...int32) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.ServiceSpec{Type: typ, ClusterIP: ip}}
	for _, p := range ports {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: p, Protocol: corev1.ProtocolTCP})
	}
	return s
}

func TestServiceAllocatorExhaustsAndReleases(t *testing.T) {
	ctx := context.Background()
	// A /29 has 8 addresses: network, kubernetes (.1) and broadcast are
	// skipped, so 5 Services get one.
	a := newTestAllocator(t, "10.99.0.0/29", 10)
	seen := map[string]bool{}
	var first *corev1.Service
	for i := range 5 {
		s := svc("s"+string(rune('a'+i)), corev1.ServiceTypeClusterIP, "", 80)
		if _, errs, err := a.allocate(ctx, s, nil); err != nil || len(errs) > 0 {
			t.Fatalf("allocation %d: %v %v", i, err, errs)
		}
		ip := netip.MustParseAddr(s.Spec.ClusterIP)
		if seen[ip.String()] || ip == a.firstIP() || ip == netip.MustParseAddr("10.99.0.0") {
			t.Fatalf("allocation %d gave %s, reused or reserved", i, ip)
		}
		seen[ip.String()] = true
		if first == nil {
			first = s
		}
	}
	full := svc("full", corev1.ServiceTypeClusterIP, "", 80)
	if _, errs, _ := a.allocate(ctx, full, nil); len(errs) == 0 {
		t.Fatalf("allocation in a full range succeeded: %s", full.Spec.ClusterIP)
	}
	a.releaseUnused(ctx, nil, first)
	again := svc("again", corev1.ServiceTypeClusterIP, "", 80)
	if _, errs, err := a.allocate(ctx, again, nil); err != nil || len(errs) > 0 {
		t.Fatalf("allocation after release: %v %v", err, errs)
	}
	if again.Spec.ClusterIP != first.Spec.ClusterIP {
		t.Errorf("got %s after releasing %s, the only free address", again.Spec.ClusterIP, first.Spec.ClusterIP)
	}
}

func TestServiceAllocatorFixedAndNodePorts(t *testing.T) {
	ctx := context.Background()
	a := newTestAllocator(t, "10.43.0.0/16", 3)
	fixed := svc("fixed", corev1.ServiceTypeNodePort, "10.43.0.10", 80, 443)
	reserved, errs, err := a.allocate(ctx, fixed, nil)
	if err != nil || len(errs) > 0 {
		t.Fatalf("allocate: %v %v", err, errs)
	}
	if fixed.Spec.ClusterIP != "10.43.0.10" || len(reserved) != 3 {
		t.Fatalf("got ip %s, reserved %v", fixed.Spec.ClusterIP, reserved)
	}
	ports := map[int32]bool{}
	for _, p := range fixed.Spec.Ports {
		if p.NodePort < 30000 || p.NodePort > 30002 || ports[p.NodePort] {
			t.Fatalf("node port %d out of range or reused", p.NodePort)
		}
		ports[p.NodePort] = true
	}
	dup := svc("dup", corev1.ServiceTypeClusterIP, "10.43.0.10", 80)
	if _, errs, _ := a.allocate(ctx, dup, nil); len(errs) != 1 || errs[0].Field != "spec.clusterIPs[0]" {
		t.Fatalf("taken IP: got %v, want one error on spec.clusterIPs[0]", errs)
	}
	outside := svc("out", corev1.ServiceTypeClusterIP, "192.0.2.1", 80)
	if _, errs, _ := a.allocate(ctx, outside, nil); len(errs) != 1 {
		t.Fatalf("IP outside the range: got %v", errs)
	}
	// An update keeps what the Service holds and takes nothing new.
	upd := fixed.DeepCopy()
	upd.Spec.Ports[0].NodePort = 0
	reserved, errs, err = a.allocate(ctx, upd, fixed)
	if err != nil || len(errs) > 0 || len(reserved) != 0 {
		t.Fatalf("update: reserved %v, %v %v", reserved, err, errs)
	}
	if upd.Spec.Ports[0].NodePort != fixed.Spec.Ports[0].NodePort {
		t.Errorf("update moved node port %d to %d", fixed.Spec.Ports[0].NodePort, upd.Spec.Ports[0].NodePort)
	}
	// Turning it into a ClusterIP Service drops and frees its node ports.
	cip := fixed.DeepCopy()
	cip.Spec.Type = corev1.ServiceTypeClusterIP
	if _, errs, err := a.allocate(ctx, cip, fixed); err != nil || len(errs) > 0 {
		t.Fatalf("to ClusterIP: %v %v", err, errs)
	}
	a.releaseUnused(ctx, cip, fixed)
	np := svc("np", corev1.ServiceTypeNodePort, "", 1, 2, 3)
	if _, errs, err := a.allocate(ctx, np, nil); err != nil || len(errs) > 0 {
		t.Fatalf("the freed node ports were not reusable: %v %v", err, errs)
	}
}
