// Package quota says what objects count against a ResourceQuota, as
// upstream's quota evaluators do: object counts (the legacy names such as
// "pods" and "count/<resource>.<group>" for any resource), the compute
// resources of pods that have not ended, services' node ports and load
// balancers, claims' storage (also per StorageClass), and which objects a
// quota's scopes select. Both the ResourceQuota controller, which recounts
// status.used, and the ResourceQuota admission plugin, which charges new
// objects, use it; it does no I/O.
package quota

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/sets"
)

// StorageClassSuffix joins a StorageClass name and a claim resource in
// per-class quota names: "<class>.storageclass.storage.k8s.io/requests.storage".
const StorageClassSuffix = ".storageclass.storage.k8s.io/"

// storageClassAnnotation is the beta annotation that, when set, names a
// claim's class instead of spec.storageClassName.
const storageClassAnnotation = "volume.beta.kubernetes.io/storage-class"

// The resources with evaluators beyond an object count.
var (
	Pods     = schema.GroupResource{Resource: "pods"}
	Services = schema.GroupResource{Resource: "services"}
	Claims   = schema.GroupResource{Resource: "persistentvolumeclaims"}
)

// legacyCounts are the object counts quotas name without "count/".
var legacyCounts = map[schema.GroupResource]corev1.ResourceName{
	Pods:                                 corev1.ResourcePods,
	Services:                             corev1.ResourceServices,
	Claims:                               corev1.ResourcePersistentVolumeClaims,
	{Resource: "secrets"}:                corev1.ResourceSecrets,
	{Resource: "configmaps"}:             corev1.ResourceConfigMaps,
	{Resource: "replicationcontrollers"}: corev1.ResourceReplicationControllers,
	{Resource: "resourcequotas"}:         corev1.ResourceQuotas,
}

// CountName is the quota resource that counts gr's objects:
// "count/<resource>" for the core group, "count/<resource>.<group>" else.
func CountName(gr schema.GroupResource) corev1.ResourceName {
	if gr.Group == "" {
		return corev1.ResourceName("count/" + gr.Resource)
	}
	return corev1.ResourceName("count/" + gr.Resource + "." + gr.Group)
}

// ParseCountName returns the resource a "count/..." quota name counts.
func ParseCountName(name corev1.ResourceName) (schema.GroupResource, bool) {
	rest, ok := strings.CutPrefix(string(name), "count/")
	if !ok || rest == "" {
		return schema.GroupResource{}, false
	}
	res, group, _ := strings.Cut(rest, ".")
	return schema.GroupResource{Group: group, Resource: res}, true
}

// podResources are the compute names a pod's usage has.
var podResources = sets.New[corev1.ResourceName](
	corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
	corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsEphemeralStorage,
	corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceLimitsEphemeralStorage,
)

// extended reports whether name is an extended resource (a domain-prefixed
// name outside kubernetes.io, not itself a "requests." quota name).
func extended(name corev1.ResourceName) bool {
	s := string(name)
	if !strings.Contains(s, "/") || strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	domain, _, _ := strings.Cut(s, "/")
	return domain != "kubernetes.io" && !strings.HasSuffix(domain, ".kubernetes.io")
}

// MatchingResources returns the names, of those given, that objects of gr
// can charge.
func MatchingResources(gr schema.GroupResource, names []corev1.ResourceName) []corev1.ResourceName {
	var out []corev1.ResourceName
	for _, n := range names {
		if matches(gr, n) {
			out = append(out, n)
		}
	}
	return out
}

func matches(gr schema.GroupResource, n corev1.ResourceName) bool {
	if n == CountName(gr) || n == legacyCounts[gr] {
		return true
	}
	s := string(n)
	switch gr {
	case Pods:
		if podResources.Has(n) || strings.HasPrefix(s, corev1.ResourceHugePagesPrefix) ||
			strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix+corev1.ResourceHugePagesPrefix) {
			return true
		}
		rest, ok := strings.CutPrefix(s, corev1.DefaultResourceRequestsPrefix)
		return ok && extended(corev1.ResourceName(rest))
	case Services:
		return n == corev1.ResourceServicesNodePorts || n == corev1.ResourceServicesLoadBalancers
	case Claims:
		if n == corev1.ResourceRequestsStorage {
			return true
		}
		_, res, ok := strings.Cut(s, StorageClassSuffix)
		return ok && (res == string(corev1.ResourceRequestsStorage) || res == string(corev1.ResourcePersistentVolumeClaims))
	}
	return false
}

// Usage is what obj, one of gr's objects, charges: every name it can
// charge, some of them zero. now decides whether a deleted pod's grace
// period has ended.
func Usage(gr schema.GroupResource, obj runtime.Object, now time.Time) (corev1.ResourceList, error) {
	one := func() resource.Quantity { return *resource.NewQuantity(1, resource.DecimalSI) }
	out := corev1.ResourceList{CountName(gr): one()}
	if legacy, ok := legacyCounts[gr]; ok && gr != Pods {
		out[legacy] = one()
	}
	switch gr {
	case Pods:
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return nil, fmt.Errorf("quota: %T is not a pod", obj)
		}
		if !Charged(pod, now) {
			return out, nil
		}
		requests, limits := podRequests(pod), podLimits(pod)
		return Add(out, computeUsage(requests, limits)), nil
	case Services:
		svc, ok := obj.(*corev1.Service)
		if !ok {
			return nil, fmt.Errorf("quota: %T is not a service", obj)
		}
		ports := *resource.NewQuantity(int64(len(svc.Spec.Ports)), resource.DecimalSI)
		out[corev1.ResourceServicesNodePorts] = *resource.NewQuantity(0, resource.DecimalSI)
		out[corev1.ResourceServicesLoadBalancers] = *resource.NewQuantity(0, resource.DecimalSI)
		switch svc.Spec.Type {
		case corev1.ServiceTypeNodePort:
			out[corev1.ResourceServicesNodePorts] = ports
		case corev1.ServiceTypeLoadBalancer:
			if a := svc.Spec.AllocateLoadBalancerNodePorts; a == nil || *a {
				out[corev1.ResourceServicesNodePorts] = ports
			}
			out[corev1.ResourceServicesLoadBalancers] = one()
		}
	case Claims:
		pvc, ok := obj.(*corev1.PersistentVolumeClaim)
		if !ok {
			return nil, fmt.Errorf("quota: %T is not a persistentvolumeclaim", obj)
		}
		class := ClaimClass(pvc)
		if class != "" {
			out[corev1.ResourceName(class+StorageClassSuffix+string(corev1.ResourcePersistentVolumeClaims))] = one()
		}
		if storage, ok := claimStorage(pvc); ok {
			out[corev1.ResourceRequestsStorage] = storage
			if class != "" {
				out[corev1.ResourceName(class+StorageClassSuffix+string(corev1.ResourceRequestsStorage))] = storage
			}
		}
	}
	return out, nil
}

// ClaimClass is the StorageClass a claim asks for: the beta annotation
// when set, else spec.storageClassName.
func ClaimClass(pvc *corev1.PersistentVolumeClaim) string {
	if c, ok := pvc.Annotations[storageClassAnnotation]; ok {
		return c
	}
	if pvc.Spec.StorageClassName != nil {
		return *pvc.Spec.StorageClassName
	}
	return ""
}

// claimStorage is the larger of the claim's request and its allocated
// storage, rounded up to whole bytes.
func claimStorage(pvc *corev1.PersistentVolumeClaim) (resource.Quantity, bool) {
	var out resource.Quantity
	found := false
	for _, l := range []corev1.ResourceList{pvc.Spec.Resources.Requests, pvc.Status.AllocatedResources} {
		q, ok := l[corev1.ResourceStorage]
		if !ok {
			continue
		}
		q = q.DeepCopy()
		q.RoundUp(0)
		if !found || q.Cmp(out) > 0 {
			out, found = q, true
		}
	}
	return out, found
}

// Charged reports whether a pod's compute resources count: not once it
// has succeeded or failed, nor once a deleted pod's grace period is over.
// Its object count ("count/pods") always does.
func Charged(pod *corev1.Pod, now time.Time) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if pod.DeletionTimestamp != nil && pod.DeletionGracePeriodSeconds != nil {
		end := pod.DeletionTimestamp.Add(time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second)
		if now.After(end) {
			return false
		}
	}
	return true
}

// computeUsage turns requests and limits into quota names, as upstream:
// "pods", cpu and memory both bare and as requests.*, limits.*, hugepages,
// and extended resources only as requests.<name>.
func computeUsage(requests, limits corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(1, resource.DecimalSI)}
	for _, r := range []struct{ bare, req, lim corev1.ResourceName }{
		{corev1.ResourceCPU, corev1.ResourceRequestsCPU, corev1.ResourceLimitsCPU},
		{corev1.ResourceMemory, corev1.ResourceRequestsMemory, corev1.ResourceLimitsMemory},
		{corev1.ResourceEphemeralStorage, corev1.ResourceRequestsEphemeralStorage, corev1.ResourceLimitsEphemeralStorage},
	} {
		if q, ok := requests[r.bare]; ok {
			out[r.bare] = q.DeepCopy()
			out[r.req] = q.DeepCopy()
		}
		if q, ok := limits[r.bare]; ok {
			out[r.lim] = q.DeepCopy()
		}
	}
	for name, q := range requests {
		switch {
		case strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix):
			out[name] = q.DeepCopy()
			out[corev1.DefaultResourceRequestsPrefix+name] = q.DeepCopy()
		case extended(name):
			out[corev1.DefaultResourceRequestsPrefix+name] = q.DeepCopy()
		}
	}
	return out
}

// podRequests is what a pod asks for: its containers and sidecars, or
// more when an init container (with the sidecars started before it) asks
// for more, plus the pod overhead.
func podRequests(pod *corev1.Pod) corev1.ResourceList {
	return podTotal(pod, func(c *corev1.Container) corev1.ResourceList { return c.Resources.Requests })
}

// podLimits is podRequests for limits.
func podLimits(pod *corev1.Pod) corev1.ResourceList {
	return podTotal(pod, func(c *corev1.Container) corev1.ResourceList { return c.Resources.Limits })
}

func podTotal(pod *corev1.Pod, of func(*corev1.Container) corev1.ResourceList) corev1.ResourceList {
	total := corev1.ResourceList{}
	for i := range pod.Spec.Containers {
		total = Add(total, of(&pod.Spec.Containers[i]))
	}
	sidecars := corev1.ResourceList{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars = Add(sidecars, of(c))
			total = Add(total, of(c))
			continue
		}
		for name, q := range Add(sidecars, of(c)) {
			if cur, ok := total[name]; !ok || q.Cmp(cur) > 0 {
				total[name] = q
			}
		}
	}
	if len(pod.Spec.Overhead) > 0 {
		// Overhead adds only to what the containers already ask for.
		for name, q := range pod.Spec.Overhead {
			if cur, ok := total[name]; ok {
				cur.Add(q)
				total[name] = cur
			}
		}
	}
	return total
}

// Selectors are the scope requirements of q: its scopes (as Exists) and
// its scopeSelector's expressions.
func Selectors(q *corev1.ResourceQuota) []corev1.ScopedResourceSelectorRequirement {
	var out []corev1.ScopedResourceSelectorRequirement
	for _, s := range q.Spec.Scopes {
		out = append(out, corev1.ScopedResourceSelectorRequirement{ScopeName: s, Operator: corev1.ScopeSelectorOpExists})
	}
	if q.Spec.ScopeSelector != nil {
		out = append(out, q.Spec.ScopeSelector.MatchExpressions...)
	}
	return out
}

// InScope reports whether obj, of gr, meets every requirement. Only pods
// have scopes: any requirement excludes other objects.
func InScope(gr schema.GroupResource, obj runtime.Object, reqs []corev1.ScopedResourceSelectorRequirement) (bool, error) {
	if len(reqs) == 0 {
		return true, nil
	}
	pod, ok := obj.(*corev1.Pod)
	if gr != Pods || !ok {
		return false, nil
	}
	for _, r := range reqs {
		in, err := podInScope(pod, r)
		if err != nil || !in {
			return false, err
		}
	}
	return true, nil
}

func podInScope(pod *corev1.Pod, r corev1.ScopedResourceSelectorRequirement) (bool, error) {
	switch r.ScopeName {
	case corev1.ResourceQuotaScopeTerminating:
		return terminating(pod), nil
	case corev1.ResourceQuotaScopeNotTerminating:
		return !terminating(pod), nil
	case corev1.ResourceQuotaScopeBestEffort:
		return bestEffort(pod), nil
	case corev1.ResourceQuotaScopeNotBestEffort:
		return !bestEffort(pod), nil
	case corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		return crossNamespaceAffinity(pod), nil
	case corev1.ResourceQuotaScopePriorityClass:
		if r.Operator == corev1.ScopeSelectorOpExists {
			return pod.Spec.PriorityClassName != "", nil
		}
		var op selection.Operator
		switch r.Operator {
		case corev1.ScopeSelectorOpIn:
			op = selection.In
		case corev1.ScopeSelectorOpNotIn:
			op = selection.NotIn
		case corev1.ScopeSelectorOpDoesNotExist:
			op = selection.DoesNotExist
		default:
			return false, fmt.Errorf("quota: %q is not a valid scope selector operator", r.Operator)
		}
		req, err := labels.NewRequirement(string(r.ScopeName), op, r.Values)
		if err != nil {
			return false, fmt.Errorf("quota: scope selector: %w", err)
		}
		return labels.NewSelector().Add(*req).Matches(labels.Set{string(r.ScopeName): pod.Spec.PriorityClassName}), nil
	}
	return false, nil
}

func terminating(pod *corev1.Pod) bool {
	return pod.Spec.ActiveDeadlineSeconds != nil && *pod.Spec.ActiveDeadlineSeconds >= 0
}

// bestEffort reports whether no container requests or limits cpu or memory.
func bestEffort(pod *corev1.Pod) bool {
	if pod.Spec.Resources != nil && (len(pod.Spec.Resources.Requests) > 0 || len(pod.Spec.Resources.Limits) > 0) {
		return false
	}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			for _, l := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
				for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					if q, ok := l[name]; ok && !q.IsZero() {
						return false
					}
				}
			}
		}
	}
	return true
}

// crossNamespaceAffinity reports whether a pod (anti-)affinity term names
// namespaces or a namespace selector.
func crossNamespaceAffinity(pod *corev1.Pod) bool {
	a := pod.Spec.Affinity
	if a == nil {
		return false
	}
	var terms []corev1.PodAffinityTerm
	if a.PodAffinity != nil {
		terms = append(terms, a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	if a.PodAntiAffinity != nil {
		terms = append(terms, a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	for _, t := range terms {
		if len(t.Namespaces) > 0 || t.NamespaceSelector != nil {
			return true
		}
	}
	return false
}

// Matches reports whether a quota limiting hard, with scope requirements
// reqs, applies to obj: it limits something obj charges and obj is in
// every scope.
func Matches(gr schema.GroupResource, obj runtime.Object, hard corev1.ResourceList, reqs []corev1.ScopedResourceSelectorRequirement) (bool, error) {
	if len(MatchingResources(gr, Names(hard))) == 0 {
		return false, nil
	}
	return InScope(gr, obj, reqs)
}

// constrained are the compute names that, when a quota limits them, every
// container must set (a backward-compatibility rule of upstream's).
var constrained = sets.New[corev1.ResourceName](
	corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
	corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsEphemeralStorage,
	corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceLimitsEphemeralStorage,
)

// Constraints refuses a pod with a container that does not set one of
// the compute resources in required, with upstream's message:
// "must specify limits.cpu for: a,b; requests.memory for: c".
func Constraints(gr schema.GroupResource, obj runtime.Object, required []corev1.ResourceName) error {
	pod, ok := obj.(*corev1.Pod)
	if gr != Pods || !ok {
		return nil
	}
	want := sets.New(required...).Intersection(constrained)
	if want.Len() == 0 {
		return nil
	}
	missing := map[corev1.ResourceName]sets.Set[string]{}
	for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for _, c := range cs {
			has := sets.New(Names(computeUsage(c.Resources.Requests, c.Resources.Limits))...)
			for _, n := range want.Difference(has).UnsortedList() {
				if missing[n] == nil {
					missing[n] = sets.New[string]()
				}
				missing[n].Insert(c.Name)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	names := make([]string, 0, len(missing))
	for n := range missing {
		names = append(names, string(n))
	}
	sort.Strings(names)
	msgs := make([]string, len(names))
	for i, n := range names {
		msgs[i] = fmt.Sprintf("%s for: %s", n, strings.Join(sets.List(missing[corev1.ResourceName(n)]), ","))
	}
	return fmt.Errorf("must specify %s", strings.Join(msgs, "; "))
}

// Total is the usage of objs, all of gr, that a quota limiting names with
// scope requirements reqs counts: each of names objects of gr can charge,
// zero when nothing charges it.
func Total(gr schema.GroupResource, objs []runtime.Object, names []corev1.ResourceName, reqs []corev1.ScopedResourceSelectorRequirement, now time.Time) (corev1.ResourceList, error) {
	names = MatchingResources(gr, names)
	out := corev1.ResourceList{}
	for _, n := range names {
		out[n] = *resource.NewQuantity(0, resource.DecimalSI)
	}
	if len(names) == 0 {
		return out, nil
	}
	for _, o := range objs {
		in, err := InScope(gr, o, reqs)
		if err != nil {
			return nil, err
		}
		if !in {
			continue
		}
		u, err := Usage(gr, o, now)
		if err != nil {
			return nil, err
		}
		out = Add(out, Mask(u, names))
	}
	return out, nil
}
