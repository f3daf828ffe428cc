package registry

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
)

// listMax is how many items a list cell shows before "+ N more...".
const listMax = 3

func serviceTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Type", "string", corev1.ServiceSpec{}.SwaggerDoc()["type"]),
			column("Cluster-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["clusterIP"]),
			column("External-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["externalIPs"]),
			column("Port(s)", "string", corev1.ServiceSpec{}.SwaggerDoc()["ports"]),
			ageColumn(),
			wide(column("Selector", "string", corev1.ServiceSpec{}.SwaggerDoc()["selector"])),
		},
		row: rowOf(func(s *corev1.Service, now time.Time) []any {
			return []any{
				s.Name, string(s.Spec.Type), orNone(clusterIP(s)), serviceExternalIP(s), orNone(servicePorts(s.Spec.Ports)),
				since(s.CreationTimestamp, now), labels.FormatLabels(s.Spec.Selector),
			}
		}),
		fields: fieldsOf(serviceFields),
	}
}

// clusterIP is the service's primary cluster IP. The API keeps clusterIP
// and clusterIPs[0] equal; the singular field covers a writer that set
// only it.
func clusterIP(s *corev1.Service) string {
	if len(s.Spec.ClusterIPs) > 0 {
		return s.Spec.ClusterIPs[0]
	}
	return s.Spec.ClusterIP
}

// serviceExternalIP is the EXTERNAL-IP cell: the external IPs, for a load
// balancer preceded by its ingress addresses ("<pending>" while it has
// none), for an ExternalName service the name.
func serviceExternalIP(s *corev1.Service) string {
	switch s.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(s.Spec.ExternalIPs) > 0 {
			return strings.Join(s.Spec.ExternalIPs, ",")
		}
		return "<none>"
	case corev1.ServiceTypeLoadBalancer:
		addrs := make([]string, 0, len(s.Status.LoadBalancer.Ingress))
		for _, in := range s.Status.LoadBalancer.Ingress {
			addrs = append(addrs, ingressAddress(in.IP, in.Hostname))
		}
		lb := sortedUnique(addrs)
		if len(lb) == 0 && len(s.Spec.ExternalIPs) == 0 {
			return "<pending>"
		}
		return strings.Join(append(lb, s.Spec.ExternalIPs...), ",")
	case corev1.ServiceTypeExternalName:
		return s.Spec.ExternalName
	}
	return "<unknown>"
}

// ingressAddress is a load balancer ingress point's IP, else its host name.
func ingressAddress(ip, hostname string) string {
	if ip != "" {
		return ip
	}
	return hostname
}

// sortedUnique returns the distinct non-empty strings of ss, sorted.
func sortedUnique(ss []string) []string {
	s := sets.New(ss...)
	s.Delete("")
	return sets.List(s)
}

// servicePorts is "port/protocol" or "port:nodePort/protocol", joined by
// commas.
func servicePorts(ports []corev1.ServicePort) string {
	out := make([]string, len(ports))
	for i, p := range ports {
		if p.NodePort > 0 {
			out[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		} else {
			out[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		}
	}
	return strings.Join(out, ",")
}

func endpointsTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Endpoints", "string", corev1.Endpoints{}.SwaggerDoc()["subsets"]),
			ageColumn(),
		},
		row: rowOf(func(e *corev1.Endpoints, now time.Time) []any {
			return []any{e.Name, endpointsCell(e), since(e.CreationTimestamp, now)}
		}),
	}
}

// endpointsCell lists up to three "ip:port" (or, without ports, "ip")
// endpoints and how many more there are; "<none>" without subsets.
func endpointsCell(e *corev1.Endpoints) string {
	if len(e.Subsets) == 0 {
		return "<none>"
	}
	var list []string
	count := 0
	add := func(s string) {
		count++
		if len(list) < listMax {
			list = append(list, s)
		}
	}
	for _, ss := range e.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	s := strings.Join(list, ",")
	if count > listMax {
		return fmt.Sprintf("%s + %d more...", s, count-listMax)
	}
	return s
}

func endpointSliceTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("AddressType", "string", discoveryv1.EndpointSlice{}.SwaggerDoc()["addressType"]),
			column("Ports", "string", discoveryv1.EndpointSlice{}.SwaggerDoc()["ports"]),
			column("Endpoints", "string", discoveryv1.EndpointSlice{}.SwaggerDoc()["endpoints"]),
			ageColumn(),
		},
		row: rowOf(func(e *discoveryv1.EndpointSlice, now time.Time) []any {
			var ports, addrs []string
			for _, p := range e.Ports {
				switch {
				case p.Port != nil:
					ports = append(ports, strconv.Itoa(int(*p.Port)))
				case p.Name != nil:
					ports = append(ports, *p.Name)
				default:
					ports = append(ports, "*")
				}
			}
			for _, ep := range e.Endpoints {
				addrs = append(addrs, ep.Addresses...)
			}
			return []any{e.Name, string(e.AddressType), listCell(ports), listCell(addrs), since(e.CreationTimestamp, now)}
		}),
	}
}

// listCell shows up to three items and how many more there are;
// "<unset>" when that shows nothing.
func listCell(items []string) string {
	if len(items) > listMax {
		return fmt.Sprintf("%s + %d more...", strings.Join(items[:listMax], ","), len(items)-listMax)
	}
	if s := strings.Join(items, ","); s != "" {
		return s
	}
	return "<unset>"
}

func ingressTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
			column("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
			column("Address", "string", "Address is a list containing ingress points for the load-balancer"),
			column("Ports", "string", "Ports of TLS configurations that open"),
			ageColumn(),
		},
		row: rowOf(func(in *networkingv1.Ingress, now time.Time) []any {
			class := "<none>"
			if in.Spec.IngressClassName != nil {
				class = *in.Spec.IngressClassName
			}
			addrs := make([]string, 0, len(in.Status.LoadBalancer.Ingress))
			for _, lb := range in.Status.LoadBalancer.Ingress {
				addrs = append(addrs, ingressAddress(lb.IP, lb.Hostname))
			}
			ports := "80"
			if len(in.Spec.TLS) > 0 {
				ports = "80, 443"
			}
			return []any{in.Name, class, ingressHosts(in.Spec.Rules), strings.Join(sortedUnique(addrs), ","), ports, since(in.CreationTimestamp, now)}
		}),
	}
}

// ingressHosts lists the first three hosts the rules name and, when a
// rule follows the third, how many rules there are beyond three; "*" when
// the rules name no host.
func ingressHosts(rules []networkingv1.IngressRule) string {
	var hosts []string
	more := false
	for _, r := range rules {
		if len(hosts) == listMax {
			more = true
			break
		}
		if r.Host != "" {
			hosts = append(hosts, r.Host)
		}
	}
	if len(hosts) == 0 {
		return "*"
	}
	s := strings.Join(hosts, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", s, len(rules)-listMax)
	}
	return s
}

func ingressClassTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Controller", "string", "Controller that is responsible for handling this class"),
			column("Parameters", "string", "A reference to a resource with additional parameters"),
			ageColumn(),
		},
		row: rowOf(func(c *networkingv1.IngressClass, now time.Time) []any {
			params := "<none>"
			if p := c.Spec.Parameters; p != nil {
				params = p.Kind
				if p.APIGroup != nil {
					params += "." + *p.APIGroup
				}
				params += "/" + p.Name
			}
			return []any{c.Name, c.Spec.Controller, params, since(c.CreationTimestamp, now)}
		}),
	}
}

func networkPolicyTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Pod-Selector", "string", networkingv1.NetworkPolicySpec{}.SwaggerDoc()["podSelector"]),
			ageColumn(),
		},
		row: rowOf(func(p *networkingv1.NetworkPolicy, now time.Time) []any {
			return []any{p.Name, metav1.FormatLabelSelector(&p.Spec.PodSelector), since(p.CreationTimestamp, now)}
		}),
	}
}
