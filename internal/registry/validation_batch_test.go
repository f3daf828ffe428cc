package registry

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func batch(kind string) schema.GroupKind { return schema.GroupKind{Group: "batch", Kind: kind} }

func jobTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		Containers:    []corev1.Container{{Name: "pi", Image: "perl:5.34", Command: []string{"perl", "-e", "print 1"}}},
	}}
}

func job(mutate func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: "0f4f"}, Spec: batchv1.JobSpec{Template: jobTemplate()}}
	if mutate != nil {
		mutate(j)
	}
	return j
}

func TestValidateJob(t *testing.T) {
	started := job(nil)
	defaultJob(started)
	suspended := started.DeepCopy()
	suspended.Spec.Suspend = new(true)
	runChecks(t, batch("Job"), []checkCase{
		{name: "valid with generated selector", obj: job(nil)},
		{name: "valid with manual selector", obj: job(func(j *batchv1.Job) {
			j.Spec.ManualSelector = new(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
			j.Spec.Template.Labels = map[string]string{"app": "pi"}
		})},
		{name: "restart policy left to default", obj: job(func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "" }),
			want: want("FieldValueNotSupported spec.template.spec.restartPolicy")},
		{name: "manual selector required", obj: job(func(j *batchv1.Job) { j.Spec.ManualSelector = new(true) }),
			want: want("FieldValueRequired spec.selector", "FieldValueInvalid spec.template.metadata.labels")},
		{name: "manual selector mismatch", obj: job(func(j *batchv1.Job) {
			j.Spec.ManualSelector = new(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
		}), want: want("FieldValueInvalid spec.template.metadata.labels")},
		{name: "no uid to generate from", obj: job(func(j *batchv1.Job) { j.UID = "" }),
			want: want("FieldValueRequired spec.selector", "FieldValueInvalid spec.template.metadata.labels")},
		{name: "negative counts", obj: job(func(j *batchv1.Job) {
			j.Spec.Parallelism, j.Spec.Completions, j.Spec.BackoffLimit = new(int32(-1)), new(int32(-1)), new(int32(-1))
		}), want: want("FieldValueInvalid spec.parallelism", "FieldValueInvalid spec.completions", "FieldValueInvalid spec.backoffLimit")},
		{name: "indexed needs completions", obj: job(func(j *batchv1.Job) {
			j.Spec.CompletionMode = new(batchv1.IndexedCompletion)
			j.Spec.Parallelism = new(int32(2))
		}), want: want("FieldValueRequired spec.completions")},
		{name: "per index backoff needs indexed", obj: job(func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = new(int32(1)) }),
			want: want("FieldValueRequired spec.completionMode")},
		{name: "failure policy needs Never", obj: job(func(j *batchv1.Job) {
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: "In", Values: []int32{42}},
			}}}
		}), want: want("FieldValueInvalid spec.template.spec.restartPolicy")},
		{name: "parallelism may change", obj: func() *batchv1.Job { j := started.DeepCopy(); j.Spec.Parallelism = new(int32(3)); return j }(), old: started},
		{name: "completions immutable", obj: func() *batchv1.Job { j := started.DeepCopy(); j.Spec.Completions = new(int32(3)); return j }(),
			old: started, want: want("FieldValueInvalid spec.completions")},
		{name: "template immutable", obj: func() *batchv1.Job {
			j := started.DeepCopy()
			j.Spec.Template.Spec.Containers[0].Image = "perl:5.36"
			return j
		}(), old: started, want: want("FieldValueInvalid spec.template")},
		{name: "suspended job may move", obj: func() *batchv1.Job {
			j := suspended.DeepCopy()
			j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"}
			return j
		}(), old: suspended},
		{name: "running job may not move", obj: func() *batchv1.Job {
			j := started.DeepCopy()
			j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"}
			return j
		}(), old: started, want: want("FieldValueInvalid spec.template")},
	})
}

func TestValidateCronJob(t *testing.T) {
	cron := func(mutate func(*batchv1.CronJobSpec)) *batchv1.CronJob {
		c := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default"}, Spec: batchv1.CronJobSpec{
			Schedule: "*/1 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: jobTemplate()}},
		}}
		if mutate != nil {
			mutate(&c.Spec)
		}
		return c
	}
	runChecks(t, batch("CronJob"), []checkCase{
		{name: "valid", obj: cron(nil)},
		{name: "with time zone", obj: cron(func(s *batchv1.CronJobSpec) { s.TimeZone = new("Europe/Paris") })},
		{name: "schedule required", obj: cron(func(s *batchv1.CronJobSpec) { s.Schedule = "" }), want: want("FieldValueRequired spec.schedule")},
		{name: "schedule unparsable", obj: cron(func(s *batchv1.CronJobSpec) { s.Schedule = "every minute" }), want: want("FieldValueInvalid spec.schedule")},
		{name: "TZ in schedule", obj: cron(func(s *batchv1.CronJobSpec) { s.Schedule = "CRON_TZ=UTC 0 * * * *" }), want: want("FieldValueInvalid spec.schedule")},
		{name: "bad time zone", obj: cron(func(s *batchv1.CronJobSpec) { s.TimeZone = new("Mars/Olympus") }), want: want("FieldValueInvalid spec.timeZone")},
		{name: "concurrency policy", obj: cron(func(s *batchv1.CronJobSpec) { s.ConcurrencyPolicy = "Queue" }),
			want: want("FieldValueNotSupported spec.concurrencyPolicy")},
		{name: "template selector", obj: cron(func(s *batchv1.CronJobSpec) {
			s.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
		}), want: want("FieldValueInvalid spec.jobTemplate.spec.selector")},
		{name: "template restart policy", obj: cron(func(s *batchv1.CronJobSpec) {
			s.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		}),
			want: want("FieldValueNotSupported spec.jobTemplate.spec.template.spec.restartPolicy")},
	})
}
