package env

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// IPs are the addresses the downward API exposes as status.podIP(s) and
// status.hostIP(s). The worker knows the pod's IPs before the API server
// does, so they are passed in; empty fields fall back to the pod's status.
type IPs struct {
	Pod  []string
	Host []string
}

func (ips IPs) pod(pod *corev1.Pod) []string {
	if len(ips.Pod) > 0 {
		return ips.Pod
	}
	out := make([]string, 0, len(pod.Status.PodIPs))
	for _, ip := range pod.Status.PodIPs {
		out = append(out, ip.IP)
	}
	if len(out) == 0 && pod.Status.PodIP != "" {
		out = append(out, pod.Status.PodIP)
	}
	return out
}

func (ips IPs) host(pod *corev1.Pod) []string {
	if len(ips.Host) > 0 {
		return ips.Host
	}
	out := make([]string, 0, len(pod.Status.HostIPs))
	for _, ip := range pod.Status.HostIPs {
		out = append(out, ip.IP)
	}
	if len(out) == 0 && pod.Status.HostIP != "" {
		out = append(out, pod.Status.HostIP)
	}
	return out
}

// MetadataValue returns the value of a metadata field path, the subset of
// the downward API that downwardAPI volumes support: metadata.name,
// metadata.namespace, metadata.uid, metadata.labels, metadata.annotations
// (as sorted key="value" lines) and metadata.labels['k'] /
// metadata.annotations['k'].
func MetadataValue(pod *corev1.Pod, path string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	}
	for prefix, m := range map[string]map[string]string{
		"metadata.labels":      pod.Labels,
		"metadata.annotations": pod.Annotations,
	} {
		if key, ok := subscript(path, prefix); ok {
			return m[key], nil
		}
	}
	return "", fmt.Errorf("unsupported fieldPath: %v", path)
}

// FieldValue returns the value of an env fieldRef path: the metadata
// fields of MetadataValue plus spec.nodeName, spec.serviceAccountName,
// status.hostIP(s) and status.podIP(s) (plural forms comma-separated).
func FieldValue(pod *corev1.Pod, path string, ips IPs) (string, error) {
	switch path {
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return first(ips.host(pod)), nil
	case "status.hostIPs":
		return strings.Join(ips.host(pod), ","), nil
	case "status.podIP":
		return first(ips.pod(pod)), nil
	case "status.podIPs":
		return strings.Join(ips.pod(pod), ","), nil
	}
	return MetadataValue(pod, path)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// subscript parses prefix['key'].
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

// ResourceValue returns the value of a resourceFieldRef for container c:
// limits.* and requests.* of cpu, memory and ephemeral-storage, divided by
// the divisor (1 when zero) and rounded up. A limit the container does not
// set is the node's allocatable, as the kubelet reports it.
func ResourceValue(c *corev1.Container, ref *corev1.ResourceFieldSelector, allocatable corev1.ResourceList) (string, error) {
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("unsupported container resource : %v", ref.Resource)
	}
	rn := corev1.ResourceName(name)
	var q resource.Quantity
	if kind == "limits" {
		q = c.Resources.Limits[rn]
		if q.IsZero() {
			q = allocatable[rn]
		}
	} else {
		q = c.Resources.Requests[rn]
	}
	switch rn {
	case corev1.ResourceCPU:
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), nil
	case corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
		return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10), nil
	}
	return "", fmt.Errorf("unsupported container resource : %v", ref.Resource)
}
