package registry

import (
	"fmt"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validateNetworkPolicy(np *networkingv1.NetworkPolicy) field.ErrorList {
	specPath := field.NewPath("spec")
	s := &np.Spec
	allErrs := metavalidation.ValidateLabelSelector(&s.PodSelector, metavalidation.LabelSelectorValidationOptions{}, specPath.Child("podSelector"))
	for i, r := range s.Ingress {
		p := specPath.Child("ingress").Index(i)
		allErrs = append(allErrs, validateNetworkPolicyPorts(r.Ports, p.Child("ports"))...)
		for j, peer := range r.From {
			allErrs = append(allErrs, validateNetworkPolicyPeer(&peer, p.Child("from").Index(j))...)
		}
	}
	for i, r := range s.Egress {
		p := specPath.Child("egress").Index(i)
		allErrs = append(allErrs, validateNetworkPolicyPorts(r.Ports, p.Child("ports"))...)
		for j, peer := range r.To {
			allErrs = append(allErrs, validateNetworkPolicyPeer(&peer, p.Child("to").Index(j))...)
		}
	}
	types := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	if len(s.PolicyTypes) > len(types) {
		return append(allErrs, field.Invalid(specPath.Child("policyTypes"), &s.PolicyTypes, "may not specify more than two policyTypes"))
	}
	for i, t := range s.PolicyTypes {
		if !slices.Contains(types, t) {
			allErrs = append(allErrs, field.NotSupported(specPath.Child("policyTypes").Index(i), t, types))
		}
	}
	return allErrs
}

func validateNetworkPolicyPorts(ports []networkingv1.NetworkPolicyPort, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, port := range ports {
		p := fldPath.Index(i)
		if port.Protocol != nil && !slices.Contains(portProtocols, *port.Protocol) {
			allErrs = append(allErrs, field.NotSupported(p.Child("protocol"), *port.Protocol, []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}))
		}
		switch {
		case port.Port == nil:
			if port.EndPort != nil {
				allErrs = append(allErrs, field.Invalid(p.Child("endPort"), *port.EndPort, "may not be specified when `port` is not specified"))
			}
		case port.Port.Type == intstr.Int:
			allErrs = append(allErrs, invalid(p.Child("port"), port.Port.IntVal, validation.IsValidPortNum(int(port.Port.IntVal)))...)
			if port.EndPort != nil {
				if *port.EndPort < port.Port.IntVal {
					allErrs = append(allErrs, field.Invalid(p.Child("endPort"), port.Port.IntVal, "must be greater than or equal to `port`"))
				}
				allErrs = append(allErrs, invalid(p.Child("endPort"), *port.EndPort, validation.IsValidPortNum(int(*port.EndPort)))...)
			}
		default:
			if port.EndPort != nil {
				allErrs = append(allErrs, field.Invalid(p.Child("endPort"), *port.EndPort, "may not be specified when `port` is non-numeric"))
			}
			allErrs = append(allErrs, invalid(p.Child("port"), port.Port.StrVal, validation.IsValidPortName(port.Port.StrVal))...)
		}
	}
	return allErrs
}

func validateNetworkPolicyPeer(peer *networkingv1.NetworkPolicyPeer, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	n := 0
	if peer.PodSelector != nil {
		n++
		allErrs = append(allErrs, metavalidation.ValidateLabelSelector(peer.PodSelector, metavalidation.LabelSelectorValidationOptions{}, fldPath.Child("podSelector"))...)
	}
	if peer.NamespaceSelector != nil {
		n++
		allErrs = append(allErrs, metavalidation.ValidateLabelSelector(peer.NamespaceSelector, metavalidation.LabelSelectorValidationOptions{}, fldPath.Child("namespaceSelector"))...)
	}
	if peer.IPBlock != nil {
		n++
		allErrs = append(allErrs, validateIPBlock(peer.IPBlock, fldPath.Child("ipBlock"))...)
	}
	switch {
	case n == 0:
		allErrs = append(allErrs, field.Required(fldPath, "must specify a peer"))
	case n > 1 && peer.IPBlock != nil:
		allErrs = append(allErrs, field.Forbidden(fldPath, "may not specify both ipBlock and another peer"))
	}
	return allErrs
}

// validateIPBlock requires a valid CIDR whose exceptions are strict subsets of it.
func validateIPBlock(b *networkingv1.IPBlock, fldPath *field.Path) field.ErrorList {
	if b.CIDR == "" {
		return field.ErrorList{field.Required(fldPath.Child("cidr"), "")}
	}
	allErrs := validation.IsValidCIDR(fldPath.Child("cidr"), b.CIDR)
	_, cidr, err := net.ParseCIDR(b.CIDR)
	if err != nil {
		return allErrs
	}
	cidrLen, _ := cidr.Mask.Size()
	for i, e := range b.Except {
		p := fldPath.Child("except").Index(i)
		allErrs = append(allErrs, validation.IsValidCIDR(p, e)...)
		_, except, err := net.ParseCIDR(e)
		if err != nil {
			continue
		}
		if exceptLen, _ := except.Mask.Size(); !cidr.Contains(except.IP) || cidrLen >= exceptLen {
			allErrs = append(allErrs, field.Invalid(p, e, "must be a strict subset of `cidr`"))
		}
	}
	return allErrs
}

var (
	ingressPathTypes       = []networkingv1.PathType{networkingv1.PathTypeExact, networkingv1.PathTypeImplementationSpecific, networkingv1.PathTypePrefix}
	invalidIngressPathSeqs = []string{"//", "/./", "/../", "%2f", "%2F"}
)

// validateIngress checks rules (hosts, paths with their types, backends),
// the default backend, TLS hosts and secrets, and the class name.
func validateIngress(ing *networkingv1.Ingress) field.ErrorList {
	specPath := field.NewPath("spec")
	s := &ing.Spec
	var allErrs field.ErrorList
	if len(s.Rules) == 0 && s.DefaultBackend == nil {
		allErrs = append(allErrs, field.Invalid(specPath, s.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if s.DefaultBackend != nil {
		allErrs = append(allErrs, validateIngressBackend(s.DefaultBackend, specPath.Child("defaultBackend"))...)
	}
	for i, r := range s.Rules {
		p := specPath.Child("rules").Index(i)
		if r.Host != "" {
			if net.ParseIP(r.Host) != nil {
				allErrs = append(allErrs, field.Invalid(p.Child("host"), r.Host, "must be a DNS name, not an IP address"))
			}
			allErrs = append(allErrs, validateIngressHost(r.Host, p.Child("host"))...)
		}
		if r.HTTP == nil {
			continue
		}
		hp := p.Child("http")
		if len(r.HTTP.Paths) == 0 {
			allErrs = append(allErrs, field.Required(hp.Child("paths"), ""))
		}
		for j, path := range r.HTTP.Paths {
			allErrs = append(allErrs, validateIngressPath(&path, hp.Child("paths").Index(j))...)
		}
	}
	for i, tls := range s.TLS {
		p := specPath.Child("tls").Index(i)
		for j, h := range tls.Hosts {
			allErrs = append(allErrs, validateIngressHost(h, p.Child("hosts").Index(j))...)
		}
		if tls.SecretName != "" {
			allErrs = append(allErrs, nameErrors(tls.SecretName, p.Child("secretName"), apivalidation.NameIsDNSSubdomain)...)
		}
	}
	if s.IngressClassName != nil {
		allErrs = append(allErrs, nameErrors(*s.IngressClassName, specPath.Child("ingressClassName"), apivalidation.NameIsDNSSubdomain)...)
	}
	return allErrs
}

func validateIngressHost(host string, fldPath *field.Path) field.ErrorList {
	if strings.Contains(host, "*") {
		return invalid(fldPath, host, validation.IsWildcardDNS1123Subdomain(host))
	}
	return dns1123Subdomain(host, fldPath)
}

func validateIngressPath(p *networkingv1.HTTPIngressPath, fldPath *field.Path) field.ErrorList {
	if p.PathType == nil {
		return field.ErrorList{field.Required(fldPath.Child("pathType"), "pathType must be specified")}
	}
	var allErrs field.ErrorList
	pp := fldPath.Child("path")
	switch *p.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(p.Path, "/") {
			allErrs = append(allErrs, field.Invalid(pp, p.Path, "must be an absolute path"))
		}
		for _, seq := range invalidIngressPathSeqs {
			if strings.Contains(p.Path, seq) {
				allErrs = append(allErrs, field.Invalid(pp, p.Path, fmt.Sprintf("must not contain '%s'", seq)))
			}
		}
		for _, suffix := range []string{"/..", "/."} {
			if strings.HasSuffix(p.Path, suffix) {
				allErrs = append(allErrs, field.Invalid(pp, p.Path, fmt.Sprintf("cannot end with '%s'", suffix)))
			}
		}
	case networkingv1.PathTypeImplementationSpecific:
		if p.Path != "" && !strings.HasPrefix(p.Path, "/") {
			allErrs = append(allErrs, field.Invalid(pp, p.Path, "must be an absolute path"))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("pathType"), *p.PathType, ingressPathTypes))
	}
	return append(allErrs, validateIngressBackend(&p.Backend, fldPath.Child("backend"))...)
}

func validateIngressBackend(b *networkingv1.IngressBackend, fldPath *field.Path) field.ErrorList {
	switch {
	case b.Resource != nil && b.Service != nil:
		return field.ErrorList{field.Invalid(fldPath, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		var allErrs field.ErrorList
		rp := fldPath.Child("resource")
		if b.Resource.Kind == "" {
			allErrs = append(allErrs, field.Required(rp.Child("kind"), ""))
		}
		if b.Resource.Name == "" {
			allErrs = append(allErrs, field.Required(rp.Child("name"), ""))
		}
		if b.Resource.APIGroup == nil {
			allErrs = append(allErrs, field.Required(rp.Child("apiGroup"), ""))
		}
		return allErrs
	case b.Service != nil:
		var allErrs field.ErrorList
		sp := fldPath.Child("service")
		if b.Service.Name == "" {
			allErrs = append(allErrs, field.Required(sp.Child("name"), ""))
		} else {
			allErrs = append(allErrs, nameErrors(b.Service.Name, sp.Child("name"), apivalidation.NameIsDNS1035Label)...)
		}
		port := b.Service.Port
		switch {
		case port.Name != "" && port.Number != 0:
			allErrs = append(allErrs, field.Invalid(fldPath, "", "cannot set both port name & port number"))
		case port.Name != "":
			allErrs = append(allErrs, invalid(sp.Child("port", "name"), port.Name, validation.IsValidPortName(port.Name))...)
		case port.Number != 0:
			allErrs = append(allErrs, invalid(sp.Child("port", "number"), port.Number, validation.IsValidPortNum(int(port.Number)))...)
		default:
			allErrs = append(allErrs, field.Required(fldPath, "port name or number is required"))
		}
		return allErrs
	}
	return field.ErrorList{field.Invalid(fldPath, "", "resource or service backend is required")}
}

// validateIngressClass requires a domain-prefixed controller and a
// complete parameters reference.
func validateIngressClass(ic *networkingv1.IngressClass) field.ErrorList {
	specPath := field.NewPath("spec")
	var allErrs field.ErrorList
	cp := specPath.Child("controller")
	switch c := ic.Spec.Controller; {
	case c == "":
		allErrs = append(allErrs, field.Required(cp, ""))
	case len(c) > 250:
		allErrs = append(allErrs, field.TooLong(cp, "", 250))
	default:
		allErrs = append(allErrs, validation.IsDomainPrefixedPath(cp, c)...)
	}
	if p := ic.Spec.Parameters; p != nil {
		pp := specPath.Child("parameters")
		if p.Kind == "" {
			allErrs = append(allErrs, field.Required(pp.Child("kind"), ""))
		}
		if p.Name == "" {
			allErrs = append(allErrs, field.Required(pp.Child("name"), ""))
		}
		if p.Scope != nil {
			scopes := []string{networkingv1.IngressClassParametersReferenceScopeCluster, networkingv1.IngressClassParametersReferenceScopeNamespace}
			switch {
			case !slices.Contains(scopes, *p.Scope):
				allErrs = append(allErrs, field.NotSupported(pp.Child("scope"), *p.Scope, scopes))
			case *p.Scope == networkingv1.IngressClassParametersReferenceScopeNamespace && p.Namespace == nil:
				allErrs = append(allErrs, field.Required(pp.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
			case *p.Scope == networkingv1.IngressClassParametersReferenceScopeCluster && p.Namespace != nil:
				allErrs = append(allErrs, field.Forbidden(pp.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
			}
		}
	}
	return allErrs
}

func validateIngressClassUpdate(ic, old *networkingv1.IngressClass) field.ErrorList {
	return immutable(ic.Spec.Controller, old.Spec.Controller, field.NewPath("spec", "controller"))
}

var addressTypes = []discoveryv1.AddressType{discoveryv1.AddressTypeFQDN, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}

// validateEndpointSlice checks the address type and that every address is
// of that type, and the ports.
func validateEndpointSlice(es *discoveryv1.EndpointSlice) field.ErrorList {
	allErrs := validateEnum(field.NewPath("addressType"), es.AddressType, addressTypes...)
	epPath := field.NewPath("endpoints")
	if len(es.Endpoints) > 1000 {
		allErrs = append(allErrs, field.TooMany(epPath, len(es.Endpoints), 1000))
	}
	for i, ep := range es.Endpoints {
		p := epPath.Index(i)
		ap := p.Child("addresses")
		if len(ep.Addresses) == 0 {
			allErrs = append(allErrs, field.Required(ap, "must contain at least 1 address"))
		} else if len(ep.Addresses) > 100 {
			allErrs = append(allErrs, field.TooMany(ap, len(ep.Addresses), 100))
		}
		for j, a := range ep.Addresses {
			allErrs = append(allErrs, validateSliceAddress(es.AddressType, a, ap.Index(j))...)
		}
		if ep.NodeName != nil {
			allErrs = append(allErrs, nameErrors(*ep.NodeName, p.Child("nodeName"), apivalidation.NameIsDNSSubdomain)...)
		}
		if ep.Hostname != nil {
			allErrs = append(allErrs, dns1123Label(*ep.Hostname, p.Child("hostname"))...)
		}
	}
	names := sets.New[string]()
	for i, port := range es.Ports {
		p := field.NewPath("ports").Index(i)
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if name != "" {
			allErrs = append(allErrs, dns1123Label(name, p.Child("name"))...)
		}
		if names.Has(name) {
			allErrs = append(allErrs, field.Duplicate(p.Child("name"), name))
		}
		names.Insert(name)
		if port.Protocol == nil {
			allErrs = append(allErrs, field.Required(p.Child("protocol"), ""))
		} else {
			allErrs = append(allErrs, validateProtocol(*port.Protocol, p.Child("protocol"))...)
		}
		if port.Port != nil && *port.Port != 0 {
			allErrs = append(allErrs, invalid(p.Child("port"), *port.Port, validation.IsValidPortNum(int(*port.Port)))...)
		}
		if port.AppProtocol != nil {
			allErrs = append(allErrs, qualifiedName(*port.AppProtocol, p.Child("appProtocol"))...)
		}
	}
	return allErrs
}

func validateSliceAddress(t discoveryv1.AddressType, a string, fldPath *field.Path) field.ErrorList {
	switch t {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
		if errs := validation.IsValidIP(fldPath, a); len(errs) > 0 {
			return errs
		}
		if v4 := net.ParseIP(a).To4() != nil; v4 != (t == discoveryv1.AddressTypeIPv4) {
			return field.ErrorList{field.Invalid(fldPath, a, fmt.Sprintf("must be an %s address", t))}
		}
		return validateNonSpecialIP(a, fldPath)
	case discoveryv1.AddressTypeFQDN:
		return validation.IsFullyQualifiedDomainName(fldPath, a)
	}
	return nil
}

func validateEndpointSliceUpdate(es, old *discoveryv1.EndpointSlice) field.ErrorList {
	return immutable(es.AddressType, old.AddressType, field.NewPath("addressType"))
}
