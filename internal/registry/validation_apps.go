package registry

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateWorkloadSelector requires a valid, non-empty selector and returns
// it as a labels.Selector, or nil when it cannot be converted. A missing
// selector converts to one that matches nothing, so the template check
// reports the mismatch too, as upstream does.
func validateWorkloadSelector(sel *metav1.LabelSelector, fldPath *field.Path, kind string) (labels.Selector, field.ErrorList) {
	var allErrs field.ErrorList
	if sel == nil {
		allErrs = append(allErrs, field.Required(fldPath, ""))
	} else {
		allErrs = append(allErrs, metavalidation.ValidateLabelSelector(sel, metavalidation.LabelSelectorValidationOptions{}, fldPath)...)
		if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
			allErrs = append(allErrs, field.Invalid(fldPath, sel, "empty selector is invalid for "+kind))
		}
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, append(allErrs, field.Invalid(fldPath, sel, "invalid label selector"))
	}
	return selector, allErrs
}

// validateReplicaTemplate checks the pod template of a workload whose pods
// run forever: it matches the selector, passes pod validation, restarts
// Always and has no active deadline.
func validateReplicaTemplate(t *corev1.PodTemplateSpec, selector labels.Selector, fldPath *field.Path, owner string) field.ErrorList {
	allErrs := validateSelectorMatchesTemplate(selector, t.Labels, fldPath.Child("metadata", "labels"))
	allErrs = append(allErrs, validatePodTemplateSpec(t, fldPath, podOptions{})...)
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("spec", "restartPolicy"), t.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("spec", "activeDeadlineSeconds"), t.Spec.ActiveDeadlineSeconds,
			fmt.Sprintf("activeDeadlineSeconds in %s is not Supported", owner)))
	}
	return allErrs
}

func validateReplicas(replicas *int32, fldPath *field.Path) field.ErrorList {
	if replicas == nil {
		return nil
	}
	return nonNegative(int64(*replicas), fldPath)
}

func validateDeployment(d *appsv1.Deployment) field.ErrorList {
	specPath := field.NewPath("spec")
	s := &d.Spec
	allErrs := validateReplicas(s.Replicas, specPath.Child("replicas"))
	selector, errs := validateWorkloadSelector(s.Selector, specPath.Child("selector"), "deployment")
	allErrs = append(allErrs, errs...)
	if selector != nil {
		allErrs = append(allErrs, validateReplicaTemplate(&s.Template, selector, specPath.Child("template"), "ReplicaSet")...)
	}
	allErrs = append(allErrs, validateDeploymentStrategy(&s.Strategy, specPath.Child("strategy"))...)
	allErrs = append(allErrs, nonNegative(int64(s.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	if s.RevisionHistoryLimit != nil {
		allErrs = append(allErrs, nonNegative(int64(*s.RevisionHistoryLimit), specPath.Child("revisionHistoryLimit"))...)
	}
	if p := s.ProgressDeadlineSeconds; p != nil {
		allErrs = append(allErrs, nonNegative(int64(*p), specPath.Child("progressDeadlineSeconds"))...)
		if *p <= s.MinReadySeconds {
			allErrs = append(allErrs, field.Invalid(specPath.Child("progressDeadlineSeconds"), *p, "must be greater than minReadySeconds"))
		}
	}
	return allErrs
}

func validateDeploymentStrategy(s *appsv1.DeploymentStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(fldPath.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		ru, p := s.RollingUpdate, fldPath.Child("rollingUpdate")
		maxUnavailable, maxSurge := intOrZero(ru.MaxUnavailable), intOrZero(ru.MaxSurge)
		allErrs := validatePositiveIntOrPercent(maxUnavailable, p.Child("maxUnavailable"))
		allErrs = append(allErrs, validatePositiveIntOrPercent(maxSurge, p.Child("maxSurge"))...)
		if intOrPercentValue(maxUnavailable) == 0 && intOrPercentValue(maxSurge) == 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("maxUnavailable"), maxUnavailable, "may not be 0 when `maxSurge` is 0"))
		}
		return append(allErrs, notMoreThan100Percent(maxUnavailable, p.Child("maxUnavailable"))...)
	default:
		return field.ErrorList{field.NotSupported(fldPath, s, []appsv1.DeploymentStrategyType{appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType})}
	}
	return nil
}

func intOrZero(v *intstr.IntOrString) intstr.IntOrString {
	if v == nil {
		return intstr.IntOrString{}
	}
	return *v
}

// validatePositiveIntOrPercent accepts a non-negative integer or a
// percentage like "25%".
func validatePositiveIntOrPercent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	switch v.Type {
	case intstr.String:
		return invalid(fldPath, v, validation.IsValidPercent(v.StrVal))
	case intstr.Int:
		return nonNegative(int64(v.IntValue()), fldPath)
	}
	return field.ErrorList{field.Invalid(fldPath, v, "must be an integer or percentage (e.g '5%')")}
}

func percentValue(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) != 0 {
		return 0, false
	}
	n, _ := strconv.Atoi(v.StrVal[:len(v.StrVal)-1])
	return n, true
}

func intOrPercentValue(v intstr.IntOrString) int {
	if n, ok := percentValue(v); ok {
		return n
	}
	return v.IntValue()
}

func notMoreThan100Percent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	if n, ok := percentValue(v); ok && n > 100 {
		return field.ErrorList{field.Invalid(fldPath, v, "must not be greater than 100%")}
	}
	return nil
}

func validateDeploymentUpdate(d, old *appsv1.Deployment) field.ErrorList {
	return immutable(d.Spec.Selector, old.Spec.Selector, field.NewPath("spec", "selector"))
}

func validateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	specPath := field.NewPath("spec")
	s := &rs.Spec
	allErrs := validateReplicas(s.Replicas, specPath.Child("replicas"))
	allErrs = append(allErrs, nonNegative(int64(s.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	selector, errs := validateWorkloadSelector(s.Selector, specPath.Child("selector"), "deployment")
	allErrs = append(allErrs, errs...)
	if selector != nil {
		allErrs = append(allErrs, validateReplicaTemplate(&s.Template, selector, specPath.Child("template"), "ReplicaSet")...)
	}
	return allErrs
}

func validateReplicaSetUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	return immutable(rs.Spec.Selector, old.Spec.Selector, field.NewPath("spec", "selector"))
}

// validateStatefulSet checks the policies, selector and template; the
// template's volume mounts may name volume claim templates.
func validateStatefulSet(ss *appsv1.StatefulSet) field.ErrorList {
	specPath := field.NewPath("spec")
	s := &ss.Spec
	var allErrs field.ErrorList
	switch s.PodManagementPolicy {
	case "":
		allErrs = append(allErrs, field.Required(specPath.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		allErrs = append(allErrs, field.Invalid(specPath.Child("podManagementPolicy"), s.PodManagementPolicy, "must be 'OrderedReady' or 'Parallel'"))
	}
	usPath := specPath.Child("updateStrategy")
	switch s.UpdateStrategy.Type {
	case "":
		allErrs = append(allErrs, field.Required(usPath, ""))
	case appsv1.OnDeleteStatefulSetStrategyType:
		if s.UpdateStrategy.RollingUpdate != nil {
			allErrs = append(allErrs, field.Invalid(usPath.Child("rollingUpdate"), s.UpdateStrategy.RollingUpdate, "only allowed for updateStrategy 'RollingUpdate'"))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := s.UpdateStrategy.RollingUpdate; ru != nil {
			if ru.Partition != nil {
				allErrs = append(allErrs, nonNegative(int64(*ru.Partition), usPath.Child("rollingUpdate", "partition"))...)
			}
			if mu := ru.MaxUnavailable; mu != nil {
				p := usPath.Child("rollingUpdate", "maxUnavailable")
				allErrs = append(allErrs, validatePositiveIntOrPercent(*mu, p)...)
				if intOrPercentValue(*mu) == 0 {
					allErrs = append(allErrs, field.Invalid(p, *mu, "cannot be 0"))
				}
				allErrs = append(allErrs, notMoreThan100Percent(*mu, p)...)
			}
		}
	default:
		allErrs = append(allErrs, field.Invalid(usPath, s.UpdateStrategy, "must be 'RollingUpdate' or 'OnDelete'"))
	}
	if p := s.PersistentVolumeClaimRetentionPolicy; p != nil {
		pp := specPath.Child("persistentVolumeClaimRetentionPolicy")
		valid := []appsv1.PersistentVolumeClaimRetentionPolicyType{appsv1.DeletePersistentVolumeClaimRetentionPolicyType, appsv1.RetainPersistentVolumeClaimRetentionPolicyType}
		allErrs = append(allErrs, validateEnum(pp.Child("whenDeleted"), p.WhenDeleted, valid...)...)
		allErrs = append(allErrs, validateEnum(pp.Child("whenScaled"), p.WhenScaled, valid...)...)
	}
	allErrs = append(allErrs, validateReplicas(s.Replicas, specPath.Child("replicas"))...)
	if s.Ordinals != nil {
		allErrs = append(allErrs, nonNegative(int64(s.Ordinals.Start), specPath.Child("ordinals", "start"))...)
	}
	if s.RevisionHistoryLimit != nil {
		allErrs = append(allErrs, nonNegative(int64(*s.RevisionHistoryLimit), specPath.Child("revisionHistoryLimit"))...)
	}
	allErrs = append(allErrs, nonNegative(int64(s.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	var claims []string
	for i, c := range s.VolumeClaimTemplates {
		allErrs = append(allErrs, dns1123Label(c.Name, specPath.Child("volumeClaimTemplates").Index(i).Child("metadata", "name"))...)
		claims = append(claims, c.Name)
	}
	selector, errs := validateWorkloadSelector(s.Selector, specPath.Child("selector"), "statefulset")
	allErrs = append(allErrs, errs...)
	tp := specPath.Child("template")
	if selector != nil {
		allErrs = append(allErrs, validateSelectorMatchesTemplate(selector, s.Template.Labels, tp.Child("metadata", "labels"))...)
	}
	allErrs = append(allErrs, validatePodTemplateSpec(&s.Template, tp, podOptions{claimVolumes: claims})...)
	if s.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		allErrs = append(allErrs, field.NotSupported(tp.Child("spec", "restartPolicy"), s.Template.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if s.Template.Spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, field.Invalid(tp.Child("spec", "activeDeadlineSeconds"), s.Template.Spec.ActiveDeadlineSeconds, "must not be specified"))
	}
	return allErrs
}

// validateStatefulSetUpdate allows only upstream's mutable spec fields to change.
func validateStatefulSetUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	s := ss.Spec.DeepCopy()
	s.Replicas = old.Spec.Replicas
	s.Ordinals = old.Spec.Ordinals
	s.Template = old.Spec.Template
	s.UpdateStrategy = old.Spec.UpdateStrategy
	s.RevisionHistoryLimit = old.Spec.RevisionHistoryLimit
	s.PersistentVolumeClaimRetentionPolicy = old.Spec.PersistentVolumeClaimRetentionPolicy
	s.MinReadySeconds = old.Spec.MinReadySeconds
	if !apiequality.Semantic.DeepEqual(*s, old.Spec) {
		return field.ErrorList{field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than 'replicas', 'ordinals', "+
			"'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")}
	}
	return nil
}

func validateDaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	specPath := field.NewPath("spec")
	s := &ds.Spec
	selector, allErrs := validateWorkloadSelector(s.Selector, specPath.Child("selector"), "daemonset")
	if selector != nil {
		allErrs = append(allErrs, validateReplicaTemplate(&s.Template, selector, specPath.Child("template"), "DaemonSet")...)
	}
	allErrs = append(allErrs, nonNegative(int64(s.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	if s.RevisionHistoryLimit != nil {
		allErrs = append(allErrs, nonNegative(int64(*s.RevisionHistoryLimit), specPath.Child("revisionHistoryLimit"))...)
	}
	usPath := specPath.Child("updateStrategy")
	switch u := s.UpdateStrategy; u.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if u.RollingUpdate == nil {
			return append(allErrs, field.Required(usPath.Child("rollingUpdate"), ""))
		}
		p := usPath.Child("rollingUpdate")
		maxUnavailable, maxSurge := intOrZero(u.RollingUpdate.MaxUnavailable), intOrZero(u.RollingUpdate.MaxSurge)
		allErrs = append(allErrs, validatePositiveIntOrPercent(maxUnavailable, p.Child("maxUnavailable"))...)
		allErrs = append(allErrs, validatePositiveIntOrPercent(maxSurge, p.Child("maxSurge"))...)
		allErrs = append(allErrs, notMoreThan100Percent(maxUnavailable, p.Child("maxUnavailable"))...)
		allErrs = append(allErrs, notMoreThan100Percent(maxSurge, p.Child("maxSurge"))...)
		hasUnavailable, hasSurge := intOrPercentValue(maxUnavailable) != 0, intOrPercentValue(maxSurge) != 0
		switch {
		case hasUnavailable && hasSurge:
			allErrs = append(allErrs, field.Invalid(p.Child("maxSurge"), maxSurge, "may not be set when maxUnavailable is non-zero"))
		case !hasUnavailable && !hasSurge:
			allErrs = append(allErrs, field.Required(p.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(usPath, u, []appsv1.DaemonSetUpdateStrategyType{appsv1.RollingUpdateDaemonSetStrategyType, appsv1.OnDeleteDaemonSetStrategyType}))
	}
	return allErrs
}

func validateDaemonSetUpdate(ds, old *appsv1.DaemonSet) field.ErrorList {
	return immutable(ds.Spec.Selector, old.Spec.Selector, field.NewPath("spec", "selector"))
}

func validateControllerRevision(cr *appsv1.ControllerRevision) field.ErrorList {
	var allErrs field.ErrorList
	if cr.Data.Raw == nil && cr.Data.Object == nil {
		allErrs = append(allErrs, field.Required(field.NewPath("data"), "data is mandatory"))
	}
	return append(allErrs, nonNegative(cr.Revision, field.NewPath("revision"))...)
}

func validateControllerRevisionUpdate(cr, old *appsv1.ControllerRevision) field.ErrorList {
	return immutable(cr.Data, old.Data, field.NewPath("data"))
}
