package cronjob

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// job returns a Job cj controls, started at start, finished with cond
// ("" for running).
func job(cj *batchv1.CronJob, name string, start time.Time, cond batchv1.JobConditionType) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: cj.Namespace, UID: types.UID(name + "-uid"),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, batchv1.SchemeGroupVersion.WithKind("CronJob"))},
		},
		Status: batchv1.JobStatus{StartTime: &metav1.Time{Time: start}},
	}
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue}}
		if cond == batchv1.JobComplete {
			j.Status.CompletionTime = &metav1.Time{Time: start.Add(10 * time.Second)}
		}
	}
	return j
}

func ref(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "Job", APIVersion: "batch/v1", Namespace: j.Namespace, Name: j.Name, UID: j.UID}
}

func active(refs ...corev1.ObjectReference) func(*batchv1.CronJob) {
	return func(cj *batchv1.CronJob) { cj.Status.Active = refs }
}

func policy(p batchv1.ConcurrencyPolicy) func(*batchv1.CronJob) {
	return func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = p }
}

// outcome is the part of a plan a test compares.
type outcome struct {
	Status  batchv1.CronJobStatus
	Reasons []string
	Replace []string
	Create  string
	Trim    []string
	Requeue time.Duration
}

func outcomeOf(p plan, now time.Time) outcome {
	o := outcome{Status: p.status}
	if !p.wake.IsZero() {
		o.Requeue = p.wake.Sub(now)
	}
	for _, e := range p.events {
		o.Reasons = append(o.Reasons, e.reason)
	}
	for _, r := range p.replace {
		o.Replace = append(o.Replace, r.Name)
	}
	if p.create != nil {
		o.Create = p.create.Name
	}
	for _, j := range p.trim {
		o.Trim = append(o.Trim, j.Name)
	}
	return o
}

func TestDecide(t *testing.T) {
	base := cronJob("*/1 * * * *")
	running := job(base, "cj-1", t0.Add(time.Minute), "")
	done := job(base, "cj-1", t0.Add(time.Minute), batchv1.JobComplete)
	failed := job(base, "cj-1", t0.Add(time.Minute), batchv1.JobFailed)
	lst := func(d time.Duration) *metav1.Time { return &metav1.Time{Time: t0.Add(d)} }
	now := t0.Add(2*time.Minute + 10*time.Second)
	next := 50*time.Second + requeueDelta
	jobAt2 := jobName(base, t0.Add(2*time.Minute))

	tests := []struct {
		name string
		cj   *batchv1.CronJob
		jobs []*batchv1.Job
		gone []types.UID
		now  time.Time
		want outcome
	}{
		{
			name: "first run", cj: cronJob("*/1 * * * *"), now: now,
			want: outcome{Create: jobAt2, Requeue: next},
		},
		{
			name: "not due", cj: cronJob("*/1 * * * *"), now: t0.Add(30 * time.Second),
			want: outcome{Requeue: 30*time.Second + requeueDelta},
		},
		{
			name: "already run at this time", cj: cronJob("*/1 * * * *", lastSchedule(t0.Add(2*time.Minute))), now: now,
			want: outcome{Status: batchv1.CronJobStatus{LastScheduleTime: lst(2 * time.Minute)}, Requeue: next},
		},
		{
			name: "allow runs beside an active job",
			cj:   cronJob("*/1 * * * *", active(ref(running)), lastSchedule(t0.Add(time.Minute))), jobs: []*batchv1.Job{running}, now: now,
			want: outcome{Status: batchv1.CronJobStatus{Active: []corev1.ObjectReference{ref(running)}, LastScheduleTime: lst(time.Minute)}, Create: jobAt2, Requeue: next},
		},
		{
			name: "forbid skips while one runs",
			cj:   cronJob("*/1 * * * *", policy(batchv1.ForbidConcurrent), active(ref(running)), lastSchedule(t0.Add(time.Minute))), jobs: []*batchv1.Job{running}, now: now,
			want: outcome{
				Status:  batchv1.CronJobStatus{Active: []corev1.ObjectReference{ref(running)}, LastScheduleTime: lst(time.Minute)},
				Reasons: []string{"JobAlreadyActive"}, Requeue: next,
			},
		},
		{
			name: "forbid runs once the job finished",
			cj:   cronJob("*/1 * * * *", policy(batchv1.ForbidConcurrent), active(ref(done)), lastSchedule(t0.Add(time.Minute))), jobs: []*batchv1.Job{done}, now: now,
			want: outcome{
				Status:  batchv1.CronJobStatus{LastScheduleTime: lst(time.Minute), LastSuccessfulTime: done.Status.CompletionTime},
				Reasons: []string{"SawCompletedJob"}, Create: jobAt2, Requeue: next,
			},
		},
		{
			name: "replace deletes the active job",
			cj:   cronJob("*/1 * * * *", policy(batchv1.ReplaceConcurrent), active(ref(running)), lastSchedule(t0.Add(time.Minute))), jobs: []*batchv1.Job{running}, now: now,
			want: outcome{
				Status:  batchv1.CronJobStatus{Active: []corev1.ObjectReference{ref(running)}, LastScheduleTime: lst(time.Minute)},
				Replace: []string{"cj-1"}, Create: jobAt2, Requeue: next,
			},
		},
		{
			name: "suspended", cj: cronJob("*/1 * * * *", func(cj *batchv1.CronJob) { cj.Spec.Suspend = new(true) }), now: now,
		},
		{
			name: "unknown time zone", cj: cronJob("*/1 * * * *", timeZone("Mars/Olympus")), now: now,
			want: outcome{Reasons: []string{"UnknownTimeZone"}},
		},
		{
			name: "being deleted", cj: cronJob("*/1 * * * *", func(cj *batchv1.CronJob) { cj.DeletionTimestamp = lst(0) }), now: now,
		},
		{
			// Times older than the deadline are not even counted, as
			// upstream: the time is skipped without an Event.
			name: "past the starting deadline",
			cj:   cronJob("0 * * * *", deadline(60)), now: t0.Add(time.Hour + 2*time.Minute),
			want: outcome{Requeue: 58*time.Minute + requeueDelta},
		},
		{
			name: "too many missed start times",
			cj:   cronJob("*/1 * * * *"), now: t0.Add(200*time.Minute + 10*time.Second),
			want: outcome{Reasons: []string{"TooManyMissedTimes"}, Create: jobName(base, t0.Add(200*time.Minute)), Requeue: next},
		},
		{
			name: "active job gone",
			cj:   cronJob("*/1 * * * *", active(ref(running)), lastSchedule(t0.Add(2*time.Minute))), gone: []types.UID{running.UID}, now: now,
			want: outcome{Status: batchv1.CronJobStatus{LastScheduleTime: lst(2 * time.Minute)}, Reasons: []string{"MissingJob"}, Requeue: next},
		},
		{
			name: "manual job is not made active",
			cj:   cronJob("*/1 * * * *", lastSchedule(t0.Add(2*time.Minute))), jobs: []*batchv1.Job{job(base, "manual", t0, "")}, now: now,
			want: outcome{Status: batchv1.CronJobStatus{LastScheduleTime: lst(2 * time.Minute)}, Reasons: []string{"UnexpectedJob"}, Requeue: next},
		},
		{
			name: "failed job leaves active",
			cj:   cronJob("*/1 * * * *", active(ref(failed)), lastSchedule(t0.Add(2*time.Minute))), jobs: []*batchv1.Job{failed}, now: now,
			want: outcome{Status: batchv1.CronJobStatus{LastScheduleTime: lst(2 * time.Minute)}, Reasons: []string{"SawCompletedJob"}, Requeue: next},
		},
		{
			name: "history trimmed to the limits",
			cj: cronJob("*/1 * * * *", lastSchedule(t0.Add(2*time.Minute)), func(cj *batchv1.CronJob) {
				cj.Spec.SuccessfulJobsHistoryLimit, cj.Spec.FailedJobsHistoryLimit = new(int32(1)), new(int32(0))
			}),
			jobs: []*batchv1.Job{
				job(base, "s2", t0.Add(2*time.Minute), batchv1.JobComplete),
				job(base, "s0", t0, batchv1.JobComplete),
				job(base, "s1", t0.Add(time.Minute), batchv1.JobComplete),
				job(base, "f0", t0, batchv1.JobFailed),
				job(base, "r", t0, ""),
			},
			now: now,
			want: outcome{
				Status:  batchv1.CronJobStatus{LastScheduleTime: lst(2 * time.Minute), LastSuccessfulTime: lst(2*time.Minute + 10*time.Second)},
				Reasons: []string{"UnexpectedJob"}, Trim: []string{"s0", "s1", "f0"}, Requeue: next,
			},
		},
		{
			name: "unparseable schedule", cj: cronJob("every minute"), now: now,
			want: outcome{Reasons: []string{"UnparseableSchedule"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gone := map[types.UID]bool{}
			for _, u := range tc.gone {
				gone[u] = true
			}
			before := tc.cj.DeepCopy()
			got := outcomeOf(decide(tc.cj, tc.jobs, gone, tc.now), tc.now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decide (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tc.cj); diff != "" {
				t.Errorf("decide modified the CronJob:\n%s", diff)
			}
		})
	}
}

func TestNewJob(t *testing.T) {
	cj := cronJob("0 12 * * *", timeZone("Europe/Paris"), func(cj *batchv1.CronJob) {
		cj.Spec.JobTemplate.Labels = map[string]string{"app": "x"}
		cj.Spec.JobTemplate.Annotations = map[string]string{"note": "y"}
		cj.Spec.JobTemplate.Spec.BackoffLimit = new(int32(2))
	})
	scheduled := t0.Add(time.Hour)
	j := newJob(cj, scheduled)
	want := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: "cj-29913780", Namespace: "ns",
			Labels:      map[string]string{"app": "x"},
			Annotations: map[string]string{"note": "y", "batch.kubernetes.io/cronjob-scheduled-timestamp": "2026-11-16T12:00:00+01:00"},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "batch/v1", Kind: "CronJob", Name: "cj", UID: "cj-uid", Controller: new(true), BlockOwnerDeletion: new(true),
			}},
		},
		Spec: batchv1.JobSpec{BackoffLimit: new(int32(2))},
	}
	if diff := cmp.Diff(want, j); diff != "" {
		t.Errorf("newJob (-want +got):\n%s", diff)
	}
}
