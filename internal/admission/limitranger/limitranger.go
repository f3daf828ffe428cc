// Package limitranger is the LimitRanger admission plugin: the
// LimitRanges of a namespace give its new pods' containers default
// requests and limits (recorded in the kubernetes.io/limit-ranger
// annotation), and bound containers, pods and PersistentVolumeClaims
// with min, max and maxLimitRequestRatio, with upstream's messages. As
// upstream, pod updates are not checked: containers' resources are
// immutable, and only creates are defaulted.
package limitranger

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/auth"
)

// Annotation records which defaults the plugin set.
const Annotation = "kubernetes.io/limit-ranger"

var (
	podsResource   = schema.GroupResource{Resource: "pods"}
	claimsResource = schema.GroupResource{Resource: "persistentvolumeclaims"}
	rangesResource = schema.GroupResource{Resource: "limitranges"}
)

// Plugin is the LimitRanger admission plugin.
type Plugin struct{ objects auth.Objects }

var (
	_ admission.Mutator   = (*Plugin)(nil)
	_ admission.Validator = (*Plugin)(nil)
	_ auth.ObjectsUser    = (*Plugin)(nil)
)

// Name is the upstream plugin name.
func (*Plugin) Name() string { return "LimitRanger" }

// UseObjects gives the plugin the LimitRanges it reads.
func (p *Plugin) UseObjects(o auth.Objects) { p.objects = o }

// ranges returns the namespace's LimitRanges when a is one the plugin
// handles: a pod create, or a claim create or update.
func (p *Plugin) ranges(a *admission.Attributes) ([]*corev1.LimitRange, error) {
	if a.Subresource != "" {
		return nil, nil
	}
	switch a.Resource.GroupResource() {
	case podsResource:
		if a.Operation != admission.Create {
			return nil, nil
		}
	case claimsResource:
		if a.Operation != admission.Create && a.Operation != admission.Update {
			return nil, nil
		}
	default:
		return nil, nil
	}
	objs, err := p.objects.List(rangesResource, a.Namespace, nil)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	out := make([]*corev1.LimitRange, len(objs))
	for i, o := range objs {
		out[i] = o.(*corev1.LimitRange)
	}
	return out, nil
}

// Admit sets default requests and limits on a new pod's containers.
func (p *Plugin) Admit(_ context.Context, a *admission.Attributes) error {
	ranges, err := p.ranges(a)
	if err != nil {
		return err
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return nil
	}
	for _, lr := range ranges {
		limits, requests := containerDefaults(lr)
		if len(limits) == 0 && len(requests) == 0 {
			continue
		}
		var notes []string
		for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
			for i := range cs {
				notes = append(notes, setDefaults(&cs[i], limits, requests)...)
			}
		}
		if len(notes) > 0 {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[Annotation] = "LimitRanger plugin set: " + strings.Join(notes, "; ")
		}
	}
	return nil
}

// containerDefaults are the default limits and requests of lr's
// Container items.
func containerDefaults(lr *corev1.LimitRange) (limits, requests corev1.ResourceList) {
	limits, requests = corev1.ResourceList{}, corev1.ResourceList{}
	for _, item := range lr.Spec.Limits {
		if item.Type != corev1.LimitTypeContainer {
			continue
		}
		for k, v := range item.Default {
			limits[k] = v.DeepCopy()
		}
		for k, v := range item.DefaultRequest {
			requests[k] = v.DeepCopy()
		}
	}
	return limits, requests
}

// setDefaults fills c's missing requests and limits and says what it set,
// as upstream's annotation does ("cpu, memory request for container x").
func setDefaults(c *corev1.Container, limits, requests corev1.ResourceList) []string {
	fill := func(into *corev1.ResourceList, from corev1.ResourceList) []string {
		var set []string
		for k, v := range from {
			if _, ok := (*into)[k]; ok {
				continue
			}
			if *into == nil {
				*into = corev1.ResourceList{}
			}
			(*into)[k] = v.DeepCopy()
			set = append(set, string(k))
		}
		sort.Strings(set)
		return set
	}
	var notes []string
	if set := fill(&c.Resources.Requests, requests); len(set) > 0 {
		notes = append(notes, fmt.Sprintf("%s request for container %s", strings.Join(set, ", "), c.Name))
	}
	if set := fill(&c.Resources.Limits, limits); len(set) > 0 {
		notes = append(notes, fmt.Sprintf("%s limit for container %s", strings.Join(set, ", "), c.Name))
	}
	return notes
}

// Validate checks pods and claims against the namespace's bounds.
func (p *Plugin) Validate(_ context.Context, a *admission.Attributes) error {
	ranges, err := p.ranges(a)
	if err != nil {
		return err
	}
	var errs []error
	for _, lr := range ranges {
		for _, item := range lr.Spec.Limits {
			switch obj := a.Object.(type) {
			case *corev1.Pod:
				errs = append(errs, checkPod(item, obj)...)
			case *corev1.PersistentVolumeClaim:
				if item.Type == corev1.LimitTypePersistentVolumeClaim {
					errs = append(errs, check(item, string(item.Type), obj.Spec.Resources.Requests, obj.Spec.Resources.Limits, true)...)
				}
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, utilerrors.NewAggregate(errs))
}

func checkPod(item corev1.LimitRangeItem, pod *corev1.Pod) []error {
	switch item.Type {
	case corev1.LimitTypeContainer:
		var errs []error
		for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
			for _, c := range cs {
				errs = append(errs, check(item, string(item.Type), c.Resources.Requests, c.Resources.Limits, false)...)
			}
		}
		return errs
	case corev1.LimitTypePod:
		requests, limits := podTotals(pod)
		return check(item, string(item.Type), requests, limits, false)
	}
	return nil
}

// podTotals sums the containers' requests and limits; an init container
// that needs more than all containers together raises the total, as
// upstream counts it.
func podTotals(pod *corev1.Pod) (requests, limits corev1.ResourceList) {
	sum := func(pick func(corev1.Container) corev1.ResourceList) corev1.ResourceList {
		out := corev1.ResourceList{}
		for _, c := range pod.Spec.Containers {
			for k, v := range pick(c) {
				q := out[k]
				q.Add(v)
				out[k] = q
			}
		}
		for _, c := range pod.Spec.InitContainers {
			for k, v := range pick(c) {
				if q, ok := out[k]; !ok || v.Cmp(q) > 0 {
					out[k] = v.DeepCopy()
				}
			}
		}
		return out
	}
	return sum(func(c corev1.Container) corev1.ResourceList { return c.Resources.Requests }),
		sum(func(c corev1.Container) corev1.ResourceList { return c.Resources.Limits })
}

// check applies one item's min, max and ratio to a request and limit set.
// maxOnRequest bounds the request rather than the limit (claims).
func check(item corev1.LimitRangeItem, kind string, requests, limits corev1.ResourceList, maxOnRequest bool) []error {
	var errs []error
	for _, k := range sortedNames(item.Min) {
		lo := item.Min[k]
		req, hasReq := requests[k]
		lim, hasLim := limits[k]
		switch {
		case !hasReq:
			errs = append(errs, fmt.Errorf("minimum %s usage per %s is %s.  No request is specified", k, kind, lo.String()))
		case req.Cmp(lo) < 0:
			errs = append(errs, fmt.Errorf("minimum %s usage per %s is %s, but request is %s", k, kind, lo.String(), req.String()))
		}
		if hasLim && lim.Cmp(lo) < 0 {
			errs = append(errs, fmt.Errorf("minimum %s usage per %s is %s, but limit is %s", k, kind, lo.String(), lim.String()))
		}
	}
	for _, k := range sortedNames(item.Max) {
		hi := item.Max[k]
		if maxOnRequest {
			if req, ok := requests[k]; !ok {
				errs = append(errs, fmt.Errorf("maximum %s usage per %s is %s.  No request is specified", k, kind, hi.String()))
			} else if req.Cmp(hi) > 0 {
				errs = append(errs, fmt.Errorf("maximum %s usage per %s is %s, but request is %s", k, kind, hi.String(), req.String()))
			}
			continue
		}
		req, hasReq := requests[k]
		lim, hasLim := limits[k]
		switch {
		case !hasLim:
			errs = append(errs, fmt.Errorf("maximum %s usage per %s is %s.  No limit is specified", k, kind, hi.String()))
		case lim.Cmp(hi) > 0:
			errs = append(errs, fmt.Errorf("maximum %s usage per %s is %s, but limit is %s", k, kind, hi.String(), lim.String()))
		}
		if hasReq && req.Cmp(hi) > 0 {
			errs = append(errs, fmt.Errorf("maximum %s usage per %s is %s, but request is %s", k, kind, hi.String(), req.String()))
		}
	}
	for _, k := range sortedNames(item.MaxLimitRequestRatio) {
		ratio := item.MaxLimitRequestRatio[k]
		req, hasReq := requests[k]
		lim, hasLim := limits[k]
		if !hasReq || req.IsZero() || !hasLim {
			errs = append(errs, fmt.Errorf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", k, kind, ratio.String()))
			continue
		}
		if got := float64(lim.MilliValue()) / float64(req.MilliValue()); got > float64(ratio.MilliValue())/1000 {
			errs = append(errs, fmt.Errorf("%s max limit to request ratio per %s is %s, but provided ratio is %f", k, kind, ratio.String(), got))
		}
	}
	return errs
}

func sortedNames(l corev1.ResourceList) []corev1.ResourceName {
	out := make([]corev1.ResourceName, 0, len(l))
	for k := range l {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
