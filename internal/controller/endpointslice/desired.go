package endpointslice

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// managedBy is the endpointslice.kubernetes.io/managed-by value of the
	// slices this controller owns; slices with another value are left alone.
	managedBy = "endpointslice-controller.k8s.io"
	// headlessLabel marks the objects of a Service whose clusterIP is None.
	headlessLabel = "service.kubernetes.io/headless"
)

// servable reports whether a pod may appear in its Services' endpoints at
// all: it has an IP and has not finished. Terminating pods are servable;
// the caller decides what they count as.
func servable(p *corev1.Pod) bool {
	if p.Status.PodIP == "" {
		return false
	}
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// podReady reports the pod's Ready condition.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// serviceFamilies returns the IP families whose pod addresses the Service
// publishes, primary first: spec.ipFamilies, else the family of its
// cluster IP, else IPv4.
func serviceFamilies(svc *corev1.Service) []corev1.IPFamily {
	if len(svc.Spec.IPFamilies) > 0 {
		return svc.Spec.IPFamilies
	}
	if a, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil && a.Is6() {
		return []corev1.IPFamily{corev1.IPv6Protocol}
	}
	return []corev1.IPFamily{corev1.IPv4Protocol}
}

// podIP returns the pod's first IP of the family, or "".
func podIP(p *corev1.Pod, family corev1.IPFamily) string {
	ips := []string{p.Status.PodIP}
	for _, ip := range p.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	for _, ip := range ips {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			continue
		}
		if a.Is6() == (family == corev1.IPv6Protocol) {
			return a.String()
		}
	}
	return ""
}

// resolvedPort is one Service port as served by one pod.
type resolvedPort struct {
	name        string
	protocol    corev1.Protocol
	port        int32
	appProtocol *string
}

// podPorts resolves the Service's ports against the pod: a named
// targetPort is looked up among the pod's container ports of the same
// protocol (ports the pod does not name are left out), a number is used as
// is, and no targetPort means the Service port.
func podPorts(svc *corev1.Service, p *corev1.Pod) []resolvedPort {
	var out []resolvedPort
	for _, sp := range svc.Spec.Ports {
		proto := cmp.Or(sp.Protocol, corev1.ProtocolTCP)
		var port int32
		switch {
		case sp.TargetPort.StrVal != "":
			port = namedPort(p, sp.TargetPort.StrVal, proto)
		case sp.TargetPort.IntVal != 0:
			port = sp.TargetPort.IntVal
		default:
			port = sp.Port
		}
		if port == 0 {
			continue
		}
		out = append(out, resolvedPort{name: sp.Name, protocol: proto, port: port, appProtocol: sp.AppProtocol})
	}
	return out
}

func namedPort(p *corev1.Pod, name string, proto corev1.Protocol) int32 {
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == name && cmp.Or(cp.Protocol, corev1.ProtocolTCP) == proto {
				return cp.ContainerPort
			}
		}
	}
	return 0
}

// portsKey identifies a set of resolved ports; pods with the same key share
// slices and subsets.
func portsKey(ports []resolvedPort) string {
	var b strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&b, "%s/%s/%d/%s;", p.name, p.protocol, p.port, ptrString(p.appProtocol))
	}
	return b.String()
}

func ptrString(s *string) string {
	if s == nil {
		return ""
	}
	return "=" + *s
}

// sortedPods returns the pods ordered by name, so computed objects do not
// depend on cache order.
func sortedPods(pods []*corev1.Pod) []*corev1.Pod {
	out := slices.Clone(pods)
	slices.SortFunc(out, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// hostname is the DNS hostname the pod publishes for the Service: its
// spec.hostname when its subdomain is the Service's name.
func hostname(svc *corev1.Service, p *corev1.Pod) string {
	if p.Spec.Hostname != "" && p.Spec.Subdomain == svc.Name {
		return p.Spec.Hostname
	}
	return ""
}

// objectLabels returns the labels of the objects derived from the
// Service: its own labels plus the headless marker.
func objectLabels(svc *corev1.Service) map[string]string {
	l := make(map[string]string, len(svc.Labels)+3)
	for k, v := range svc.Labels {
		l[k] = v
	}
	delete(l, headlessLabel)
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		l[headlessLabel] = ""
	}
	return l
}

// DesiredSlices computes the EndpointSlices the selector Service svc should
// have for pods (the pods its selector matches) with at most maxPerSlice
// endpoints each. Endpoints are grouped by address family and resolved
// ports, ordered by pod name, and chunked; each slice has a name derived
// from its group and position, so recomputing over the same input gives
// the same objects. A Service with no endpoints gets one empty slice of its
// primary family. zone maps a node name to its topology zone ("" when
// unknown). The result carries labels and the Service's ownerReference but
// no resourceVersion.
func DesiredSlices(svc *corev1.Service, pods []*corev1.Pod, zone func(node string) string, maxPerSlice int) []*discoveryv1.EndpointSlice {
	type group struct {
		family    corev1.IPFamily
		ports     []resolvedPort
		endpoints []discoveryv1.Endpoint
	}
	groups := map[string]*group{}
	var order []string
	publishAll := svc.Spec.PublishNotReadyAddresses
	for _, p := range sortedPods(pods) {
		if !servable(p) {
			continue
		}
		ports := podPorts(svc, p)
		serving := publishAll || podReady(p)
		terminating := p.DeletionTimestamp != nil
		ready := publishAll || (serving && !terminating)
		for _, fam := range serviceFamilies(svc) {
			ip := podIP(p, fam)
			if ip == "" {
				continue
			}
			ep := discoveryv1.Endpoint{
				Addresses: []string{ip},
				Conditions: discoveryv1.EndpointConditions{
					Ready: &ready, Serving: &serving, Terminating: &terminating,
				},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
			}
			if h := hostname(svc, p); h != "" {
				ep.Hostname = &h
			}
			if p.Spec.NodeName != "" {
				n := p.Spec.NodeName
				ep.NodeName = &n
				if z := zone(n); z != "" {
					ep.Zone = &z
				}
			}
			k := string(fam) + "|" + portsKey(ports)
			g, ok := groups[k]
			if !ok {
				g = &group{family: fam, ports: ports}
				groups[k] = g
				order = append(order, k)
			}
			g.endpoints = append(g.endpoints, ep)
		}
	}
	if len(groups) == 0 {
		fam := serviceFamilies(svc)[0]
		k := string(fam) + "|"
		groups[k] = &group{family: fam}
		order = append(order, k)
	}
	slices.Sort(order)
	var out []*discoveryv1.EndpointSlice
	for _, k := range order {
		g := groups[k]
		h := fnv.New32a()
		h.Write([]byte(k))
		prefix := fmt.Sprintf("%s-%08x-", svc.Name, h.Sum32())
		i := 0
		for chunk := range chunks(g.endpoints, maxPerSlice) {
			out = append(out, newSlice(svc, prefix+strconv.Itoa(i), g.family, g.ports, chunk))
			i++
		}
	}
	return out
}

// chunks yields s in pieces of at most n, and one empty piece for an empty s.
func chunks[T any](s []T, n int) func(yield func([]T) bool) {
	return func(yield func([]T) bool) {
		if len(s) == 0 {
			yield(nil)
			return
		}
		for c := range slices.Chunk(s, n) {
			if !yield(c) {
				return
			}
		}
	}
}

func newSlice(svc *corev1.Service, name string, fam corev1.IPFamily, ports []resolvedPort, eps []discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	labels := objectLabels(svc)
	labels[discoveryv1.LabelServiceName] = svc.Name
	labels[discoveryv1.LabelManagedBy] = managedBy
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       svc.Namespace,
			Labels:          labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(svc, corev1.SchemeGroupVersion.WithKind("Service"))},
		},
		AddressType: discoveryv1.AddressType(fam),
		Endpoints:   slices.Clone(eps),
		Ports:       []discoveryv1.EndpointPort{},
	}
	for _, p := range ports {
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: &p.name, Protocol: &p.protocol, Port: &p.port, AppProtocol: p.appProtocol})
	}
	return s
}

// DesiredSubsets computes the legacy Endpoints subsets of the selector
// Service svc for pods (the pods its selector matches): each pod's address
// of the Service's primary family, under addresses when ready (every pod
// when publishNotReadyAddresses) or notReadyAddresses otherwise. Pods being
// deleted are left out unless publishNotReadyAddresses. Pods with the same
// resolved ports share a subset; addresses are ordered by IP and subsets by
// their ports, so the result is canonical. No pods gives nil.
func DesiredSubsets(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	publishAll := svc.Spec.PublishNotReadyAddresses
	fam := serviceFamilies(svc)[0]
	byPorts := map[string]*corev1.EndpointSubset{}
	var keys []string
	for _, p := range sortedPods(pods) {
		if !servable(p) || (p.DeletionTimestamp != nil && !publishAll) {
			continue
		}
		ip := podIP(p, fam)
		if ip == "" {
			continue
		}
		ports := podPorts(svc, p)
		k := portsKey(ports)
		ss, ok := byPorts[k]
		if !ok {
			ss = &corev1.EndpointSubset{}
			for _, rp := range ports {
				ss.Ports = append(ss.Ports, corev1.EndpointPort{Name: rp.name, Port: rp.port, Protocol: rp.protocol, AppProtocol: rp.appProtocol})
			}
			byPorts[k] = ss
			keys = append(keys, k)
		}
		addr := corev1.EndpointAddress{
			IP:        ip,
			Hostname:  hostname(svc, p),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
		}
		if p.Spec.NodeName != "" {
			n := p.Spec.NodeName
			addr.NodeName = &n
		}
		if publishAll || podReady(p) {
			ss.Addresses = append(ss.Addresses, addr)
		} else {
			ss.NotReadyAddresses = append(ss.NotReadyAddresses, addr)
		}
	}
	slices.Sort(keys)
	var out []corev1.EndpointSubset
	for _, k := range keys {
		ss := byPorts[k]
		byIP := func(a, b corev1.EndpointAddress) int { return cmp.Compare(a.IP, b.IP) }
		slices.SortFunc(ss.Addresses, byIP)
		slices.SortFunc(ss.NotReadyAddresses, byIP)
		out = append(out, *ss)
	}
	return out
}

// maxEndpointsAddresses caps the addresses of one legacy Endpoints object,
// as upstream does; EndpointSlices have no such cap.
const maxEndpointsAddresses = 1000

// truncateSubsets keeps at most max addresses of subsets, ready addresses
// before not-ready ones and earlier subsets first, dropping subsets left
// empty. It reports whether anything was dropped; subsets is not modified.
func truncateSubsets(subsets []corev1.EndpointSubset, max int) ([]corev1.EndpointSubset, bool) {
	total := 0
	for _, ss := range subsets {
		total += len(ss.Addresses) + len(ss.NotReadyAddresses)
	}
	if total <= max {
		return subsets, false
	}
	out := make([]corev1.EndpointSubset, len(subsets))
	left := max
	for i, ss := range subsets {
		n := min(left, len(ss.Addresses))
		out[i] = corev1.EndpointSubset{Addresses: head(ss.Addresses, n), Ports: ss.Ports}
		left -= n
	}
	for i, ss := range subsets {
		n := min(left, len(ss.NotReadyAddresses))
		out[i].NotReadyAddresses = head(ss.NotReadyAddresses, n)
		left -= n
	}
	return slices.DeleteFunc(out, func(ss corev1.EndpointSubset) bool {
		return len(ss.Addresses)+len(ss.NotReadyAddresses) == 0
	}), true
}

// head returns the first n elements of s, nil when n is 0.
func head[T any](s []T, n int) []T {
	if n == 0 {
		return nil
	}
	return s[:n:n]
}
