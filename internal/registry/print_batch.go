package registry

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

func jobTable() table {
	return table{
		columns: append([]TableColumn{
			nameColumn(),
			column("Status", "string", "Status of the job."),
			column("Completions", "string", batchv1.JobStatus{}.SwaggerDoc()["succeeded"]),
			column("Duration", "string", "Time required to complete the job."),
			ageColumn(),
		}, append(containerColumns(),
			wide(column("Selector", "string", batchv1.JobSpec{}.SwaggerDoc()["selector"])))...),
		row:    rowOf(jobRow),
		fields: fieldsOf(jobFields),
	}
}

func jobRow(j *batchv1.Job, now time.Time) []any {
	var completions string
	switch {
	case j.Spec.Completions != nil:
		completions = fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
	case deref(j.Spec.Parallelism) > 1:
		completions = fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, *j.Spec.Parallelism)
	default:
		completions = fmt.Sprintf("%d/1", j.Status.Succeeded)
	}

	var took string
	switch start, end := j.Status.StartTime, j.Status.CompletionTime; {
	case start == nil:
	case end == nil:
		took = duration.HumanDuration(now.Sub(start.Time))
	default:
		took = duration.HumanDuration(end.Sub(start.Time))
	}

	names, images := containerCells(j.Spec.Template.Spec.Containers)
	return []any{
		j.Name, jobStatus(j), completions, took, since(j.CreationTimestamp, now),
		names, images, metav1.FormatLabelSelector(j.Spec.Selector),
	}
}

// jobStatus is the STATUS cell: the first of Complete, Failed,
// Terminating (being deleted), Suspended, FailureTarget that holds, else
// Running.
func jobStatus(j *batchv1.Job) string {
	switch {
	case jobCondition(j, batchv1.JobComplete):
		return "Complete"
	case jobCondition(j, batchv1.JobFailed):
		return "Failed"
	case j.DeletionTimestamp != nil:
		return "Terminating"
	case jobCondition(j, batchv1.JobSuspended):
		return "Suspended"
	case jobCondition(j, batchv1.JobFailureTarget):
		return "FailureTarget"
	default:
		return "Running"
	}
}

// jobCondition reports whether the job's first condition of type t is true.
func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func cronJobTable() table {
	return table{
		columns: append([]TableColumn{
			nameColumn(),
			column("Schedule", "string", batchv1.CronJobSpec{}.SwaggerDoc()["schedule"]),
			column("Timezone", "string", batchv1.CronJobSpec{}.SwaggerDoc()["timeZone"]),
			column("Suspend", "boolean", batchv1.CronJobSpec{}.SwaggerDoc()["suspend"]),
			column("Active", "integer", batchv1.CronJobStatus{}.SwaggerDoc()["active"]),
			column("Last Schedule", "string", batchv1.CronJobStatus{}.SwaggerDoc()["lastScheduleTime"]),
			ageColumn(),
		}, append(containerColumns(),
			wide(column("Selector", "string", batchv1.JobSpec{}.SwaggerDoc()["selector"])))...),
		row: rowOf(func(c *batchv1.CronJob, now time.Time) []any {
			last := "<none>"
			if c.Status.LastScheduleTime != nil {
				last = since(*c.Status.LastScheduleTime, now)
			}
			zone := "<none>"
			if c.Spec.TimeZone != nil {
				zone = *c.Spec.TimeZone
			}
			job := c.Spec.JobTemplate.Spec
			names, images := containerCells(job.Template.Spec.Containers)
			return []any{
				c.Name, c.Spec.Schedule, zone, boolPtrCell(c.Spec.Suspend), int64(len(c.Status.Active)), last,
				since(c.CreationTimestamp, now), names, images, metav1.FormatLabelSelector(job.Selector),
			}
		}),
	}
}

// boolPtrCell is "True", "False", or "<unset>" for nil.
func boolPtrCell(b *bool) string {
	switch {
	case b == nil:
		return "<unset>"
	case *b:
		return "True"
	default:
		return "False"
	}
}
