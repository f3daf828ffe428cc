package registry

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDefaultJob(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   batchv1.Job
		want batchv1.Job
	}{{
		name: "generated selector and labels",
		in:   batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", UID: "u1"}},
		want: batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "pi", UID: "u1", Labels: map[string]string{
				"batch.kubernetes.io/controller-uid": "u1", "controller-uid": "u1", "batch.kubernetes.io/job-name": "pi", "job-name": "pi",
			}},
			Spec: batchv1.JobSpec{
				Completions: new(int32(1)), Parallelism: new(int32(1)), BackoffLimit: new(int32(6)),
				CompletionMode: new(batchv1.NonIndexedCompletion), Suspend: new(false), PodReplacementPolicy: new(batchv1.TerminatingOrFailed),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": "u1"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{
						"batch.kubernetes.io/controller-uid": "u1", "controller-uid": "u1", "batch.kubernetes.io/job-name": "pi", "job-name": "pi",
					}},
					Spec: defaultedEmptyPodSpec(),
				},
			},
		},
	}, {
		name: "manual selector, parallelism only, per-index backoff, failure policy",
		in: batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", UID: "u2"}, Spec: batchv1.JobSpec{
			ManualSelector: new(true), Parallelism: new(int32(3)), BackoffLimitPerIndex: new(int32(1)),
			PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}},
			}}},
		}},
		want: batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", UID: "u2"}, Spec: batchv1.JobSpec{
			ManualSelector: new(true), Parallelism: new(int32(3)), BackoffLimitPerIndex: new(int32(1)), BackoffLimit: new(int32(math.MaxInt32)),
			CompletionMode: new(batchv1.NonIndexedCompletion), Suspend: new(false), PodReplacementPolicy: new(batchv1.Failed),
			PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
			}}},
			Template: corev1.PodTemplateSpec{Spec: defaultedEmptyPodSpec()},
		}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			j := tc.in.DeepCopy()
			defaultJob(j)
			if diff := cmp.Diff(&tc.want, j); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDefaultCronJob(t *testing.T) {
	cj := &batchv1.CronJob{}
	defaultCronJob(cj)
	want := batchv1.CronJobSpec{
		ConcurrencyPolicy: batchv1.AllowConcurrent, Suspend: new(false),
		SuccessfulJobsHistoryLimit: new(int32(3)), FailedJobsHistoryLimit: new(int32(1)),
		JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: defaultedEmptyPodSpec()}}},
	}
	if diff := cmp.Diff(want, cj.Spec); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
