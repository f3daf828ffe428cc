package csrapproving_test

import (
	"crypto/x509"
	"net"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"berth.dev/berth/internal/controller/csrapproving"
)

func TestOwnNames(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: "192.0.2.10"},
		{Type: corev1.NodeExternalIP, Address: "2001:db8::10"},
		{Type: corev1.NodeHostName, Address: "host1"},
		{Type: corev1.NodeInternalDNS, Address: "n1.internal"},
	}}}
	tests := []struct {
		name string
		dns  []string
		ips  []string
		want bool
	}{
		{name: "node name and internal IP", dns: []string{"n1"}, ips: []string{"192.0.2.10"}, want: true},
		{name: "every kind of own name", dns: []string{"n1", "host1", "n1.internal"}, ips: []string{"192.0.2.10", "2001:db8::10"}, want: true},
		{name: "IPs only", ips: []string{"2001:db8:0::10"}, want: true},
		{name: "another name", dns: []string{"n1", "kubernetes.default.svc"}, want: false},
		{name: "another IP", dns: []string{"n1"}, ips: []string{"192.0.2.11"}, want: false},
		{name: "loopback the node does not list", ips: []string{"127.0.0.1"}, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := &x509.CertificateRequest{DNSNames: tc.dns}
			for _, ip := range tc.ips {
				req.IPAddresses = append(req.IPAddresses, net.ParseIP(ip))
			}
			if got := csrapproving.OwnNames(node, req); got != tc.want {
				t.Errorf("OwnNames = %v, want %v", got, tc.want)
			}
		})
	}
}
