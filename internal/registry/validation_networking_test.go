package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func networking(kind string) schema.GroupKind {
	return schema.GroupKind{Group: "networking.k8s.io", Kind: kind}
}

func TestValidateIngress(t *testing.T) {
	ingress := func(mutate func(*networkingv1.IngressSpec)) *networkingv1.Ingress {
		i := &networkingv1.Ingress{Spec: networkingv1.IngressSpec{
			IngressClassName: new("berth"),
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{"*.example.com"}, SecretName: "tls"}},
			Rules: []networkingv1.IngressRule{{Host: "www.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: new(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}},
				}}},
			}}}},
		}}
		if mutate != nil {
			mutate(&i.Spec)
		}
		return i
	}
	path := func(s *networkingv1.IngressSpec) *networkingv1.HTTPIngressPath { return &s.Rules[0].HTTP.Paths[0] }
	runChecks(t, networking("Ingress"), []checkCase{
		{name: "valid", obj: ingress(nil)},
		{name: "nothing to route", obj: ingress(func(s *networkingv1.IngressSpec) { s.Rules = nil }), want: want("FieldValueInvalid spec")},
		{name: "path type required", obj: ingress(func(s *networkingv1.IngressSpec) { path(s).PathType = nil }),
			want: want("FieldValueRequired spec.rules[0].http.paths[0].pathType")},
		{name: "path type value", obj: ingress(func(s *networkingv1.IngressSpec) { path(s).PathType = new(networkingv1.PathType("Regex")) }),
			want: want("FieldValueNotSupported spec.rules[0].http.paths[0].pathType")},
		{name: "relative prefix", obj: ingress(func(s *networkingv1.IngressSpec) { path(s).Path = "api" }),
			want: want("FieldValueInvalid spec.rules[0].http.paths[0].path")},
		{name: "paths required", obj: ingress(func(s *networkingv1.IngressSpec) { s.Rules[0].HTTP.Paths = nil }),
			want: want("FieldValueRequired spec.rules[0].http.paths")},
		{name: "service name", obj: ingress(func(s *networkingv1.IngressSpec) { path(s).Backend.Service.Name = "" }),
			want: want("FieldValueRequired spec.rules[0].http.paths[0].backend.service.name")},
		{name: "service port required", obj: ingress(func(s *networkingv1.IngressSpec) { path(s).Backend.Service.Port.Number = 0 }),
			want: want("FieldValueRequired spec.rules[0].http.paths[0].backend")},
		{name: "no backend", obj: ingress(func(s *networkingv1.IngressSpec) { path(s).Backend.Service = nil }),
			want: want("FieldValueInvalid spec.rules[0].http.paths[0].backend")},
		{name: "ip host", obj: ingress(func(s *networkingv1.IngressSpec) { s.Rules[0].Host = "10.0.0.1" }),
			want: want("FieldValueInvalid spec.rules[0].host")},
		{name: "tls host", obj: ingress(func(s *networkingv1.IngressSpec) { s.TLS[0].Hosts[0] = "a.*.example.com" }),
			want: want("FieldValueInvalid spec.tls[0].hosts[0]")},
	})
	runChecks(t, networking("IngressClass"), []checkCase{
		{name: "valid", obj: &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Controller: "berth.dev/ingress"}}},
		{name: "controller", obj: &networkingv1.IngressClass{}, want: want("FieldValueRequired spec.controller")},
		{name: "namespace scope", obj: &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Controller: "berth.dev/ingress",
			Parameters: &networkingv1.IngressClassParametersReference{Kind: "K", Name: "n", Scope: new("Namespace")}}},
			want: want("FieldValueRequired spec.parameters.namespace")},
		{name: "controller immutable", obj: &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Controller: "berth.dev/other"}},
			old: &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Controller: "berth.dev/ingress"}}, want: want("FieldValueInvalid spec.controller")},
	})
}

func TestValidateNetworkPolicy(t *testing.T) {
	np := func(mutate func(*networkingv1.NetworkPolicySpec)) *networkingv1.NetworkPolicy {
		n := &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}, {IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: new(intstr.FromInt32(5432)), EndPort: new(int32(5440))}, {Port: new(intstr.FromString("metrics"))}},
			}},
		}}
		if mutate != nil {
			mutate(&n.Spec)
		}
		return n
	}
	runChecks(t, networking("NetworkPolicy"), []checkCase{
		{name: "valid", obj: np(nil)},
		{name: "empty peer", obj: np(func(s *networkingv1.NetworkPolicySpec) { s.Ingress[0].From[0].PodSelector = nil }),
			want: want("FieldValueRequired spec.ingress[0].from[0]")},
		{name: "ip block with selector", obj: np(func(s *networkingv1.NetworkPolicySpec) { s.Ingress[0].From[1].PodSelector = &metav1.LabelSelector{} }),
			want: want("FieldValueForbidden spec.ingress[0].from[1]")},
		{name: "except outside cidr", obj: np(func(s *networkingv1.NetworkPolicySpec) { s.Ingress[0].From[1].IPBlock.Except[0] = "192.168.0.0/16" }),
			want: want("FieldValueInvalid spec.ingress[0].from[1].ipBlock.except[0]")},
		{name: "bad cidr", obj: np(func(s *networkingv1.NetworkPolicySpec) { s.Ingress[0].From[1].IPBlock.CIDR = "10.0.0.0/40" }),
			want: want("FieldValueInvalid spec.ingress[0].from[1].ipBlock.cidr")},
		{name: "end port below port", obj: np(func(s *networkingv1.NetworkPolicySpec) { s.Ingress[0].Ports[0].EndPort = new(int32(80)) }),
			want: want("FieldValueInvalid spec.ingress[0].ports[0].endPort")},
		{name: "end port with named port", obj: np(func(s *networkingv1.NetworkPolicySpec) { s.Ingress[0].Ports[1].EndPort = new(int32(80)) }),
			want: want("FieldValueInvalid spec.ingress[0].ports[1].endPort")},
		{name: "protocol", obj: np(func(s *networkingv1.NetworkPolicySpec) { s.Ingress[0].Ports[0].Protocol = new(corev1.Protocol("ICMP")) }),
			want: want("FieldValueNotSupported spec.ingress[0].ports[0].protocol")},
		{name: "policy type", obj: np(func(s *networkingv1.NetworkPolicySpec) { s.PolicyTypes = []networkingv1.PolicyType{"Sideways"} }),
			want: want("FieldValueNotSupported spec.policyTypes[0]")},
	})
}

func TestValidateEndpointSlice(t *testing.T) {
	gk := schema.GroupKind{Group: "discovery.k8s.io", Kind: "EndpointSlice"}
	slice := &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.42.0.7"}}},
		Ports:     []discoveryv1.EndpointPort{{Name: new("http"), Port: new(int32(80))}}}
	runChecks(t, gk, []checkCase{
		{name: "valid", obj: slice},
		{name: "address type", obj: &discoveryv1.EndpointSlice{AddressType: "IPv5"}, want: want("FieldValueNotSupported addressType")},
		{name: "wrong family", obj: &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"fd00::1"}}, {}}},
			want: want("FieldValueInvalid endpoints[0].addresses[0]", "FieldValueRequired endpoints[1].addresses")},
		{name: "address type immutable", obj: &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv6}, old: slice,
			want: want("FieldValueInvalid addressType")},
	})
}
