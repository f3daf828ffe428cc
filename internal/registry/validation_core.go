package registry

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"path"
	"reflect"
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// invalid turns validation messages about one value into Invalid errors.
func invalid(fldPath *field.Path, value any, msgs []string) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range msgs {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

func dns1123Label(value string, fldPath *field.Path) field.ErrorList {
	return invalid(fldPath, value, validation.IsDNS1123Label(value))
}

func dns1123Subdomain(value string, fldPath *field.Path) field.ErrorList {
	return invalid(fldPath, value, validation.IsDNS1123Subdomain(value))
}

func qualifiedName(value string, fldPath *field.Path) field.ErrorList {
	return invalid(fldPath, value, validation.IsQualifiedName(value))
}

// nameErrors checks a reference to an object name with the name's rule.
func nameErrors(name string, fldPath *field.Path, rule apivalidation.ValidateNameFunc) field.ErrorList {
	return invalid(fldPath, name, rule(name, false))
}

func immutable(newVal, oldVal any, fldPath *field.Path) field.ErrorList {
	return apivalidation.ValidateImmutableField(newVal, oldVal, fldPath)
}

func nonNegative(v int64, fldPath *field.Path) field.ErrorList {
	return apivalidation.ValidateNonnegativeField(v, fldPath)
}

// maxDataSize is the limit on the total size of a ConfigMap's or
// Secret's data.
const maxDataSize = 1 << 20

// validateEnum reports an empty value as Required and an unknown one as
// NotSupported, listing the valid values in the order given.
func validateEnum[T ~string](fldPath *field.Path, value T, valid ...T) field.ErrorList {
	switch {
	case value == "":
		return field.ErrorList{field.Required(fldPath, "")}
	case !slices.Contains(valid, value):
		return field.ErrorList{field.NotSupported(fldPath, value, valid)}
	}
	return nil
}

// setFields returns the JSON names of the non-nil pointer fields of a
// struct of optional members, such as a volume source.
func setFields(v any) sets.Set[string] {
	set := sets.New[string]()
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		if rv.Field(i).Kind() == reflect.Pointer && !rv.Field(i).IsNil() {
			set.Insert(jsonName(rv.Type().Field(i)))
		}
	}
	return set
}

// jsonName is the serialized name of a struct field.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// sortedKeys returns the resource names of a list in order.
func sortedKeys(list corev1.ResourceList) []corev1.ResourceName {
	keys := make([]corev1.ResourceName, 0, len(list))
	for k := range list {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// maxClientIPAffinitySeconds bounds a ClientIP session affinity timeout.
const maxClientIPAffinitySeconds = 86400

// Service node ports are allocated from this range.
const (
	nodePortMin = 30000
	nodePortMax = 32767
)

func isHeadless(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeClusterIP &&
		(s.Spec.ClusterIP == corev1.ClusterIPNone || len(s.Spec.ClusterIPs) > 0 && s.Spec.ClusterIPs[0] == corev1.ClusterIPNone)
}

// validateService checks a service as upstream does, except for fields the
// API server allocates (cluster IPs, node ports, health check node port),
// which are checked only for form when set.
func validateService(svc *corev1.Service) field.ErrorList {
	specPath := field.NewPath("spec")
	s := &svc.Spec
	var allErrs field.ErrorList
	if len(s.Ports) == 0 && !isHeadless(svc) && s.Type != corev1.ServiceTypeExternalName {
		allErrs = append(allErrs, field.Required(specPath.Child("ports"), ""))
	}
	switch s.Type {
	case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort:
		if s.ClusterIP == corev1.ClusterIPNone || len(s.ClusterIPs) > 0 && s.ClusterIPs[0] == corev1.ClusterIPNone {
			allErrs = append(allErrs, field.Invalid(specPath.Child("clusterIPs").Index(0), corev1.ClusterIPNone, fmt.Sprintf("may not be set to 'None' for %s services", s.Type)))
		}
	case corev1.ServiceTypeExternalName:
		if s.ClusterIP != "" || len(s.ClusterIPs) > 0 {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
		if len(s.IPFamilies) > 0 {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if s.IPFamilyPolicy != nil {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		if cname := strings.TrimSuffix(s.ExternalName, "."); cname != "" {
			allErrs = append(allErrs, dns1123Subdomain(cname, specPath.Child("externalName"))...)
		} else {
			allErrs = append(allErrs, field.Required(specPath.Child("externalName"), ""))
		}
	}
	portsPath := specPath.Child("ports")
	names := sets.New[string]()
	nodePorts := map[corev1.ServicePort]bool{}
	ports := map[corev1.ServicePort]bool{}
	for i, sp := range s.Ports {
		p := portsPath.Index(i)
		if len(s.Ports) > 1 && sp.Name == "" {
			allErrs = append(allErrs, field.Required(p.Child("name"), ""))
		} else if sp.Name != "" {
			allErrs = append(allErrs, dns1123Label(sp.Name, p.Child("name"))...)
			if names.Has(sp.Name) {
				allErrs = append(allErrs, field.Duplicate(p.Child("name"), sp.Name))
			}
			names.Insert(sp.Name)
		}
		allErrs = append(allErrs, invalid(p.Child("port"), sp.Port, validation.IsValidPortNum(int(sp.Port)))...)
		allErrs = append(allErrs, validateProtocol(sp.Protocol, p.Child("protocol"))...)
		allErrs = append(allErrs, validatePortNumOrName(sp.TargetPort, p.Child("targetPort"))...)
		if sp.AppProtocol != nil {
			allErrs = append(allErrs, qualifiedName(*sp.AppProtocol, p.Child("appProtocol"))...)
		}
		if sp.NodePort != 0 {
			if s.Type == corev1.ServiceTypeClusterIP {
				allErrs = append(allErrs, field.Forbidden(p.Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
			} else if sp.NodePort < nodePortMin || sp.NodePort > nodePortMax {
				allErrs = append(allErrs, field.Invalid(p.Child("nodePort"), sp.NodePort,
					fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", nodePortMin, nodePortMax)))
			}
			key := corev1.ServicePort{Protocol: sp.Protocol, NodePort: sp.NodePort}
			if nodePorts[key] {
				allErrs = append(allErrs, field.Duplicate(p.Child("nodePort"), sp.NodePort))
			}
			nodePorts[key] = true
		}
		key := corev1.ServicePort{Protocol: sp.Protocol, Port: sp.Port}
		if ports[key] {
			allErrs = append(allErrs, field.Duplicate(p, key))
		}
		ports[key] = true
	}
	if s.Selector != nil {
		allErrs = append(allErrs, metavalidation.ValidateLabels(s.Selector, specPath.Child("selector"))...)
	}
	allErrs = append(allErrs, validateEnum(specPath.Child("sessionAffinity"), s.SessionAffinity, corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone)...)
	allErrs = append(allErrs, validateSessionAffinityConfig(s, specPath.Child("sessionAffinityConfig"))...)
	allErrs = append(allErrs, validateClusterIPs(svc, specPath)...)
	for i, ip := range s.ExternalIPs {
		p := specPath.Child("externalIPs").Index(i)
		if errs := validation.IsValidIP(p, ip); len(errs) > 0 {
			allErrs = append(allErrs, errs...)
		} else {
			allErrs = append(allErrs, validateNonSpecialIP(ip, p)...)
		}
	}
	allErrs = append(allErrs, validateEnum(specPath.Child("type"), s.Type,
		corev1.ServiceTypeClusterIP, corev1.ServiceTypeExternalName, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort)...)
	isLB := s.Type == corev1.ServiceTypeLoadBalancer
	if len(s.LoadBalancerSourceRanges) > 0 {
		p := specPath.Child("LoadBalancerSourceRanges")
		if !isLB {
			allErrs = append(allErrs, field.Forbidden(p, "may only be used when `type` is 'LoadBalancer'"))
		}
		for i, r := range s.LoadBalancerSourceRanges {
			allErrs = append(allErrs, validation.IsValidCIDR(p.Index(i), strings.TrimSpace(r))...)
		}
	}
	if s.AllocateLoadBalancerNodePorts != nil && !isLB {
		allErrs = append(allErrs, field.Forbidden(specPath.Child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"))
	}
	if isLB && s.AllocateLoadBalancerNodePorts == nil {
		allErrs = append(allErrs, field.Required(field.NewPath("allocateLoadBalancerNodePorts"), ""))
	}
	if s.LoadBalancerClass != nil {
		if !isLB {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"))
		} else {
			allErrs = append(allErrs, qualifiedName(*s.LoadBalancerClass, specPath.Child("loadBalancerClass"))...)
		}
	}
	if !externallyAccessible(svc) {
		if s.ExternalTrafficPolicy != "" {
			allErrs = append(allErrs, field.Invalid(specPath.Child("externalTrafficPolicy"), s.ExternalTrafficPolicy, "may only be set for externally-accessible services"))
		}
	} else {
		allErrs = append(allErrs, validateEnum(specPath.Child("externalTrafficPolicy"), s.ExternalTrafficPolicy,
			corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal)...)
	}
	needsHealthCheck := isLB && s.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	if s.HealthCheckNodePort != 0 {
		if !needsHealthCheck {
			allErrs = append(allErrs, field.Invalid(specPath.Child("healthCheckNodePort"), s.HealthCheckNodePort,
				"may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
		} else {
			allErrs = append(allErrs, invalid(specPath.Child("healthCheckNodePort"), s.HealthCheckNodePort, validation.IsValidPortNum(int(s.HealthCheckNodePort)))...)
		}
	}
	if s.InternalTrafficPolicy == nil {
		if s.Type == corev1.ServiceTypeClusterIP || s.Type == corev1.ServiceTypeNodePort || isLB {
			allErrs = append(allErrs, field.Required(specPath.Child("internalTrafficPolicy"), ""))
		}
	} else {
		allErrs = append(allErrs, validateEnum(specPath.Child("internalTrafficPolicy"), *s.InternalTrafficPolicy,
			corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal)...)
	}
	if td := s.TrafficDistribution; td != nil {
		valid := []string{corev1.ServiceTrafficDistributionPreferClose, corev1.ServiceTrafficDistributionPreferSameZone, corev1.ServiceTrafficDistributionPreferSameNode}
		if !slices.Contains(valid, *td) {
			allErrs = append(allErrs, field.NotSupported(specPath.Child("trafficDistribution"), *td, valid))
		}
	}
	return allErrs
}

func validateSessionAffinityConfig(s *corev1.ServiceSpec, fldPath *field.Path) field.ErrorList {
	switch s.SessionAffinity {
	case corev1.ServiceAffinityClientIP:
		const when = "when session affinity type is ClientIP"
		c := s.SessionAffinityConfig
		switch {
		case c == nil:
			return field.ErrorList{field.Required(fldPath, when)}
		case c.ClientIP == nil:
			return field.ErrorList{field.Required(fldPath.Child("clientIP"), when)}
		case c.ClientIP.TimeoutSeconds == nil:
			return field.ErrorList{field.Required(fldPath.Child("clientIP", "timeoutSeconds"), when)}
		case *c.ClientIP.TimeoutSeconds <= 0 || *c.ClientIP.TimeoutSeconds > maxClientIPAffinitySeconds:
			return field.ErrorList{field.Invalid(fldPath.Child("clientIP", "timeoutSeconds"), *c.ClientIP.TimeoutSeconds,
				fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPAffinitySeconds))}
		}
	case corev1.ServiceAffinityNone:
		if s.SessionAffinityConfig != nil {
			return field.ErrorList{field.Forbidden(fldPath, "must not be set when session affinity is None")}
		}
	}
	return nil
}

// validateClusterIPs checks the form of the cluster IPs and IP families a
// client set; the API server allocates and normalizes them.
func validateClusterIPs(svc *corev1.Service, specPath *field.Path) field.ErrorList {
	s := &svc.Spec
	var allErrs field.ErrorList
	if s.ClusterIP != "" && s.ClusterIP != corev1.ClusterIPNone {
		allErrs = append(allErrs, validation.IsValidIP(specPath.Child("clusterIP"), s.ClusterIP)...)
	}
	for i, ip := range s.ClusterIPs {
		p := specPath.Child("clusterIPs").Index(i)
		if ip == corev1.ClusterIPNone {
			if i > 0 || len(s.ClusterIPs) > 1 {
				allErrs = append(allErrs, field.Invalid(specPath.Child("clusterIPs"), s.ClusterIPs, "'None' must be the first and only value"))
			}
			continue
		}
		allErrs = append(allErrs, validation.IsValidIP(p, ip)...)
	}
	if len(s.ClusterIPs) > 0 && s.ClusterIP != "" && s.ClusterIP != s.ClusterIPs[0] {
		allErrs = append(allErrs, field.Invalid(specPath.Child("clusterIPs"), s.ClusterIPs, "first value must match `clusterIP`"))
	}
	if len(s.ClusterIPs) > 2 {
		allErrs = append(allErrs, field.Invalid(specPath.Child("clusterIPs"), s.ClusterIPs, "may only hold up to 2 values"))
	}
	for i, f := range s.IPFamilies {
		allErrs = append(allErrs, validateEnum(specPath.Child("ipFamilies").Index(i), f, corev1.IPv4Protocol, corev1.IPv6Protocol)...)
		if slices.Contains(s.IPFamilies[:i], f) {
			allErrs = append(allErrs, field.Duplicate(specPath.Child("ipFamilies").Index(i), f))
		}
	}
	if p := s.IPFamilyPolicy; p != nil {
		allErrs = append(allErrs, validateEnum(specPath.Child("ipFamilyPolicy"), *p,
			corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack, corev1.IPFamilyPolicySingleStack)...)
	}
	return allErrs
}

// validateNonSpecialIP rejects unspecified, loopback and link-local
// addresses where a routable endpoint is required.
func validateNonSpecialIP(ip string, fldPath *field.Path) field.ErrorList {
	parsed := net.ParseIP(ip)
	if parsed == nil {
		return field.ErrorList{field.Invalid(fldPath, ip, "must be a valid IP address")}
	}
	var allErrs field.ErrorList
	if parsed.IsUnspecified() {
		allErrs = append(allErrs, field.Invalid(fldPath, ip, fmt.Sprintf("may not be unspecified (%v)", ip)))
	}
	if parsed.IsLoopback() {
		allErrs = append(allErrs, field.Invalid(fldPath, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
	}
	if parsed.IsLinkLocalUnicast() {
		allErrs = append(allErrs, field.Invalid(fldPath, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
	}
	if parsed.IsLinkLocalMulticast() {
		allErrs = append(allErrs, field.Invalid(fldPath, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
	}
	return allErrs
}

// validateServiceUpdate keeps the primary cluster IP, a load balancer
// class and the health check node port once set.
func validateServiceUpdate(svc, old *corev1.Service) field.ErrorList {
	var allErrs field.ErrorList
	s, o := &svc.Spec, &old.Spec
	if s.Type != corev1.ServiceTypeExternalName && o.Type != corev1.ServiceTypeExternalName {
		newIP, oldIP := primaryClusterIP(s), primaryClusterIP(o)
		if newIP != "" && oldIP != "" && newIP != oldIP {
			allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "clusterIPs").Index(0), newIP, "may not change once set"))
		}
	}
	if o.Type == corev1.ServiceTypeLoadBalancer && s.Type == corev1.ServiceTypeLoadBalancer &&
		o.LoadBalancerClass != nil && !reflect.DeepEqual(o.LoadBalancerClass, s.LoadBalancerClass) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "loadBalancerClass"), s.LoadBalancerClass, "may not change once set"))
	}
	needs := func(s *corev1.ServiceSpec) bool {
		return s.Type == corev1.ServiceTypeLoadBalancer && s.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	}
	if needs(o) && needs(s) && s.HealthCheckNodePort != 0 && s.HealthCheckNodePort != o.HealthCheckNodePort {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "healthCheckNodePort"), "field is immutable"))
	}
	return allErrs
}

func primaryClusterIP(s *corev1.ServiceSpec) string {
	if len(s.ClusterIPs) > 0 {
		return s.ClusterIPs[0]
	}
	return s.ClusterIP
}

func validateConfigMap(cm *corev1.ConfigMap) field.ErrorList {
	var allErrs field.ErrorList
	size := 0
	for _, k := range slices.Sorted(maps.Keys(cm.Data)) {
		p := field.NewPath("data").Key(k)
		allErrs = append(allErrs, invalid(p, k, validation.IsConfigMapKey(k))...)
		if _, dup := cm.BinaryData[k]; dup {
			allErrs = append(allErrs, field.Invalid(p, k, "duplicate of key present in binaryData"))
		}
		size += len(cm.Data[k])
	}
	for _, k := range slices.Sorted(maps.Keys(cm.BinaryData)) {
		allErrs = append(allErrs, invalid(field.NewPath("binaryData").Key(k), k, validation.IsConfigMapKey(k))...)
		size += len(cm.BinaryData[k])
	}
	if size > maxDataSize {
		allErrs = append(allErrs, field.TooLong(field.NewPath(""), "", maxDataSize))
	}
	return allErrs
}

func validateConfigMapUpdate(cm, old *corev1.ConfigMap) field.ErrorList {
	if old.Immutable == nil || !*old.Immutable {
		return nil
	}
	const msg = "field is immutable when `immutable` is set"
	var allErrs field.ErrorList
	if cm.Immutable == nil || !*cm.Immutable {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("immutable"), msg))
	}
	if !reflect.DeepEqual(cm.Data, old.Data) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("data"), msg))
	}
	if !reflect.DeepEqual(cm.BinaryData, old.BinaryData) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("binaryData"), msg))
	}
	return allErrs
}

// validateSecret checks keys, the total size and the keys each typed
// secret must carry.
func validateSecret(s *corev1.Secret) field.ErrorList {
	var allErrs field.ErrorList
	dataPath := field.NewPath("data")
	size := 0
	for _, k := range slices.Sorted(maps.Keys(s.Data)) {
		allErrs = append(allErrs, invalid(dataPath.Key(k), k, validation.IsConfigMapKey(k))...)
		size += len(s.Data[k])
	}
	if size > maxDataSize {
		allErrs = append(allErrs, field.TooLong(dataPath, "", maxDataSize))
	}
	require := func(keys ...string) {
		for _, k := range keys {
			if _, ok := s.Data[k]; !ok {
				allErrs = append(allErrs, field.Required(dataPath.Key(k), ""))
			}
		}
	}
	requireJSON := func(key string) {
		b, ok := s.Data[key]
		if !ok {
			require(key)
			return
		}
		if err := json.Unmarshal(b, &map[string]any{}); err != nil {
			allErrs = append(allErrs, field.Invalid(dataPath.Key(key), "<secret contents redacted>", err.Error()))
		}
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			allErrs = append(allErrs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg:
		requireJSON(corev1.DockerConfigKey)
	case corev1.SecretTypeDockerConfigJson:
		requireJSON(corev1.DockerConfigJsonKey)
	case corev1.SecretTypeBasicAuth:
		_, user := s.Data[corev1.BasicAuthUsernameKey]
		_, pass := s.Data[corev1.BasicAuthPasswordKey]
		if !user && !pass {
			require(corev1.BasicAuthUsernameKey, corev1.BasicAuthPasswordKey)
		}
	case corev1.SecretTypeSSHAuth:
		if len(s.Data[corev1.SSHAuthPrivateKey]) == 0 {
			allErrs = append(allErrs, field.Required(dataPath.Key(corev1.SSHAuthPrivateKey), ""))
		}
	case corev1.SecretTypeTLS:
		require(corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	return allErrs
}

func validateSecretUpdate(s, old *corev1.Secret) field.ErrorList {
	allErrs := immutable(s.Type, old.Type, field.NewPath("type"))
	if old.Immutable != nil && *old.Immutable {
		const msg = "field is immutable when `immutable` is set"
		if s.Immutable == nil || !*s.Immutable {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("immutable"), msg))
		}
		if !reflect.DeepEqual(s.Data, old.Data) {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("data"), msg))
		}
	}
	return allErrs
}

// validateNamespace checks the spec finalizers: qualified names, or the
// standard "kubernetes".
func validateNamespace(ns *corev1.Namespace) field.ErrorList {
	var allErrs field.ErrorList
	for _, f := range ns.Spec.Finalizers {
		allErrs = append(allErrs, validateFinalizerName(string(f), field.NewPath("spec", "finalizers"))...)
	}
	return allErrs
}

func validateFinalizerName(name string, fldPath *field.Path) field.ErrorList {
	allErrs := apivalidation.ValidateFinalizerName(name, fldPath)
	if !strings.Contains(name, "/") && name != string(corev1.FinalizerKubernetes) {
		allErrs = append(allErrs, field.Invalid(fldPath, name, "name is neither a standard finalizer name nor is it fully qualified"))
	}
	return allErrs
}

func validateNode(n *corev1.Node) field.ErrorList {
	allErrs := validateNodeTaints(n.Spec.Taints, field.NewPath("metadata", "taints"))
	for _, list := range []struct {
		name string
		rl   corev1.ResourceList
	}{{"capacity", n.Status.Capacity}, {"allocatable", n.Status.Allocatable}} {
		for _, k := range sortedKeys(list.rl) {
			allErrs = append(allErrs, validateResourceQuantity(k, list.rl[k], field.NewPath("status", list.name, string(k)))...)
		}
	}
	cidrsPath := field.NewPath("spec", "podCIDRs")
	for i, c := range n.Spec.PodCIDRs {
		allErrs = append(allErrs, validation.IsValidCIDR(cidrsPath.Index(i), c)...)
		if slices.Contains(n.Spec.PodCIDRs[:i], c) {
			allErrs = append(allErrs, field.Duplicate(cidrsPath.Index(i), c))
		}
	}
	if len(n.Spec.PodCIDRs) > 1 && !dualStackCIDRs(n.Spec.PodCIDRs) {
		allErrs = append(allErrs, field.Invalid(cidrsPath, n.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
	}
	return allErrs
}

// dualStackCIDRs reports exactly one IPv4 and one IPv6 CIDR.
func dualStackCIDRs(cidrs []string) bool {
	if len(cidrs) != 2 {
		return false
	}
	v4 := 0
	for _, c := range cidrs {
		ip, _, err := net.ParseCIDR(c)
		if err != nil {
			return false
		}
		if ip.To4() != nil {
			v4++
		}
	}
	return v4 == 1
}

func validateNodeTaints(taints []corev1.Taint, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := map[corev1.TaintEffect]sets.Set[string]{}
	for i, t := range taints {
		p := fldPath.Index(i)
		allErrs = append(allErrs, metavalidation.ValidateLabelName(t.Key, p.Child("key"))...)
		if errs := validation.IsValidLabelValue(t.Value); len(errs) != 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("value"), t.Value, strings.Join(errs, ";")))
		}
		allErrs = append(allErrs, validateTaintEffect(t.Effect, p.Child("effect"))...)
		if seen[t.Effect].Has(t.Key) {
			dup := field.Duplicate(p, t)
			dup.Detail = "taints must be unique by key and effect pair"
			allErrs = append(allErrs, dup)
			continue
		}
		if seen[t.Effect] == nil {
			seen[t.Effect] = sets.New[string]()
		}
		seen[t.Effect].Insert(t.Key)
	}
	return allErrs
}

// validateNodeUpdate keeps pod CIDRs and the provider ID once set.
func validateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	var allErrs field.ErrorList
	if len(old.Spec.PodCIDRs) > 0 && !slices.Equal(old.Spec.PodCIDRs, n.Spec.PodCIDRs) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if old.Spec.ProviderID != "" && old.Spec.ProviderID != n.Spec.ProviderID {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	seen := map[corev1.NodeAddress]bool{}
	for i, a := range n.Status.Addresses {
		if seen[a] {
			allErrs = append(allErrs, field.Duplicate(field.NewPath("status", "addresses").Index(i), a))
		}
		seen[a] = true
	}
	return allErrs
}

var supportedAccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOncePod}

func validateAccessModes(modes []corev1.PersistentVolumeAccessMode, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	rwop, other := false, false
	for _, m := range modes {
		if !slices.Contains(supportedAccessModes, m) {
			allErrs = append(allErrs, field.NotSupported(fldPath, m, supportedAccessModes))
		} else if m == corev1.ReadWriteOncePod {
			rwop = true
		} else {
			other = true
		}
	}
	if rwop && other {
		allErrs = append(allErrs, field.Forbidden(fldPath, "may not use ReadWriteOncePod with other access modes"))
	}
	return allErrs
}

var volumeModes = []corev1.PersistentVolumeMode{corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem}

func validatePersistentVolume(pv *corev1.PersistentVolume) field.ErrorList {
	specPath := field.NewPath("spec")
	s := &pv.Spec
	var allErrs field.ErrorList
	if len(s.AccessModes) == 0 {
		allErrs = append(allErrs, field.Required(specPath.Child("accessModes"), ""))
	}
	allErrs = append(allErrs, validateAccessModes(s.AccessModes, specPath.Child("accessModes"))...)
	capPath := specPath.Child("capacity")
	if len(s.Capacity) == 0 {
		allErrs = append(allErrs, field.Required(capPath, ""))
	}
	if _, ok := s.Capacity[corev1.ResourceStorage]; !ok || len(s.Capacity) > 1 {
		allErrs = append(allErrs, field.NotSupported(capPath, s.Capacity, []corev1.ResourceName{corev1.ResourceStorage}))
	}
	for _, k := range sortedKeys(s.Capacity) {
		if q := s.Capacity[k]; q.Sign() <= 0 {
			allErrs = append(allErrs, field.Invalid(capPath.Key(string(k)), q.String(), "must be greater than zero"))
		}
	}
	if s.PersistentVolumeReclaimPolicy != "" {
		allErrs = append(allErrs, validateEnum(specPath.Child("persistentVolumeReclaimPolicy"), s.PersistentVolumeReclaimPolicy,
			corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimRetain)...)
	}
	affinity := false
	if na := s.NodeAffinity; na != nil && na.Required != nil {
		affinity = true
		allErrs = append(allErrs, validateNodeSelector(na.Required, specPath.Child("nodeAffinity", "required"))...)
	}
	n := 0
	v := reflect.ValueOf(s.PersistentVolumeSource)
	for i := range v.NumField() {
		if v.Field(i).IsNil() {
			continue
		}
		name := jsonName(v.Type().Field(i))
		if n++; n > 1 {
			allErrs = append(allErrs, field.Forbidden(specPath.Child(name), "may not specify more than 1 volume type"))
		}
	}
	switch {
	case n == 0:
		allErrs = append(allErrs, field.Required(specPath, "must specify a volume type"))
	case s.HostPath != nil:
		allErrs = append(allErrs, validateHostPath(s.HostPath, specPath.Child("hostPath"))...)
		if path.Clean(s.HostPath.Path) == "/" && s.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimRecycle {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("persistentVolumeReclaimPolicy"), "may not be 'recycle' for a hostPath mount of '/'"))
		}
	case s.Local != nil:
		if s.Local.Path == "" {
			allErrs = append(allErrs, field.Required(specPath.Child("local", "path"), ""))
		}
		if !affinity {
			allErrs = append(allErrs, field.Required(specPath.Child("nodeAffinity"), "Local volume requires node affinity"))
		}
	case s.NFS != nil:
		allErrs = append(allErrs, validateNFS(s.NFS, specPath.Child("nfs"))...)
	case s.CSI != nil:
		if s.CSI.Driver == "" {
			allErrs = append(allErrs, field.Required(specPath.Child("csi", "driver"), ""))
		}
		if s.CSI.VolumeHandle == "" {
			allErrs = append(allErrs, field.Required(specPath.Child("csi", "volumeHandle"), ""))
		}
	}
	if s.StorageClassName != "" {
		allErrs = append(allErrs, nameErrors(s.StorageClassName, specPath.Child("storageClassName"), apivalidation.NameIsDNSSubdomain)...)
	}
	if s.VolumeMode != nil && !slices.Contains(volumeModes, *s.VolumeMode) {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("volumeMode"), *s.VolumeMode, volumeModes))
	}
	return allErrs
}

func validatePersistentVolumeUpdate(pv, old *corev1.PersistentVolume) field.ErrorList {
	var allErrs field.ErrorList
	newSrc, oldSrc := pv.Spec.PersistentVolumeSource, old.Spec.PersistentVolumeSource
	if oldSrc.CSI != nil && oldSrc.CSI.ControllerExpandSecretRef == nil && newSrc.CSI != nil && newSrc.CSI.ControllerExpandSecretRef != nil {
		newSrc = *newSrc.DeepCopy()
		newSrc.CSI.ControllerExpandSecretRef = nil
	}
	if !apiequality.Semantic.DeepEqual(newSrc, oldSrc) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "persistentvolumesource"),
			"spec.persistentvolumesource is immutable after creation\n"+cmp.Diff(oldSrc, newSrc)))
	}
	allErrs = append(allErrs, immutable(pv.Spec.VolumeMode, old.Spec.VolumeMode, field.NewPath("volumeMode"))...)
	if old.Spec.NodeAffinity != nil {
		allErrs = append(allErrs, immutable(pv.Spec.NodeAffinity, old.Spec.NodeAffinity, field.NewPath("nodeAffinity"))...)
	}
	return allErrs
}

func validatePersistentVolumeClaim(pvc *corev1.PersistentVolumeClaim) field.ErrorList {
	return validatePVCSpec(&pvc.Spec, field.NewPath("spec"))
}

func validatePVCSpec(s *corev1.PersistentVolumeClaimSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(s.AccessModes) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("accessModes"), "at least 1 access mode is required"))
	}
	if s.Selector != nil {
		allErrs = append(allErrs, metavalidation.ValidateLabelSelector(s.Selector, metavalidation.LabelSelectorValidationOptions{}, fldPath.Child("selector"))...)
	}
	allErrs = append(allErrs, validateAccessModes(s.AccessModes, fldPath.Child("accessModes"))...)
	storagePath := fldPath.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := s.Resources.Requests[corev1.ResourceStorage]; !ok {
		allErrs = append(allErrs, field.Required(storagePath, ""))
	} else if q.Sign() <= 0 {
		allErrs = append(allErrs, field.Invalid(storagePath, q.String(), "must be greater than zero"))
	}
	if s.StorageClassName != nil && *s.StorageClassName != "" {
		allErrs = append(allErrs, nameErrors(*s.StorageClassName, fldPath.Child("storageClassName"), apivalidation.NameIsDNSSubdomain)...)
	}
	if s.VolumeMode != nil && !slices.Contains(volumeModes, *s.VolumeMode) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("volumeMode"), *s.VolumeMode, volumeModes))
	}
	if s.DataSource != nil {
		if s.DataSource.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("dataSource", "name"), ""))
		}
		if s.DataSource.Kind == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("dataSource", "kind"), ""))
		}
	}
	return allErrs
}

// validatePersistentVolumeClaimUpdate keeps the spec except for binding
// (volumeName once, a storage class from unset) and, on bound claims, the
// storage request and volume attributes class; the request may shrink back
// only to above the recorded capacity.
func validatePersistentVolumeClaimUpdate(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	var allErrs field.ErrorList
	newSpec, oldSpec := pvc.Spec.DeepCopy(), old.Spec.DeepCopy()
	if old.Spec.VolumeName == "" {
		oldSpec.VolumeName = newSpec.VolumeName
	}
	if old.Spec.StorageClassName == nil && newSpec.StorageClassName != nil {
		if ann, ok := old.Annotations[corev1.BetaStorageClassAnnotation]; !ok || ann == *newSpec.StorageClassName {
			newSpec.StorageClassName = nil
		}
	}
	if pvc.Status.Phase == corev1.ClaimBound {
		if newSpec.Resources.Requests != nil {
			newSpec.Resources.Requests[corev1.ResourceStorage] = old.Spec.Resources.Requests[corev1.ResourceStorage]
		}
		newSpec.VolumeAttributesClassName = oldSpec.VolumeAttributesClassName
	}
	if !apiequality.Semantic.DeepEqual(newSpec, oldSpec) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec"),
			"spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n"+cmp.Diff(oldSpec, newSpec)))
	}
	newSize, oldSize := pvc.Spec.Resources.Requests[corev1.ResourceStorage], old.Spec.Resources.Requests[corev1.ResourceStorage]
	if capacity := old.Status.Capacity[corev1.ResourceStorage]; newSize.Cmp(oldSize) < 0 && newSize.Cmp(capacity) <= 0 {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "resources", "requests", "storage"), "field can not be less than status.capacity"))
	}
	return append(allErrs, immutable(pvc.Spec.VolumeMode, old.Spec.VolumeMode, field.NewPath("volumeMode"))...)
}

func validateEndpoints(e *corev1.Endpoints) field.ErrorList {
	var allErrs field.ErrorList
	for i, ss := range e.Subsets {
		p := field.NewPath("subsets").Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			allErrs = append(allErrs, field.Required(p, "must specify `addresses` or `notReadyAddresses`"))
		}
		for _, list := range []struct {
			name  string
			addrs []corev1.EndpointAddress
		}{{"addresses", ss.Addresses}, {"notReadyAddresses", ss.NotReadyAddresses}} {
			for j, a := range list.addrs {
				ap := p.Child(list.name).Index(j)
				allErrs = append(allErrs, validation.IsValidIP(ap.Child("ip"), a.IP)...)
				if a.Hostname != "" {
					allErrs = append(allErrs, dns1123Label(a.Hostname, ap.Child("hostname"))...)
				}
				if a.NodeName != nil {
					allErrs = append(allErrs, nameErrors(*a.NodeName, ap.Child("nodeName"), apivalidation.NameIsDNSSubdomain)...)
				}
				allErrs = append(allErrs, validateNonSpecialIP(a.IP, ap.Child("ip"))...)
			}
		}
		for j, port := range ss.Ports {
			pp := p.Child("ports").Index(j)
			if len(ss.Ports) > 1 && port.Name == "" {
				allErrs = append(allErrs, field.Required(pp.Child("name"), ""))
			} else if port.Name != "" {
				allErrs = append(allErrs, dns1123Label(port.Name, pp.Child("name"))...)
			}
			allErrs = append(allErrs, invalid(pp.Child("port"), port.Port, validation.IsValidPortNum(int(port.Port)))...)
			allErrs = append(allErrs, validateProtocol(port.Protocol, pp.Child("protocol"))...)
			if port.AppProtocol != nil {
				allErrs = append(allErrs, qualifiedName(*port.AppProtocol, pp.Child("appProtocol"))...)
			}
		}
	}
	return allErrs
}

// validateSelectorMatchesTemplate reports a non-empty selector that does
// not select the template's labels, with upstream's message.
func validateSelectorMatchesTemplate(selector labels.Selector, template map[string]string, fldPath *field.Path) field.ErrorList {
	if !selector.Empty() && !selector.Matches(labels.Set(template)) {
		return field.ErrorList{field.Invalid(fldPath, template, "`selector` does not match template `labels`")}
	}
	return nil
}

func validateReplicationController(rc *corev1.ReplicationController) field.ErrorList {
	specPath := field.NewPath("spec")
	s := &rc.Spec
	allErrs := nonNegative(int64(s.MinReadySeconds), specPath.Child("minReadySeconds"))
	selector := labels.Set(s.Selector).AsSelector()
	if selector.Empty() {
		allErrs = append(allErrs, field.Required(specPath.Child("selector"), ""))
	}
	if s.Replicas != nil {
		allErrs = append(allErrs, nonNegative(int64(*s.Replicas), specPath.Child("replicas"))...)
	}
	tp := specPath.Child("template")
	if s.Template == nil {
		return append(allErrs, field.Required(tp, ""))
	}
	allErrs = append(allErrs, validateSelectorMatchesTemplate(selector, s.Template.Labels, tp.Child("metadata", "labels"))...)
	allErrs = append(allErrs, validatePodTemplateSpec(s.Template, tp, podOptions{})...)
	if s.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		allErrs = append(allErrs, field.NotSupported(tp.Child("spec", "restartPolicy"), s.Template.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if s.Template.Spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, field.Forbidden(tp.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in ReplicationController is not Supported"))
	}
	return allErrs
}

// Standard resource names, as upstream's helper lists them.
var (
	standardResourceNames = []string{
		"cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
		"limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "resourcequotas", "services",
		"replicationcontrollers", "secrets", "persistentvolumeclaims", "storage", "requests.storage",
		"services.nodeports", "services.loadbalancers", "configmaps",
	}
	quotaResourceNames = []string{
		"pods", "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.storage",
		"requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage", "services",
		"replicationcontrollers", "resourcequotas", "secrets", "configmaps", "persistentvolumeclaims",
		"services.nodeports", "services.loadbalancers",
	}
)

func isHugePages(name string) bool {
	return strings.HasPrefix(name, hugePagesPrefix) || strings.HasPrefix(name, "requests."+hugePagesPrefix)
}

// validateResourceName requires a qualified name, standard when it has no domain.
func validateResourceName(name corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	if errs := invalid(fldPath, name, validation.IsQualifiedName(string(name))); len(errs) > 0 {
		return errs
	}
	if !strings.Contains(string(name), "/") && !slices.Contains(standardResourceNames, string(name)) && !isHugePages(string(name)) {
		return field.ErrorList{field.Invalid(fldPath, name, "must be a standard resource type or fully qualified")}
	}
	return nil
}

var quotaScopes = []corev1.ResourceQuotaScope{
	corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeCrossNamespacePodAffinity, corev1.ResourceQuotaScopeNotBestEffort,
	corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopePriorityClass, corev1.ResourceQuotaScopeTerminating,
	corev1.ResourceQuotaScopeVolumeAttributesClass,
}

func validateResourceQuota(q *corev1.ResourceQuota) field.ErrorList {
	var allErrs field.ErrorList
	for _, list := range []struct {
		path *field.Path
		rl   corev1.ResourceList
	}{{field.NewPath("spec", "hard"), q.Spec.Hard}, {field.NewPath("status", "hard"), q.Status.Hard}, {field.NewPath("status", "used"), q.Status.Used}} {
		for _, k := range sortedKeys(list.rl) {
			p := list.path.Key(string(k))
			allErrs = append(allErrs, validateResourceName(k, p)...)
			if !strings.Contains(string(k), "/") && !slices.Contains(quotaResourceNames, string(k)) && !isHugePages(string(k)) {
				allErrs = append(allErrs, field.Invalid(p, k, "must be a standard resource for quota"))
			}
			allErrs = append(allErrs, validateResourceQuantity(k, list.rl[k], p)...)
		}
	}
	scopesPath := field.NewPath("spec", "scopes")
	for _, s := range q.Spec.Scopes {
		if !slices.Contains(quotaScopes, s) {
			allErrs = append(allErrs, field.Invalid(scopesPath, q.Spec.Scopes, "unsupported scope"))
		}
	}
	for _, pair := range [][2]corev1.ResourceQuotaScope{
		{corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort},
		{corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating},
	} {
		if slices.Contains(q.Spec.Scopes, pair[0]) && slices.Contains(q.Spec.Scopes, pair[1]) {
			allErrs = append(allErrs, field.Invalid(scopesPath, q.Spec.Scopes, "conflicting scopes"))
		}
	}
	if sel := q.Spec.ScopeSelector; sel != nil {
		p := field.NewPath("spec", "scopeSelector", "matchExpressions")
		for _, r := range sel.MatchExpressions {
			if !slices.Contains(quotaScopes, r.ScopeName) {
				allErrs = append(allErrs, field.Invalid(p.Child("scopeName"), r.ScopeName, "unsupported scope"))
			}
			switch r.Operator {
			case corev1.ScopeSelectorOpIn, corev1.ScopeSelectorOpNotIn:
				if len(r.Values) == 0 {
					allErrs = append(allErrs, field.Required(p.Child("values"), "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"))
				}
			case corev1.ScopeSelectorOpExists, corev1.ScopeSelectorOpDoesNotExist:
				if len(r.Values) != 0 {
					allErrs = append(allErrs, field.Invalid(p.Child("values"), r.Values, "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"))
				}
			default:
				allErrs = append(allErrs, field.Invalid(p.Child("operator"), r.Operator, "not a valid selector operator"))
			}
		}
	}
	return allErrs
}

func validateResourceQuotaUpdate(q, old *corev1.ResourceQuota) field.ErrorList {
	if !sets.New(q.Spec.Scopes...).Equal(sets.New(old.Spec.Scopes...)) {
		return field.ErrorList{field.Invalid(field.NewPath("spec", "scopes"), q.Spec.Scopes, apivalidation.FieldImmutableErrorMsg)}
	}
	return nil
}

var limitTypes = []corev1.LimitType{corev1.LimitTypePod, corev1.LimitTypeContainer, corev1.LimitTypePersistentVolumeClaim}

// validateLimitRange checks each item's type and resource names and that
// min <= default request <= default <= max, as upstream does.
func validateLimitRange(lr *corev1.LimitRange) field.ErrorList {
	var allErrs field.ErrorList
	types := map[corev1.LimitType]bool{}
	for i := range lr.Spec.Limits {
		it := &lr.Spec.Limits[i]
		p := field.NewPath("spec", "limits").Index(i)
		if errs := invalid(p.Child("type"), it.Type, validation.IsQualifiedName(string(it.Type))); len(errs) > 0 {
			allErrs = append(allErrs, errs...)
		} else if !strings.Contains(string(it.Type), "/") && !slices.Contains(limitTypes, it.Type) {
			allErrs = append(allErrs, field.Invalid(p.Child("type"), it.Type, "must be a standard limit type or fully qualified"))
		}
		if types[it.Type] {
			allErrs = append(allErrs, field.Duplicate(p.Child("type"), it.Type))
		}
		types[it.Type] = true
		lists := []struct {
			name string
			rl   corev1.ResourceList
		}{{"max", it.Max}, {"min", it.Min}, {"default", it.Default}, {"defaultRequest", it.DefaultRequest}, {"maxLimitRequestRatio", it.MaxLimitRequestRatio}}
		for _, l := range lists {
			for _, k := range sortedKeys(l.rl) {
				if it.Type == corev1.LimitTypePod || it.Type == corev1.LimitTypeContainer {
					allErrs = append(allErrs, validateContainerResourceName(k, p.Child(l.name).Key(string(k)))...)
				} else {
					allErrs = append(allErrs, validateResourceName(k, p.Child(l.name).Key(string(k)))...)
				}
			}
		}
		if it.Type == corev1.LimitTypePod {
			if len(it.Default) > 0 {
				allErrs = append(allErrs, field.Forbidden(p.Child("default"), "may not be specified when `type` is 'Pod'"))
			}
			if len(it.DefaultRequest) > 0 {
				allErrs = append(allErrs, field.Forbidden(p.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
			}
		}
		if it.Type == corev1.LimitTypePersistentVolumeClaim {
			_, hasMin := it.Min[corev1.ResourceStorage]
			_, hasMax := it.Max[corev1.ResourceStorage]
			if !hasMin && !hasMax {
				allErrs = append(allErrs, field.Required(p.Child("limits"), "either minimum or maximum storage value is required, but neither was provided"))
			}
		}
		allErrs = append(allErrs, validateLimitOrder(it, p)...)
	}
	return allErrs
}

func validateLimitOrder(it *corev1.LimitRangeItem, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	defaults, defaultRequests := it.Default, it.DefaultRequest
	if it.Type == corev1.LimitTypePod {
		defaults, defaultRequests = nil, nil
	}
	keys := sets.New[corev1.ResourceName]()
	for _, rl := range []corev1.ResourceList{it.Max, it.Min, defaults, defaultRequests, it.MaxLimitRequestRatio} {
		for k := range rl {
			keys.Insert(k)
		}
	}
	for _, k := range sets.List(keys) {
		ks := string(k)
		minQ, hasMin := it.Min[k]
		maxQ, hasMax := it.Max[k]
		def, hasDef := defaults[k]
		defReq, hasDefReq := defaultRequests[k]
		ratio, hasRatio := it.MaxLimitRequestRatio[k]
		if hasMin && hasMax && minQ.Cmp(maxQ) > 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("min").Key(ks), minQ, fmt.Sprintf("min value %s is greater than max value %s", minQ.String(), maxQ.String())))
		}
		if hasDefReq && hasMin && minQ.Cmp(defReq) > 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("defaultRequest").Key(ks), defReq, fmt.Sprintf("min value %s is greater than default request value %s", minQ.String(), defReq.String())))
		}
		if hasDefReq && hasMax && defReq.Cmp(maxQ) > 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("defaultRequest").Key(ks), defReq, fmt.Sprintf("default request value %s is greater than max value %s", defReq.String(), maxQ.String())))
		}
		if hasDefReq && hasDef && defReq.Cmp(def) > 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("defaultRequest").Key(ks), defReq, fmt.Sprintf("default request value %s is greater than default limit value %s", defReq.String(), def.String())))
		}
		if hasDef && hasMin && minQ.Cmp(def) > 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("default").Key(ks), minQ, fmt.Sprintf("min value %s is greater than default value %s", minQ.String(), def.String())))
		}
		if hasDef && hasMax && def.Cmp(maxQ) > 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("default").Key(ks), maxQ, fmt.Sprintf("default value %s is greater than max value %s", def.String(), maxQ.String())))
		}
		if hasRatio && ratio.Cmp(*resource.NewQuantity(1, resource.DecimalSI)) < 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("maxLimitRequestRatio").Key(ks), ratio, fmt.Sprintf("ratio %s is less than 1", ratio.String())))
		}
		if hasRatio && hasMin && hasMax && minQ.Sign() > 0 {
			limit := float64(maxQ.MilliValue()) / float64(minQ.MilliValue())
			if float64(ratio.MilliValue())/1000 > limit {
				allErrs = append(allErrs, field.Invalid(p.Child("maxLimitRequestRatio").Key(ks), ratio, fmt.Sprintf("ratio %s is greater than max/min = %f", ratio.String(), limit)))
			}
		}
		if !isOvercommitAllowed(k) && hasDef && hasDefReq && def.Cmp(defReq) != 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("defaultRequest").Key(ks), defReq,
				fmt.Sprintf("default value %s must equal to defaultRequest value %s in %s", def.String(), defReq.String(), k)))
		}
	}
	return allErrs
}
