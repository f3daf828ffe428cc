package registry

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateStorageClass requires a provisioner and checks the parameters'
// size, the reclaim policy and the binding mode.
func validateStorageClass(sc *storagev1.StorageClass) field.ErrorList {
	var allErrs field.ErrorList
	pp := field.NewPath("provisioner")
	if sc.Provisioner == "" {
		allErrs = append(allErrs, field.Required(pp, ""))
	} else {
		allErrs = append(allErrs, qualifiedName(strings.ToLower(sc.Provisioner), pp)...)
	}
	paramsPath := field.NewPath("parameters")
	if len(sc.Parameters) > 512 {
		allErrs = append(allErrs, field.TooMany(paramsPath, len(sc.Parameters), 512))
	} else {
		size := 0
		for k, v := range sc.Parameters {
			if k == "" {
				allErrs = append(allErrs, field.Invalid(paramsPath, k, "field can not be empty."))
			}
			size += len(k) + len(v)
		}
		if size > 256*1024 {
			allErrs = append(allErrs, field.TooLong(paramsPath, "", 256*1024))
		}
	}
	if p := sc.ReclaimPolicy; p != nil && *p != "" {
		valid := []corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRetain}
		if !slices.Contains(valid, *p) {
			allErrs = append(allErrs, field.NotSupported(field.NewPath("reclaimPolicy"), *p, valid))
		}
	}
	bp := field.NewPath("volumeBindingMode")
	if m := sc.VolumeBindingMode; m == nil {
		allErrs = append(allErrs, field.Required(bp, ""))
	} else if valid := []storagev1.VolumeBindingMode{storagev1.VolumeBindingImmediate, storagev1.VolumeBindingWaitForFirstConsumer}; !slices.Contains(valid, *m) {
		allErrs = append(allErrs, field.NotSupported(bp, *m, valid))
	}
	for i, term := range sc.AllowedTopologies {
		for j, e := range term.MatchLabelExpressions {
			p := field.NewPath("allowedTopologies").Index(i).Child("matchLabelExpressions").Index(j)
			if len(e.Values) == 0 {
				allErrs = append(allErrs, field.Required(p.Child("values"), ""))
			}
			allErrs = append(allErrs, metavalidation.ValidateLabelName(e.Key, p.Child("key"))...)
		}
	}
	return allErrs
}

func validateStorageClassUpdate(sc, old *storagev1.StorageClass) field.ErrorList {
	var allErrs field.ErrorList
	if !reflect.DeepEqual(sc.Parameters, old.Parameters) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
	}
	if sc.Provisioner != old.Provisioner {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("provisioner"), "updates to provisioner are forbidden."))
	}
	if !reflect.DeepEqual(sc.ReclaimPolicy, old.ReclaimPolicy) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("reclaimPolicy"), "updates to reclaimPolicy are forbidden."))
	}
	return append(allErrs, immutable(sc.VolumeBindingMode, old.VolumeBindingMode, field.NewPath("volumeBindingMode"))...)
}

// Priority class limits, as upstream defines them.
const (
	highestUserPriority = 1000000000
	systemPriorityClass = "system-"
)

var systemPriorityClasses = map[string]int32{"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}

func validatePriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	var allErrs field.ErrorList
	if strings.HasPrefix(pc.Name, systemPriorityClass) {
		var reason string
		switch v, known := systemPriorityClasses[pc.Name]; {
		case !known:
			reason = fmt.Sprintf("%v is not a known system priority class", pc.Name)
		case v != pc.Value:
			reason = fmt.Sprintf("value of %v PriorityClass must be %v", pc.Name, v)
		case pc.GlobalDefault:
			reason = fmt.Sprintf("globalDefault of %v PriorityClass must be false", pc.Name)
		}
		if reason != "" {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("metadata", "name"),
				"priority class names with '"+systemPriorityClass+"' prefix are reserved for system use only. error: "+reason))
		}
	} else if pc.Value > highestUserPriority {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("value"), fmt.Sprintf("maximum allowed value of a user defined priority is %v", highestUserPriority)))
	}
	if p := pc.PreemptionPolicy; p != nil {
		allErrs = append(allErrs, validateEnum(field.NewPath("preemptionPolicy"), *p, corev1.PreemptLowerPriority, corev1.PreemptNever)...)
	}
	return allErrs
}

func validatePriorityClassUpdate(pc, old *schedulingv1.PriorityClass) field.ErrorList {
	var allErrs field.ErrorList
	if pc.Value != old.Value {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
	}
	return append(allErrs, immutable(pc.PreemptionPolicy, old.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
}

func validateLease(l *coordinationv1.Lease) field.ErrorList {
	specPath := field.NewPath("spec")
	s := &l.Spec
	var allErrs field.ErrorList
	if d := s.LeaseDurationSeconds; d != nil && *d <= 0 {
		allErrs = append(allErrs, field.Invalid(specPath.Child("leaseDurationSeconds"), d, "must be greater than 0"))
	}
	if t := s.LeaseTransitions; t != nil && *t < 0 {
		allErrs = append(allErrs, field.Invalid(specPath.Child("leaseTransitions"), t, "must be greater than or equal to 0"))
	}
	if st := s.Strategy; st != nil {
		allErrs = append(allErrs, validateEnum(specPath.Child("strategy"), *st, coordinationv1.OldestEmulationVersion)...)
	}
	if h := s.PreferredHolder; h != nil && *h != "" && (s.Strategy == nil || *s.Strategy == "") {
		allErrs = append(allErrs, field.Forbidden(specPath.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return allErrs
}

func validatePodDisruptionBudget(pdb *policyv1.PodDisruptionBudget) field.ErrorList {
	specPath := field.NewPath("spec")
	s := &pdb.Spec
	var allErrs field.ErrorList
	if s.MinAvailable != nil && s.MaxUnavailable != nil {
		allErrs = append(allErrs, field.Invalid(specPath, s, "minAvailable and maxUnavailable cannot be both set"))
	}
	if v := s.MinAvailable; v != nil {
		allErrs = append(allErrs, validatePositiveIntOrPercent(*v, specPath.Child("minAvailable"))...)
		allErrs = append(allErrs, notMoreThan100Percent(*v, specPath.Child("minAvailable"))...)
	}
	if v := s.MaxUnavailable; v != nil {
		allErrs = append(allErrs, validatePositiveIntOrPercent(*v, specPath.Child("maxUnavailable"))...)
		allErrs = append(allErrs, notMoreThan100Percent(*v, specPath.Child("maxUnavailable"))...)
	}
	allErrs = append(allErrs, metavalidation.ValidateLabelSelector(s.Selector, metavalidation.LabelSelectorValidationOptions{}, specPath.Child("selector"))...)
	if p := s.UnhealthyPodEvictionPolicy; p != nil {
		allErrs = append(allErrs, validateEnum(specPath.Child("unhealthyPodEvictionPolicy"), *p, policyv1.AlwaysAllow, policyv1.IfHealthyBudget)...)
	}
	return allErrs
}

// validateHorizontalPodAutoscaler handles both served versions.
func validateHorizontalPodAutoscaler(obj runtime.Object) field.ErrorList {
	specPath := field.NewPath("spec")
	switch h := obj.(type) {
	case *autoscalingv1.HorizontalPodAutoscaler:
		s := &h.Spec
		allErrs := validateReplicaBounds(s.MinReplicas, s.MaxReplicas, specPath)
		allErrs = append(allErrs, validateScaleTargetRef(s.ScaleTargetRef.Kind, s.ScaleTargetRef.Name, specPath.Child("scaleTargetRef"))...)
		if u := s.TargetCPUUtilizationPercentage; u != nil && *u < 1 {
			allErrs = append(allErrs, field.Invalid(specPath.Child("targetCPUUtilizationPercentage"), *u, "must be greater than 0"))
		}
		return allErrs
	case *autoscalingv2.HorizontalPodAutoscaler:
		s := &h.Spec
		allErrs := validateReplicaBounds(s.MinReplicas, s.MaxReplicas, specPath)
		allErrs = append(allErrs, validateScaleTargetRef(s.ScaleTargetRef.Kind, s.ScaleTargetRef.Name, specPath.Child("scaleTargetRef"))...)
		for i, m := range s.Metrics {
			allErrs = append(allErrs, validateMetricSpec(&m, specPath.Child("metrics").Index(i))...)
		}
		if b := s.Behavior; b != nil {
			allErrs = append(allErrs, validateScalingRules(b.ScaleUp, specPath.Child("behavior", "scaleUp"))...)
			allErrs = append(allErrs, validateScalingRules(b.ScaleDown, specPath.Child("behavior", "scaleDown"))...)
		}
		return allErrs
	}
	return field.ErrorList{field.InternalError(nil, fmt.Errorf("validating HorizontalPodAutoscaler: got %T", obj))}
}

func validateReplicaBounds(minReplicas *int32, maxReplicas int32, specPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if minReplicas != nil && *minReplicas < 1 {
		allErrs = append(allErrs, field.Invalid(specPath.Child("minReplicas"), *minReplicas, "must be greater than or equal to 1"))
	}
	if maxReplicas < 1 {
		allErrs = append(allErrs, field.Invalid(specPath.Child("maxReplicas"), maxReplicas, "must be greater than 0"))
	}
	if minReplicas != nil && maxReplicas < *minReplicas {
		allErrs = append(allErrs, field.Invalid(specPath.Child("maxReplicas"), maxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	return allErrs
}

func validateScaleTargetRef(kind, name string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, f := range []struct{ child, value string }{{"kind", kind}, {"name", name}} {
		if f.value == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child(f.child), ""))
		} else {
			allErrs = append(allErrs, invalid(fldPath.Child(f.child), f.value, path.IsValidPathSegmentName(f.value))...)
		}
	}
	return allErrs
}

var metricSourceTypes = []autoscalingv2.MetricSourceType{
	autoscalingv2.ContainerResourceMetricSourceType, autoscalingv2.ExternalMetricSourceType, autoscalingv2.ObjectMetricSourceType,
	autoscalingv2.PodsMetricSourceType, autoscalingv2.ResourceMetricSourceType,
}

// validateMetricSpec requires the source named by type, and only it.
func validateMetricSpec(m *autoscalingv2.MetricSpec, fldPath *field.Path) field.ErrorList {
	if m.Type == "" {
		return field.ErrorList{field.Required(fldPath.Child("type"), "must specify a metric source type")}
	}
	if !slices.Contains(metricSourceTypes, m.Type) {
		return field.ErrorList{field.NotSupported(fldPath.Child("type"), m.Type, metricSourceTypes)}
	}
	var allErrs field.ErrorList
	expected := strings.ToLower(string(m.Type[:1])) + string(m.Type[1:])
	for _, name := range sets.List(setFields(*m)) {
		if name != expected {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child(name), "must populate the given metric source only"))
		}
	}
	sp := fldPath.Child(expected)
	var target *autoscalingv2.MetricTarget
	switch m.Type {
	case autoscalingv2.ResourceMetricSourceType:
		if m.Resource != nil {
			if m.Resource.Name == "" {
				allErrs = append(allErrs, field.Required(sp.Child("name"), "must specify a resource name"))
			}
			target = &m.Resource.Target
		}
	case autoscalingv2.ContainerResourceMetricSourceType:
		if m.ContainerResource != nil {
			if m.ContainerResource.Name == "" {
				allErrs = append(allErrs, field.Required(sp.Child("name"), "must specify a resource name"))
			}
			if m.ContainerResource.Container == "" {
				allErrs = append(allErrs, field.Required(sp.Child("container"), "must specify a container"))
			}
			target = &m.ContainerResource.Target
		}
	case autoscalingv2.PodsMetricSourceType:
		if m.Pods != nil {
			target = &m.Pods.Target
		}
	case autoscalingv2.ObjectMetricSourceType:
		if m.Object != nil {
			allErrs = append(allErrs, validateScaleTargetRef(m.Object.DescribedObject.Kind, m.Object.DescribedObject.Name, sp.Child("describedObject"))...)
			target = &m.Object.Target
		}
	case autoscalingv2.ExternalMetricSourceType:
		if m.External != nil {
			target = &m.External.Target
		}
	}
	if target == nil {
		return append(allErrs, field.Required(sp, "must populate information for the given metric source"))
	}
	return append(allErrs, validateMetricTarget(target, sp.Child("target"))...)
}

func validateMetricTarget(t *autoscalingv2.MetricTarget, fldPath *field.Path) field.ErrorList {
	allErrs := validateEnum(fldPath.Child("type"), t.Type, autoscalingv2.AverageValueMetricType, autoscalingv2.UtilizationMetricType, autoscalingv2.ValueMetricType)
	if t.Value != nil && t.Value.Sign() <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("value"), t.Value, "must be positive"))
	}
	if t.AverageValue != nil && t.AverageValue.Sign() <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("averageValue"), t.AverageValue, "must be positive"))
	}
	if t.AverageUtilization != nil && *t.AverageUtilization < 1 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("averageUtilization"), t.AverageUtilization, "must be greater than 0"))
	}
	return allErrs
}

func validateScalingRules(r *autoscalingv2.HPAScalingRules, fldPath *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var allErrs field.ErrorList
	if w := r.StabilizationWindowSeconds; w != nil && (*w < 0 || *w > 3600) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("stabilizationWindowSeconds"), *w, "must be less than or equal to 3600"))
	}
	if p := r.SelectPolicy; p != nil {
		allErrs = append(allErrs, validateEnum(fldPath.Child("selectPolicy"), *p,
			autoscalingv2.DisabledPolicySelect, autoscalingv2.MaxChangePolicySelect, autoscalingv2.MinChangePolicySelect)...)
	}
	if len(r.Policies) == 0 && (r.SelectPolicy == nil || *r.SelectPolicy != autoscalingv2.DisabledPolicySelect) {
		allErrs = append(allErrs, field.Required(fldPath.Child("policies"), "must specify at least one Policy"))
	}
	for i, p := range r.Policies {
		pp := fldPath.Child("policies").Index(i)
		allErrs = append(allErrs, validateEnum(pp.Child("type"), p.Type, autoscalingv2.PercentScalingPolicy, autoscalingv2.PodsScalingPolicy)...)
		if p.Value <= 0 {
			allErrs = append(allErrs, field.Invalid(pp.Child("value"), p.Value, "must be greater than zero"))
		}
		if p.PeriodSeconds <= 0 || p.PeriodSeconds > 1800 {
			allErrs = append(allErrs, field.Invalid(pp.Child("periodSeconds"), p.PeriodSeconds, "must be greater than zero and less than or equal to 1800"))
		}
	}
	return allErrs
}

func validateRuntimeClass(rc *nodev1.RuntimeClass) field.ErrorList {
	var allErrs field.ErrorList
	hp := field.NewPath("handler")
	if rc.Handler == "" {
		allErrs = append(allErrs, field.Required(hp, ""))
	} else {
		allErrs = append(allErrs, dns1123Label(rc.Handler, hp)...)
	}
	if o := rc.Overhead; o != nil {
		allErrs = append(allErrs, validateResourceRequirements(&corev1.ResourceRequirements{Limits: o.PodFixed}, field.NewPath("overhead", "podFixed"))...)
	}
	if s := rc.Scheduling; s != nil {
		allErrs = append(allErrs, metavalidation.ValidateLabels(s.NodeSelector, field.NewPath("scheduling", "nodeSelector"))...)
		allErrs = append(allErrs, validateTolerations(s.Tolerations, field.NewPath("scheduling", "tolerations"))...)
	}
	return allErrs
}

func validateRuntimeClassUpdate(rc, old *nodev1.RuntimeClass) field.ErrorList {
	return immutable(rc.Handler, old.Handler, field.NewPath("handler"))
}
