// Package priority is the Priority admission plugin: a pod's
// spec.priority and spec.preemptionPolicy come from the PriorityClass it
// names (or the cluster's globalDefault class, else priority 0), as
// upstream. A pod may not set its own priority to anything else, and only
// one PriorityClass may be the global default.
package priority

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/auth"
)

var (
	podsResource    = schema.GroupResource{Resource: "pods"}
	classesResource = schema.GroupResource{Group: "scheduling.k8s.io", Resource: "priorityclasses"}
)

// Plugin is the Priority admission plugin: it mutates pods and validates
// PriorityClasses.
type Plugin struct{ objects auth.Objects }

var (
	_ admission.Mutator   = (*Plugin)(nil)
	_ admission.Validator = (*Plugin)(nil)
	_ auth.ObjectsUser    = (*Plugin)(nil)
)

// Name is the upstream plugin name.
func (*Plugin) Name() string { return "Priority" }

// UseObjects gives the plugin the PriorityClasses it reads.
func (p *Plugin) UseObjects(o auth.Objects) { p.objects = o }

// Admit resolves a new pod's priority.
func (p *Plugin) Admit(_ context.Context, a *admission.Attributes) error {
	if a.Operation != admission.Create || a.Subresource != "" || a.Resource.GroupResource() != podsResource {
		return nil
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return nil
	}
	var (
		value  int32
		policy = corev1.PreemptLowerPriority
	)
	if name := pod.Spec.PriorityClassName; name != "" {
		obj, err := p.objects.Get(classesResource, "", name)
		if apierrors.IsNotFound(err) {
			return apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, fmt.Errorf("no PriorityClass with name %v was found", name))
		}
		if err != nil {
			return apierrors.NewInternalError(fmt.Errorf("failed to get PriorityClass with name %s: %w", name, err))
		}
		pc := obj.(*schedulingv1.PriorityClass)
		value = pc.Value
		if pc.PreemptionPolicy != nil {
			policy = *pc.PreemptionPolicy
		}
	} else if pc, err := p.globalDefault(); err != nil {
		return apierrors.NewInternalError(err)
	} else if pc != nil {
		pod.Spec.PriorityClassName = pc.Name
		value = pc.Value
		if pc.PreemptionPolicy != nil {
			policy = *pc.PreemptionPolicy
		}
	}
	if pod.Spec.Priority != nil && *pod.Spec.Priority != value {
		return apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, fmt.Errorf(
			"the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *pod.Spec.Priority, value))
	}
	pod.Spec.Priority = ptr.To(value)
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy != policy {
		return apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, fmt.Errorf(
			"the string value of PreemptionPolicy (%s) must not be provided in pod spec; priority admission controller computed %s from the given PriorityClass name", *pod.Spec.PreemptionPolicy, policy))
	}
	pod.Spec.PreemptionPolicy = ptr.To(policy)
	return nil
}

// Validate refuses a second globalDefault PriorityClass.
func (p *Plugin) Validate(_ context.Context, a *admission.Attributes) error {
	if (a.Operation != admission.Create && a.Operation != admission.Update) || a.Resource.GroupResource() != classesResource {
		return nil
	}
	pc, ok := a.Object.(*schedulingv1.PriorityClass)
	if !ok || !pc.GlobalDefault {
		return nil
	}
	cur, err := p.globalDefault()
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if cur != nil && cur.Name != pc.Name {
		return apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, fmt.Errorf("PriorityClass %v is already marked as default. Only one default can exist", cur.Name))
	}
	return nil
}

// globalDefault returns the default class with the lowest value, as
// upstream picks when several exist, or nil.
func (p *Plugin) globalDefault() (*schedulingv1.PriorityClass, error) {
	objs, err := p.objects.List(classesResource, "", nil)
	if err != nil {
		return nil, err
	}
	var def *schedulingv1.PriorityClass
	for _, obj := range objs {
		pc := obj.(*schedulingv1.PriorityClass)
		if pc.GlobalDefault && (def == nil || pc.Value < def.Value) {
			def = pc
		}
	}
	return def, nil
}
