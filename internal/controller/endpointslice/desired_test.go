package endpointslice

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func service(mod ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "svc-uid", Labels: map[string]string{"team": "a"}},
		Spec: corev1.ServiceSpec{
			Selector:   map[string]string{"app": "web"},
			ClusterIP:  "10.0.0.10",
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Ports: []corev1.ServicePort{
				{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromString("web")},
				{Name: "metrics", Protocol: corev1.ProtocolTCP, Port: 9000, TargetPort: intstr.FromInt32(9100)},
			},
		},
	}
	for _, m := range mod {
		m(s)
	}
	return s
}

type podOpt func(*corev1.Pod)

func pod(name, ip string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{
			Name: "c", Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		}}},
		Status: corev1.PodStatus{PodIP: ip, Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func notReady(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }
func terminating(p *corev1.Pod) {
	now := metav1.Now()
	p.DeletionTimestamp = &now
}
func portName(n string) podOpt {
	return func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Name = n }
}

func zones(node string) string { return map[string]string{"n1": "z1"}[node] }

// ep is the expected slice endpoint for a pod on n1 in z1.
func ep(name, ip string, ready, serving, term bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{
		Addresses:  []string{ip},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &term},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: name, UID: types.UID("uid-" + name)},
		NodeName:   ptr("n1"),
		Zone:       ptr("z1"),
	}
}

func ptr[T any](v T) *T { return &v }

func slicePorts(ports ...discoveryv1.EndpointPort) []discoveryv1.EndpointPort { return ports }

func sp(name string, port int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr(name), Protocol: ptr(corev1.ProtocolTCP), Port: ptr(port)}
}

// sliceView is what the table compares: everything but names and metadata,
// which TestDesiredSlicesMetadata covers.
type sliceView struct {
	AddressType discoveryv1.AddressType
	Ports       []discoveryv1.EndpointPort
	Endpoints   []discoveryv1.Endpoint
}

func TestDesiredSlices(t *testing.T) {
	bothPorts := slicePorts(sp("http", 8080), sp("metrics", 9100))
	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want []sliceView
	}{{
		name: "ready, not ready, terminating and IP-less pods",
		svc:  service(),
		pods: []*corev1.Pod{
			pod("b", "10.1.0.2", notReady),
			pod("a", "10.1.0.1"),
			pod("c", "10.1.0.3", terminating),
			pod("d", "10.1.0.4", terminating, notReady),
			pod("e", ""),
			pod("f", "10.1.0.6", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
		},
		want: []sliceView{{AddressType: discoveryv1.AddressTypeIPv4, Ports: bothPorts, Endpoints: []discoveryv1.Endpoint{
			ep("a", "10.1.0.1", true, true, false),
			ep("b", "10.1.0.2", false, false, false),
			ep("c", "10.1.0.3", false, true, true),
			ep("d", "10.1.0.4", false, false, true),
		}}},
	}, {
		name: "publishNotReadyAddresses makes every endpoint ready",
		svc:  service(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
		pods: []*corev1.Pod{pod("a", "10.1.0.1", notReady), pod("b", "10.1.0.2", terminating, notReady)},
		want: []sliceView{{AddressType: discoveryv1.AddressTypeIPv4, Ports: bothPorts, Endpoints: []discoveryv1.Endpoint{
			ep("a", "10.1.0.1", true, true, false),
			ep("b", "10.1.0.2", true, true, true),
		}}},
	}, {
		name: "pods resolving a named port differently get separate slices",
		svc:  service(),
		pods: []*corev1.Pod{pod("a", "10.1.0.1"), pod("b", "10.1.0.2", portName("other"))},
		want: []sliceView{
			{AddressType: discoveryv1.AddressTypeIPv4, Ports: bothPorts, Endpoints: []discoveryv1.Endpoint{ep("a", "10.1.0.1", true, true, false)}},
			{AddressType: discoveryv1.AddressTypeIPv4, Ports: slicePorts(sp("metrics", 9100)), Endpoints: []discoveryv1.Endpoint{ep("b", "10.1.0.2", true, true, false)}},
		},
	}, {
		name: "no pods gives one empty slice",
		svc:  service(),
		want: []sliceView{{AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{}}},
	}, {
		name: "dual-stack service gets a slice per family",
		svc: service(func(s *corev1.Service) {
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol}
		}),
		pods: []*corev1.Pod{pod("a", "10.1.0.1", func(p *corev1.Pod) {
			p.Status.PodIPs = []corev1.PodIP{{IP: "10.1.0.1"}, {IP: "fd00::1"}}
		})},
		want: []sliceView{
			{AddressType: discoveryv1.AddressTypeIPv4, Ports: bothPorts, Endpoints: []discoveryv1.Endpoint{ep("a", "10.1.0.1", true, true, false)}},
			{AddressType: discoveryv1.AddressTypeIPv6, Ports: bothPorts, Endpoints: []discoveryv1.Endpoint{ep("a", "fd00::1", true, true, false)}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []sliceView
			for _, s := range DesiredSlices(tt.svc, tt.pods, zones, 100) {
				got = append(got, sliceView{AddressType: s.AddressType, Ports: s.Ports, Endpoints: s.Endpoints})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("slices (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDesiredSlicesMetadata(t *testing.T) {
	svc := service(func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone })
	got := DesiredSlices(svc, []*corev1.Pod{pod("a", "10.1.0.1")}, zones, 100)
	if len(got) != 1 {
		t.Fatalf("got %d slices, want 1", len(got))
	}
	want := metav1.ObjectMeta{
		Name:      got[0].Name,
		Namespace: "ns",
		Labels: map[string]string{
			"team": "a", headlessLabel: "",
			discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: managedBy,
		},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: "web", UID: "svc-uid", Controller: ptr(true), BlockOwnerDeletion: ptr(true)}},
	}
	if diff := cmp.Diff(want, got[0].ObjectMeta); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	again := DesiredSlices(svc, []*corev1.Pod{pod("b", "10.1.0.2"), pod("a", "10.1.0.1")}, zones, 100)
	if again[0].Name != got[0].Name {
		t.Errorf("slice name changed with its content: %q then %q", got[0].Name, again[0].Name)
	}
}

func TestDesiredSlicesChunks(t *testing.T) {
	var pods []*corev1.Pod
	for i := range 250 {
		pods = append(pods, pod(fmt.Sprintf("p%03d", i), fmt.Sprintf("10.1.%d.%d", i/200, i%200)))
	}
	got := DesiredSlices(service(), pods, zones, 100)
	var sizes []int
	names := map[string]bool{}
	seen := map[string]bool{}
	for _, s := range got {
		sizes = append(sizes, len(s.Endpoints))
		names[s.Name] = true
		for _, e := range s.Endpoints {
			seen[e.TargetRef.Name] = true
		}
	}
	if diff := cmp.Diff([]int{100, 100, 50}, sizes); diff != "" {
		t.Errorf("slice sizes (-want +got):\n%s", diff)
	}
	if len(names) != 3 {
		t.Errorf("slice names not distinct: %v", names)
	}
	if len(seen) != 250 {
		t.Errorf("%d distinct pods in slices, want 250", len(seen))
	}
}

func TestDesiredSubsets(t *testing.T) {
	addr := func(name, ip string) corev1.EndpointAddress {
		return corev1.EndpointAddress{IP: ip, NodeName: ptr("n1"), TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: name, UID: types.UID("uid-" + name)}}
	}
	ports := []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}, {Name: "metrics", Port: 9100, Protocol: corev1.ProtocolTCP}}
	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want []corev1.EndpointSubset
	}{{
		name: "ready and not ready; terminating and IP-less left out",
		svc:  service(),
		pods: []*corev1.Pod{pod("a", "10.1.0.9"), pod("b", "10.1.0.2", notReady), pod("c", "10.1.0.1"), pod("d", "10.1.0.3", terminating), pod("e", "")},
		want: []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{addr("c", "10.1.0.1"), addr("a", "10.1.0.9")},
			NotReadyAddresses: []corev1.EndpointAddress{addr("b", "10.1.0.2")},
			Ports:             ports,
		}},
	}, {
		name: "publishNotReadyAddresses",
		svc:  service(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
		pods: []*corev1.Pod{pod("a", "10.1.0.1", notReady), pod("b", "10.1.0.2", terminating)},
		want: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("a", "10.1.0.1"), addr("b", "10.1.0.2")}, Ports: ports}},
	}, {
		name: "named port resolved per pod",
		svc:  service(),
		pods: []*corev1.Pod{pod("a", "10.1.0.1"), pod("b", "10.1.0.2", portName("other"))},
		want: []corev1.EndpointSubset{
			{Addresses: []corev1.EndpointAddress{addr("a", "10.1.0.1")}, Ports: ports},
			{Addresses: []corev1.EndpointAddress{addr("b", "10.1.0.2")}, Ports: ports[1:]},
		},
	}, {
		name: "no pods",
		svc:  service(),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, DesiredSubsets(tt.svc, tt.pods)); diff != "" {
				t.Errorf("subsets (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTruncateSubsets(t *testing.T) {
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}
	p1 := []corev1.EndpointPort{{Port: 1}}
	p2 := []corev1.EndpointPort{{Port: 2}}
	in := []corev1.EndpointSubset{
		{Addresses: addrs("a1", "a2"), NotReadyAddresses: addrs("a3"), Ports: p1},
		{Addresses: addrs("b1"), NotReadyAddresses: addrs("b2", "b3"), Ports: p2},
	}
	tests := []struct {
		name          string
		max           int
		want          []corev1.EndpointSubset
		wantTruncated bool
	}{{
		name: "under the cap",
		max:  6,
		want: in,
	}, {
		name:          "ready addresses first",
		max:           4,
		want:          []corev1.EndpointSubset{{Addresses: addrs("a1", "a2"), NotReadyAddresses: addrs("a3"), Ports: p1}, {Addresses: addrs("b1"), Ports: p2}},
		wantTruncated: true,
	}, {
		name:          "empty subsets dropped",
		max:           2,
		want:          []corev1.EndpointSubset{{Addresses: addrs("a1", "a2"), Ports: p1}},
		wantTruncated: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, truncated := truncateSubsets(in, tt.max)
			if diff := cmp.Diff(tt.want, got); diff != "" || truncated != tt.wantTruncated {
				t.Errorf("truncated = %v, want %v; subsets (-want +got):\n%s", truncated, tt.wantTruncated, diff)
			}
		})
	}
}
