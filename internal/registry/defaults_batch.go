package registry

import (
	"maps"
	"math"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels the API server's Job defaulting puts on the pods of a Job whose
// selector it generates.
const (
	jobControllerUIDLabel       = "batch.kubernetes.io/controller-uid"
	jobNameLabel                = "batch.kubernetes.io/job-name"
	legacyJobControllerUIDLabel = "controller-uid"
	legacyJobNameLabel          = "job-name"
)

// defaultJob fills the Job defaults. Completions and parallelism both
// default to 1 only when both are unset; otherwise parallelism alone does.
// Unless spec.manualSelector is true, a Job that has its uid gets the
// generated selector on batch.kubernetes.io/controller-uid and the matching
// template labels, as upstream's create strategy does; the API server must
// therefore set metadata.uid before calling Default on create.
func defaultJob(j *batchv1.Job) {
	s := &j.Spec
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions = new(int32(1))
	}
	if s.Parallelism == nil {
		s.Parallelism = new(int32(1))
	}
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			s.BackoffLimit = new(int32(math.MaxInt32))
		} else {
			s.BackoffLimit = new(int32(6))
		}
	}
	if s.CompletionMode == nil {
		s.CompletionMode = new(batchv1.NonIndexedCompletion)
	}
	if s.Suspend == nil {
		s.Suspend = new(false)
	}
	if s.PodReplacementPolicy == nil {
		if s.PodFailurePolicy != nil {
			s.PodReplacementPolicy = new(batchv1.Failed)
		} else {
			s.PodReplacementPolicy = new(batchv1.TerminatingOrFailed)
		}
	}
	if (s.ManualSelector == nil || !*s.ManualSelector) && j.UID != "" {
		uid := string(j.UID)
		if s.Template.Labels == nil {
			s.Template.Labels = map[string]string{}
		}
		for k, v := range map[string]string{
			jobControllerUIDLabel: uid, legacyJobControllerUIDLabel: uid,
			jobNameLabel: j.Name, legacyJobNameLabel: j.Name,
		} {
			if _, ok := s.Template.Labels[k]; !ok {
				s.Template.Labels[k] = v
			}
		}
		if s.Selector == nil {
			s.Selector = &metav1.LabelSelector{}
		}
		if s.Selector.MatchLabels == nil {
			s.Selector.MatchLabels = map[string]string{}
		}
		if _, ok := s.Selector.MatchLabels[jobControllerUIDLabel]; !ok {
			s.Selector.MatchLabels[jobControllerUIDLabel] = uid
		}
	}
	// Upstream copies the template labels when it decodes a stored Job, so
	// they include the generated ones.
	if s.Template.Labels != nil && len(j.Labels) == 0 {
		j.Labels = maps.Clone(s.Template.Labels)
	}
	defaultJobSpecCommon(s)
}

// defaultJobSpecCommon holds the defaults shared by Jobs and CronJob job
// templates: the pod template and pod failure policy condition status.
func defaultJobSpecCommon(s *batchv1.JobSpec) {
	if p := s.PodFailurePolicy; p != nil {
		for i := range p.Rules {
			for j := range p.Rules[i].OnPodConditions {
				if c := &p.Rules[i].OnPodConditions[j]; c.Status == "" {
					c.Status = corev1.ConditionTrue
				}
			}
		}
	}
	defaultPodTemplateSpec(&s.Template)
}

func defaultCronJob(cj *batchv1.CronJob) {
	s := &cj.Spec
	if s.ConcurrencyPolicy == "" {
		s.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if s.Suspend == nil {
		s.Suspend = new(false)
	}
	if s.SuccessfulJobsHistoryLimit == nil {
		s.SuccessfulJobsHistoryLimit = new(int32(3))
	}
	if s.FailedJobsHistoryLimit == nil {
		s.FailedJobsHistoryLimit = new(int32(1))
	}
	defaultJobSpecCommon(&s.JobTemplate.Spec)
}
