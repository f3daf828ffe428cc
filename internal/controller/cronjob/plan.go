package cronjob

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// event is an Event to record on the CronJob, with upstream's reason.
type event struct {
	typ, reason, msg string
}

// plan is what one sync does for a CronJob, in order: delete replace
// (concurrencyPolicy Replace), create create, write status (with the
// created Job added to active and lastScheduleTime set to scheduled),
// delete trim (finished Jobs beyond the history limits), sync again at wake.
type plan struct {
	status    batchv1.CronJobStatus
	events    []event
	replace   []corev1.ObjectReference
	create    *batchv1.Job
	scheduled time.Time
	trim      []*batchv1.Job
	// wake is when to sync again for the next schedule time; zero means
	// only on events (suspended, being deleted, or a schedule or time
	// zone that cannot run). It is a time, not a delay, so that a sync
	// that took a while still wakes on time.
	wake time.Time
}

// decide plans a sync of cj at now from the Jobs it controls; gone holds
// the UIDs of Jobs in status.active that the API server confirmed are no
// longer there. It follows upstream's controller step by step and does
// not modify its arguments.
func decide(cj *batchv1.CronJob, jobs []*batchv1.Job, gone map[types.UID]bool, now time.Time) plan {
	p := plan{status: *cj.Status.DeepCopy()}
	st := &p.status
	p.trim = trim(cj, jobs)
	seen := map[types.UID]bool{}
	for _, j := range jobs {
		seen[j.UID] = true
		active := inActive(st, j.UID)
		cond, done := finishedCondition(j)
		switch {
		case !active && !done:
			p.event(corev1.EventTypeWarning, "UnexpectedJob", "Saw a job that the controller did not create or forgot: %s", j.Name)
		case active && done:
			removeActive(st, j.UID)
			p.event(corev1.EventTypeNormal, "SawCompletedJob", "Saw completed job: %s, condition: %v", j.Name, cond)
		}
		if cond == batchv1.JobComplete && j.Status.CompletionTime != nil &&
			(st.LastSuccessfulTime == nil || j.Status.CompletionTime.After(st.LastSuccessfulTime.Time)) {
			st.LastSuccessfulTime = j.Status.CompletionTime.DeepCopy()
		}
	}
	for _, ref := range slices.Clone(st.Active) {
		if !seen[ref.UID] && gone[ref.UID] {
			removeActive(st, ref.UID)
			p.event(corev1.EventTypeNormal, "MissingJob", "Active job went missing: %v", ref.Name)
		}
	}
	for _, j := range p.trim {
		removeActive(st, j.UID)
	}

	if cj.DeletionTimestamp != nil {
		return p
	}
	if tz := cj.Spec.TimeZone; tz != nil {
		if _, err := time.LoadLocation(*tz); err != nil {
			p.event(corev1.EventTypeWarning, "UnknownTimeZone", "invalid timeZone: %q: %s", *tz, err)
			return p
		}
	}
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return p
	}
	if strings.Contains(cj.Spec.Schedule, "TZ") {
		p.event(corev1.EventTypeWarning, "UnsupportedSchedule", "CRON_TZ or TZ used in schedule %q is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details", cj.Spec.Schedule)
	}
	sched, err := parseSchedule(cj)
	if err != nil {
		p.event(corev1.EventTypeWarning, "UnparseableSchedule", "unparseable schedule: %q : %s", cj.Spec.Schedule, err)
		return p
	}
	// Schedule math sees the status as it is now, active list included.
	cur := cj.DeepCopy()
	cur.Status = *st.DeepCopy()
	scheduled, many, err := nextRun(cur, now, sched)
	if err != nil {
		p.event(corev1.EventTypeWarning, "InvalidSchedule", "invalid schedule: %s : %s", cj.Spec.Schedule, err)
		return p
	}
	if many {
		p.event(corev1.EventTypeWarning, "TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
	}
	p.wake = wakeAt(cur, now, sched)
	if scheduled.IsZero() {
		return p
	}
	name := jobName(cj, scheduled)
	if slices.ContainsFunc(st.Active, func(r corev1.ObjectReference) bool { return r.Name == name }) ||
		st.LastScheduleTime != nil && st.LastScheduleTime.Time.Equal(scheduled) {
		return p
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(st.Active) > 0 {
			p.event(corev1.EventTypeNormal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
			return p
		}
	case batchv1.ReplaceConcurrent:
		p.replace = slices.Clone(st.Active)
	}
	p.create = newJob(cj, scheduled)
	p.scheduled = scheduled
	cur.Status.LastScheduleTime = &metav1.Time{Time: scheduled}
	p.wake = wakeAt(cur, now, sched)
	return p
}

func (p *plan) event(typ, reason, format string, args ...any) {
	p.events = append(p.events, event{typ: typ, reason: reason, msg: fmt.Sprintf(format, args...)})
}

// newJob returns cj's Job for the schedule time scheduled: the job
// template's labels, annotations and spec, the scheduled time (in the
// CronJob's time zone) in the batch.kubernetes.io/cronjob-scheduled-timestamp
// annotation, a name unique per minute and cj as controller.
func newJob(cj *batchv1.CronJob, scheduled time.Time) *batchv1.Job {
	tmpl := cj.Spec.JobTemplate.DeepCopy()
	ann := maps.Clone(tmpl.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	loc := time.UTC
	if tz := cj.Spec.TimeZone; tz != nil {
		if l, err := time.LoadLocation(*tz); err == nil {
			loc = l
		}
	}
	ann[batchv1.CronJobScheduledTimestampAnnotation] = scheduled.In(loc).Format(time.RFC3339)
	labels := maps.Clone(tmpl.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            jobName(cj, scheduled),
			Namespace:       cj.Namespace,
			Labels:          labels,
			Annotations:     ann,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, batchv1.SchemeGroupVersion.WithKind("CronJob"))},
		},
		Spec: tmpl.Spec,
	}
}

// trim returns the finished Jobs beyond cj's history limits, oldest
// first: by status.startTime (a Job never started counts as newest), then
// by name. A nil limit keeps every Job of its kind.
func trim(cj *batchv1.CronJob, jobs []*batchv1.Job) []*batchv1.Job {
	var succeeded, failed []*batchv1.Job
	for _, j := range jobs {
		switch cond, _ := finishedCondition(j); cond {
		case batchv1.JobComplete:
			succeeded = append(succeeded, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	var out []*batchv1.Job
	for _, c := range []struct {
		jobs  []*batchv1.Job
		limit *int32
	}{{succeeded, cj.Spec.SuccessfulJobsHistoryLimit}, {failed, cj.Spec.FailedJobsHistoryLimit}} {
		if c.limit == nil || len(c.jobs) <= int(*c.limit) {
			continue
		}
		slices.SortFunc(c.jobs, byStartTime)
		out = append(out, c.jobs[:len(c.jobs)-int(*c.limit)]...)
	}
	return out
}

func byStartTime(a, b *batchv1.Job) int {
	sa, sb := a.Status.StartTime, b.Status.StartTime
	switch {
	case sa == nil && sb != nil:
		return 1
	case sa != nil && sb == nil:
		return -1
	case sa != nil && !sa.Equal(sb):
		return sa.Compare(sb.Time)
	}
	switch {
	case a.Name < b.Name:
		return -1
	case a.Name > b.Name:
		return 1
	}
	return 0
}

// finishedCondition returns Complete or Failed when the Job has that
// condition True.
func finishedCondition(j *batchv1.Job) (batchv1.JobConditionType, bool) {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type, true
		}
	}
	return "", false
}

func inActive(st *batchv1.CronJobStatus, uid types.UID) bool {
	return slices.ContainsFunc(st.Active, func(r corev1.ObjectReference) bool { return r.UID == uid })
}

func removeActive(st *batchv1.CronJobStatus, uid types.UID) {
	st.Active = slices.DeleteFunc(st.Active, func(r corev1.ObjectReference) bool { return r.UID == uid })
	if len(st.Active) == 0 {
		st.Active = nil
	}
}
