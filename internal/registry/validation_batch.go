package registry

import (
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxIndexedJobSize bounds completions and parallelism of Indexed Jobs.
const maxIndexedJobSize = 100000

// validateJob checks the spec, the selector (manual, or the one generated
// from the uid, see defaultJob) and that it selects the template.
func validateJob(j *batchv1.Job) field.ErrorList {
	specPath := field.NewPath("spec")
	allErrs := validateGeneratedSelector(j)
	allErrs = append(allErrs, validateJobSpec(&j.Spec, specPath)...)
	if j.Spec.Selector == nil {
		allErrs = append(allErrs, field.Required(specPath.Child("selector"), ""))
	} else {
		allErrs = append(allErrs, metavalidation.ValidateLabelSelector(j.Spec.Selector, metavalidation.LabelSelectorValidationOptions{}, specPath.Child("selector"))...)
	}
	if selector, err := metav1.LabelSelectorAsSelector(j.Spec.Selector); err == nil && !selector.Matches(labels.Set(j.Spec.Template.Labels)) {
		allErrs = append(allErrs, field.Invalid(specPath.Child("template", "metadata", "labels"), j.Spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	return allErrs
}

func validateGeneratedSelector(j *batchv1.Job) field.ErrorList {
	if j.Spec.ManualSelector != nil && *j.Spec.ManualSelector || j.Spec.Selector == nil {
		return nil
	}
	var allErrs field.ErrorList
	if j.UID == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("metadata", "uid"), ""))
	}
	meta := field.NewPath("spec", "template", "metadata")
	uid := string(j.UID)
	for _, l := range [][2]string{{legacyJobControllerUIDLabel, uid}, {legacyJobNameLabel, j.Name}, {jobControllerUIDLabel, uid}, {jobNameLabel, j.Name}} {
		p := meta.Child("labels").Key(l[0])
		switch v, ok := j.Spec.Template.Labels[l[0]]; {
		case !ok:
			allErrs = append(allErrs, field.Required(p, fmt.Sprintf("must be '%s'", l[1])))
		case v != l[1]:
			allErrs = append(allErrs, field.Invalid(p, j.Spec.Template.Labels, fmt.Sprintf("must be '%s'", l[1])))
		}
	}
	selector, err := metav1.LabelSelectorAsSelector(j.Spec.Selector)
	if err != nil {
		return append(allErrs, field.Invalid(field.NewPath("spec", "selector"), j.Spec.Selector, "invalid label selector"))
	}
	if !selector.Matches(labels.Set{legacyJobControllerUIDLabel: uid, jobControllerUIDLabel: uid}) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "selector"), j.Spec.Selector, "`selector` not auto-generated"))
	}
	return allErrs
}

// validateJobSpec holds the checks shared by Jobs and CronJob job templates.
func validateJobSpec(s *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, f := range []struct {
		name string
		v    *int32
	}{{"parallelism", s.Parallelism}, {"completions", s.Completions}, {"backoffLimit", s.BackoffLimit},
		{"ttlSecondsAfterFinished", s.TTLSecondsAfterFinished}, {"backoffLimitPerIndex", s.BackoffLimitPerIndex}, {"maxFailedIndexes", s.MaxFailedIndexes}} {
		if f.v != nil {
			allErrs = append(allErrs, nonNegative(int64(*f.v), fldPath.Child(f.name))...)
		}
	}
	if s.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, nonNegative(*s.ActiveDeadlineSeconds, fldPath.Child("activeDeadlineSeconds"))...)
	}
	indexed := s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion
	if m := s.CompletionMode; m != nil {
		allErrs = append(allErrs, validateEnum(fldPath.Child("completionMode"), *m, batchv1.NonIndexedCompletion, batchv1.IndexedCompletion)...)
	}
	if indexed {
		if s.Completions == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("completions"), "when completion mode is Indexed"))
		} else if *s.Completions > maxIndexedJobSize {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("completions"), *s.Completions,
				fmt.Sprintf("must be less than or equal to %d when completion mode is Indexed", maxIndexedJobSize)))
		}
		if s.Parallelism != nil && *s.Parallelism > maxIndexedJobSize {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("parallelism"), *s.Parallelism,
				fmt.Sprintf("must be less than or equal to %d when completion mode is Indexed", maxIndexedJobSize)))
		}
	}
	if s.BackoffLimitPerIndex != nil && !indexed {
		allErrs = append(allErrs, field.Required(fldPath.Child("completionMode"), "when backoffLimitPerIndex is specified, completionMode must be \"Indexed\""))
	}
	if s.MaxFailedIndexes != nil && s.BackoffLimitPerIndex == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
	}
	if p := s.PodReplacementPolicy; p != nil {
		if s.PodFailurePolicy != nil && *p != batchv1.Failed {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("podReplacementPolicy"), *p, []batchv1.PodReplacementPolicy{batchv1.Failed}))
		} else {
			allErrs = append(allErrs, validateEnum(fldPath.Child("podReplacementPolicy"), *p, batchv1.TerminatingOrFailed, batchv1.Failed)...)
		}
	}
	if m := s.ManagedBy; m != nil {
		if len(*m) > 63 {
			allErrs = append(allErrs, field.TooLong(fldPath.Child("managedBy"), *m, 63))
		}
		allErrs = append(allErrs, validation.IsDomainPrefixedPath(fldPath.Child("managedBy"), *m)...)
	}
	allErrs = append(allErrs, validatePodFailurePolicy(s, fldPath.Child("podFailurePolicy"))...)
	tp := fldPath.Child("template")
	allErrs = append(allErrs, validatePodTemplateSpec(&s.Template, tp, podOptions{})...)
	if rp := s.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever {
		allErrs = append(allErrs, field.NotSupported(tp.Child("spec", "restartPolicy"), rp, []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	} else if rp == corev1.RestartPolicyOnFailure && s.PodFailurePolicy != nil {
		allErrs = append(allErrs, field.Invalid(tp.Child("spec", "restartPolicy"), rp, "only \"Never\" is supported when podFailurePolicy is specified"))
	}
	return allErrs
}

func validatePodFailurePolicy(s *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	if s.PodFailurePolicy == nil {
		return nil
	}
	var allErrs field.ErrorList
	actions := []batchv1.PodFailurePolicyAction{batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyActionFailIndex,
		batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore}
	for i, r := range s.PodFailurePolicy.Rules {
		p := fldPath.Child("rules").Index(i)
		allErrs = append(allErrs, validateEnum(p.Child("action"), r.Action, actions...)...)
		if r.Action == batchv1.PodFailurePolicyActionFailIndex && s.BackoffLimitPerIndex == nil {
			allErrs = append(allErrs, field.Invalid(p.Child("action"), r.Action, "requires the backoffLimitPerIndex to be set"))
		}
		switch {
		case r.OnExitCodes != nil && r.OnPodConditions != nil:
			allErrs = append(allErrs, field.Invalid(p, field.OmitValueType{}, "specifying both OnExitCodes and OnPodConditions is not supported"))
		case r.OnExitCodes == nil && r.OnPodConditions == nil:
			allErrs = append(allErrs, field.Invalid(p, field.OmitValueType{}, "specifying one of OnExitCodes and OnPodConditions is required"))
		case r.OnExitCodes != nil:
			ep := p.Child("onExitCodes")
			allErrs = append(allErrs, validateEnum(ep.Child("operator"), r.OnExitCodes.Operator,
				batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn)...)
			if len(r.OnExitCodes.Values) == 0 {
				allErrs = append(allErrs, field.Invalid(ep.Child("values"), r.OnExitCodes.Values, "at least one value is required"))
			}
		default:
			for j, c := range r.OnPodConditions {
				cp := p.Child("onPodConditions").Index(j)
				allErrs = append(allErrs, qualifiedName(string(c.Type), cp.Child("type"))...)
				allErrs = append(allErrs, validateEnum(cp.Child("status"), c.Status, corev1.ConditionFalse, corev1.ConditionTrue, corev1.ConditionUnknown)...)
			}
		}
	}
	return allErrs
}

// validateJobUpdate keeps the selector, completion mode, failure policies
// and template, except that a suspended Job that never started may change
// its template's scheduling directives, labels and annotations, and an
// Indexed Job may scale completions together with parallelism.
func validateJobUpdate(j, old *batchv1.Job) field.ErrorList {
	specPath := field.NewPath("spec")
	s, o := &j.Spec, &old.Spec
	var allErrs field.ErrorList
	if !apiequality.Semantic.DeepEqual(s.Completions, o.Completions) {
		indexed := s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion
		switch {
		case !indexed:
			allErrs = append(allErrs, immutable(s.Completions, o.Completions, specPath.Child("completions"))...)
		case s.Completions == nil || s.Parallelism == nil || *s.Completions != *s.Parallelism:
			allErrs = append(allErrs, field.Invalid(specPath.Child("completions"), s.Completions, "can only be modified in tandem with spec.parallelism"))
		}
	}
	allErrs = append(allErrs, immutable(s.Selector, o.Selector, specPath.Child("selector"))...)
	allErrs = append(allErrs, immutable(s.CompletionMode, o.CompletionMode, specPath.Child("completionMode"))...)
	allErrs = append(allErrs, immutable(s.PodFailurePolicy, o.PodFailurePolicy, specPath.Child("podFailurePolicy"))...)
	allErrs = append(allErrs, immutable(s.BackoffLimitPerIndex, o.BackoffLimitPerIndex, specPath.Child("backoffLimitPerIndex"))...)
	allErrs = append(allErrs, immutable(s.ManagedBy, o.ManagedBy, specPath.Child("managedBy"))...)
	allErrs = append(allErrs, immutable(s.SuccessPolicy, o.SuccessPolicy, specPath.Child("successPolicy"))...)
	oldTemplate := &o.Template
	if o.Suspend != nil && *o.Suspend && old.Status.StartTime == nil {
		oldTemplate = o.Template.DeepCopy()
		switch n, a := s.Template.Spec.Affinity, oldTemplate.Spec.Affinity; {
		case n == nil && a != nil:
			a.NodeAffinity = nil
			if *a == (corev1.Affinity{}) {
				oldTemplate.Spec.Affinity = nil
			}
		case n != nil && a == nil:
			oldTemplate.Spec.Affinity = &corev1.Affinity{NodeAffinity: n.NodeAffinity}
		case n != nil && a != nil:
			a.NodeAffinity = n.NodeAffinity
		}
		oldTemplate.Spec.NodeSelector = s.Template.Spec.NodeSelector
		oldTemplate.Spec.Tolerations = s.Template.Spec.Tolerations
		oldTemplate.Spec.SchedulingGates = s.Template.Spec.SchedulingGates
		oldTemplate.Annotations = s.Template.Annotations
		oldTemplate.Labels = s.Template.Labels
	}
	return append(allErrs, immutable(&s.Template, oldTemplate, specPath.Child("template"))...)
}

// validateCronJob checks the schedule, time zone, concurrency policy and
// job template; the template's selector is always generated.
func validateCronJob(cj *batchv1.CronJob) field.ErrorList {
	specPath := field.NewPath("spec")
	s := &cj.Spec
	var allErrs field.ErrorList
	if len(cj.Name) > validation.DNS1035LabelMaxLength-11 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("metadata", "name"), cj.Name, "must be no more than 52 characters"))
	}
	sp := specPath.Child("schedule")
	if s.Schedule == "" {
		allErrs = append(allErrs, field.Required(sp, ""))
	} else {
		if err := checkCronSchedule(s.Schedule); err != nil {
			allErrs = append(allErrs, field.Invalid(sp, s.Schedule, err.Error()))
		}
		if strings.Contains(s.Schedule, "TZ") {
			allErrs = append(allErrs, field.Invalid(sp, s.Schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
		}
	}
	if s.StartingDeadlineSeconds != nil {
		allErrs = append(allErrs, nonNegative(*s.StartingDeadlineSeconds, specPath.Child("startingDeadlineSeconds"))...)
	}
	if tz := s.TimeZone; tz != nil {
		tzPath := specPath.Child("timeZone")
		switch _, err := time.LoadLocation(*tz); {
		case *tz == "":
			allErrs = append(allErrs, field.Invalid(tzPath, tz, "timeZone must be nil or non-empty string"))
		case strings.EqualFold(*tz, "Local"):
			allErrs = append(allErrs, field.Invalid(tzPath, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
		case err != nil:
			allErrs = append(allErrs, field.Invalid(tzPath, tz, err.Error()))
		}
	}
	allErrs = append(allErrs, validateEnum(specPath.Child("concurrencyPolicy"), s.ConcurrencyPolicy,
		batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent)...)
	jtPath := specPath.Child("jobTemplate", "spec")
	allErrs = append(allErrs, metavalidation.ValidateLabels(s.JobTemplate.Labels, specPath.Child("jobTemplate", "metadata", "labels"))...)
	allErrs = append(allErrs, validateJobSpec(&s.JobTemplate.Spec, jtPath)...)
	if s.JobTemplate.Spec.Selector != nil {
		allErrs = append(allErrs, field.Invalid(jtPath.Child("selector"), s.JobTemplate.Spec.Selector, "`selector` will be auto-generated"))
	}
	if m := s.JobTemplate.Spec.ManualSelector; m != nil && *m {
		allErrs = append(allErrs, field.NotSupported(jtPath.Child("manualSelector"), m, []string{"nil", "false"}))
	}
	for _, l := range []struct {
		name string
		v    *int32
	}{{"successfulJobsHistoryLimit", s.SuccessfulJobsHistoryLimit}, {"failedJobsHistoryLimit", s.FailedJobsHistoryLimit}} {
		if l.v != nil {
			allErrs = append(allErrs, nonNegative(int64(*l.v), specPath.Child(l.name))...)
		}
	}
	return allErrs
}
