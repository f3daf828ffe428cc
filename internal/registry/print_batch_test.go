package registry

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

func jobWith(name string, conditions ...batchv1.JobConditionType) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: om(name, time.Hour), Spec: batchv1.JobSpec{Selector: selector(name), Template: template(name, "busybox")}}
	for _, c := range conditions {
		j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: c, Status: corev1.ConditionTrue})
	}
	return j
}

func TestJobStatus(t *testing.T) {
	tests := []struct {
		name string
		job  *batchv1.Job
		want string
	}{
		{"running", jobWith("j"), "Running"},
		{"complete", jobWith("j", batchv1.JobSuccessCriteriaMet, batchv1.JobComplete), "Complete"},
		{"failed", jobWith("j", batchv1.JobFailureTarget, batchv1.JobFailed), "Failed"},
		{"failing", jobWith("j", batchv1.JobFailureTarget), "FailureTarget"},
		{"suspended", jobWith("j", batchv1.JobSuspended), "Suspended"},
		{"terminating", func() *batchv1.Job {
			j := jobWith("j", batchv1.JobSuspended)
			j.DeletionTimestamp = agoPtr(0)
			return j
		}(), "Terminating"},
		{"false condition", func() *batchv1.Job {
			j := jobWith("j")
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionFalse}}
			return j
		}(), "Running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jobStatus(tt.job); got != tt.want {
				t.Errorf("jobStatus = %q, want %q", got, tt.want)
			}
		})
	}
}

func batchGolden() map[schema.GroupKind][]runtime.Object {
	done := jobWith("backup", batchv1.JobSuccessCriteriaMet, batchv1.JobComplete)
	done.Spec.Completions, done.Spec.Parallelism = ptr.To[int32](3), ptr.To[int32](1)
	done.Status = batchv1.JobStatus{Succeeded: 3, StartTime: agoPtr(time.Hour), CompletionTime: agoPtr(52 * time.Minute), Conditions: done.Status.Conditions}

	workers := jobWith("workers")
	workers.Spec.Parallelism = ptr.To[int32](4)
	workers.Status = batchv1.JobStatus{Succeeded: 1, Active: 3, StartTime: agoPtr(4*time.Minute + 30*time.Second)}

	pending := jobWith("pending", batchv1.JobSuspended)

	cron := &batchv1.CronJob{
		ObjectMeta: om("nightly", 30*24*time.Hour),
		Spec: batchv1.CronJobSpec{
			Schedule: "0 3 * * *", TimeZone: ptr.To("Europe/Paris"), Suspend: ptr.To(false),
			JobTemplate: batchv1.JobTemplateSpec{Spec: done.Spec},
		},
		Status: batchv1.CronJobStatus{Active: []corev1.ObjectReference{{Name: "nightly-1"}}, LastScheduleTime: agoPtr(9 * time.Hour)},
	}
	never := &batchv1.CronJob{ObjectMeta: om("never", time.Minute), Spec: batchv1.CronJobSpec{Schedule: "@hourly"}}

	return map[schema.GroupKind][]runtime.Object{
		{Group: "batch", Kind: "Job"}:     {done, workers, pending},
		{Group: "batch", Kind: "CronJob"}: {cron, never},
	}
}
