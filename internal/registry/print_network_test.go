package registry

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

func service(name string, typ corev1.ServiceType, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: om(name, 2*time.Hour), Spec: corev1.ServiceSpec{Type: typ, Ports: ports}}
}

func TestServiceExternalIP(t *testing.T) {
	lb := func(ingress []corev1.LoadBalancerIngress, external ...string) *corev1.Service {
		s := service("lb", corev1.ServiceTypeLoadBalancer)
		s.Spec.ExternalIPs = external
		s.Status.LoadBalancer.Ingress = ingress
		return s
	}
	tests := []struct {
		name string
		svc  *corev1.Service
		want string
	}{
		{"cluster IP", service("a", corev1.ServiceTypeClusterIP), "<none>"},
		{"node port with external IPs", func() *corev1.Service {
			s := service("a", corev1.ServiceTypeNodePort)
			s.Spec.ExternalIPs = []string{"192.0.2.1", "192.0.2.2"}
			return s
		}(), "192.0.2.1,192.0.2.2"},
		{"load balancer pending", lb(nil), "<pending>"},
		{"load balancer sorted and deduplicated", lb([]corev1.LoadBalancerIngress{{IP: "198.51.100.9"}, {Hostname: "lb.example.com"}, {IP: "198.51.100.9"}, {}}),
			"198.51.100.9,lb.example.com"},
		{"load balancer with external IPs", lb([]corev1.LoadBalancerIngress{{IP: "198.51.100.9"}}, "192.0.2.1"), "198.51.100.9,192.0.2.1"},
		{"load balancer with only external IPs", lb(nil, "192.0.2.1"), "192.0.2.1"},
		{"external name", func() *corev1.Service {
			s := service("a", corev1.ServiceTypeExternalName)
			s.Spec.ExternalName = "db.example.com"
			return s
		}(), "db.example.com"},
		{"no type", service("a", ""), "<unknown>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := serviceExternalIP(tt.svc); got != tt.want {
				t.Errorf("serviceExternalIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIngressHosts(t *testing.T) {
	rules := func(hosts ...string) []networkingv1.IngressRule {
		var out []networkingv1.IngressRule
		for _, h := range hosts {
			out = append(out, networkingv1.IngressRule{Host: h})
		}
		return out
	}
	tests := []struct {
		name  string
		rules []networkingv1.IngressRule
		want  string
	}{
		{"no rules", nil, "*"},
		{"no hosts", rules("", ""), "*"},
		{"three", rules("a", "b", "c"), "a,b,c"},
		{"four", rules("a", "b", "c", "d"), "a,b,c + 1 more..."},
		{"rule without host among the first three", rules("a", "", "b", "c", "d"), "a,b,c + 2 more..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ingressHosts(tt.rules); got != tt.want {
				t.Errorf("ingressHosts = %q, want %q", got, tt.want)
			}
		})
	}
}

func networkGolden() map[schema.GroupKind][]runtime.Object {
	tcp := func(port, nodePort int32) corev1.ServicePort {
		return corev1.ServicePort{Port: port, NodePort: nodePort, Protocol: corev1.ProtocolTCP}
	}
	web := service("web", corev1.ServiceTypeClusterIP, tcp(80, 0), corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP})
	web.Spec.ClusterIP, web.Spec.ClusterIPs = "10.43.0.20", []string{"10.43.0.20", "fd43::14"}
	web.Spec.Selector = map[string]string{"app": "web", "tier": "front"}

	headless := service("db", corev1.ServiceTypeClusterIP, tcp(5432, 0))
	headless.Spec.ClusterIP = "None"

	np := service("np", corev1.ServiceTypeNodePort, tcp(80, 30080), tcp(443, 30443))
	np.Spec.ClusterIPs = []string{"10.43.0.21"}

	lb := service("edge", corev1.ServiceTypeLoadBalancer, tcp(443, 31443))
	lb.Spec.ClusterIPs = []string{"10.43.0.22"}
	lb.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.51.100.9"}, {Hostname: "a-very-long-load-balancer-name.example.com"}}

	ext := service("mail", corev1.ServiceTypeExternalName)
	ext.Spec.ExternalName = "mail.example.com"

	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}

	return map[schema.GroupKind][]runtime.Object{
		{Kind: "Service"}: {web, headless, np, lb, ext},
		{Kind: "Endpoints"}: {
			&corev1.Endpoints{ObjectMeta: om("web", time.Hour), Subsets: []corev1.EndpointSubset{
				{Addresses: addrs("10.42.0.1", "10.42.0.2"), Ports: []corev1.EndpointPort{{Name: "http", Port: 80}, {Name: "dns", Port: 53}}},
				{Addresses: addrs("fd42::1"), Ports: []corev1.EndpointPort{{Port: 8080}}},
			}},
			&corev1.Endpoints{ObjectMeta: om("db", time.Hour), Subsets: []corev1.EndpointSubset{{Addresses: addrs("10.42.0.3")}}},
			&corev1.Endpoints{ObjectMeta: om("empty", time.Hour)},
			&corev1.Endpoints{ObjectMeta: om("unready", time.Hour), Subsets: []corev1.EndpointSubset{{NotReadyAddresses: addrs("10.42.0.4"), Ports: []corev1.EndpointPort{{Port: 80}}}}},
		},
		{Group: "discovery.k8s.io", Kind: "EndpointSlice"}: {
			&discoveryv1.EndpointSlice{
				ObjectMeta:  om("web-abcde", time.Hour),
				AddressType: discoveryv1.AddressTypeIPv4,
				Ports:       []discoveryv1.EndpointPort{{Port: ptr.To[int32](80)}, {Name: ptr.To("dns")}, {}, {Port: ptr.To[int32](9090)}},
				Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.42.0.1"}}, {Addresses: []string{"10.42.0.2", "10.42.0.3"}}},
			},
			&discoveryv1.EndpointSlice{ObjectMeta: om("empty-xyz", time.Minute), AddressType: discoveryv1.AddressTypeIPv6},
		},
		{Group: "networking.k8s.io", Kind: "Ingress"}: {
			&networkingv1.Ingress{
				ObjectMeta: om("site", time.Hour),
				Spec: networkingv1.IngressSpec{
					IngressClassName: ptr.To("berth"),
					Rules:            []networkingv1.IngressRule{{Host: "a.example.com"}, {Host: "b.example.com"}, {Host: "c.example.com"}, {Host: "d.example.com"}},
					TLS:              []networkingv1.IngressTLS{{Hosts: []string{"a.example.com"}}},
				},
				Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{
					Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: "192.0.2.10"}, {IP: "192.0.2.9"}},
				}},
			},
			&networkingv1.Ingress{ObjectMeta: om("catch-all", time.Minute)},
		},
		{Group: "networking.k8s.io", Kind: "IngressClass"}: {
			&networkingv1.IngressClass{
				ObjectMeta: om("berth", time.Hour),
				Spec: networkingv1.IngressClassSpec{Controller: "berth.dev/ingress", Parameters: &networkingv1.IngressClassParametersReference{
					APIGroup: ptr.To("k8s.example.com"), Kind: "IngressParameters", Name: "external-lb",
				}},
			},
			&networkingv1.IngressClass{ObjectMeta: om("plain", time.Hour), Spec: networkingv1.IngressClassSpec{Controller: "example.com/ingress"}},
		},
		{Group: "networking.k8s.io", Kind: "NetworkPolicy"}: {
			&networkingv1.NetworkPolicy{ObjectMeta: om("deny-all", time.Hour)},
			&networkingv1.NetworkPolicy{ObjectMeta: om("web", time.Hour), Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}},
		},
	}
}
