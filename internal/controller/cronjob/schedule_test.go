package cronjob

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// t0 is a Monday, 10:00 UTC.
var t0 = time.Date(2026, 11, 16, 10, 0, 0, 0, time.UTC)

// cronJob returns a CronJob created at t0 with schedule, changed by edits.
func cronJob(schedule string, edits ...func(*batchv1.CronJob)) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "cj", Namespace: "ns", UID: "cj-uid", CreationTimestamp: metav1.NewTime(t0)},
		Spec:       batchv1.CronJobSpec{Schedule: schedule, ConcurrencyPolicy: batchv1.AllowConcurrent},
	}
	for _, e := range edits {
		e(cj)
	}
	return cj
}

func lastSchedule(t time.Time) func(*batchv1.CronJob) {
	return func(cj *batchv1.CronJob) { cj.Status.LastScheduleTime = &metav1.Time{Time: t} }
}

func deadline(s int64) func(*batchv1.CronJob) {
	return func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = &s }
}

func timeZone(tz string) func(*batchv1.CronJob) {
	return func(cj *batchv1.CronJob) { cj.Spec.TimeZone = &tz }
}

func TestNextRun(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	tests := []struct {
		name  string
		cj    *batchv1.CronJob
		now   time.Time
		want  time.Time
		many  bool
		error bool
	}{
		{name: "nothing due yet", cj: cronJob("*/1 * * * *"), now: t0.Add(59 * time.Second)},
		{name: "first minute due", cj: cronJob("*/1 * * * *"), now: t0.Add(time.Minute), want: t0.Add(time.Minute)},
		{name: "latest of several missed", cj: cronJob("*/1 * * * *"), now: t0.Add(5*time.Minute + 30*time.Second), want: t0.Add(5 * time.Minute)},
		{name: "counts from the last schedule time", cj: cronJob("*/1 * * * *", lastSchedule(t0.Add(5*time.Minute))), now: t0.Add(5*time.Minute + 59*time.Second)},
		{name: "after last schedule time", cj: cronJob("*/1 * * * *", lastSchedule(t0.Add(5*time.Minute))), now: t0.Add(6 * time.Minute), want: t0.Add(6 * time.Minute)},
		{name: "hourly descriptor", cj: cronJob("@hourly"), now: t0.Add(3*time.Hour + time.Minute), want: t0.Add(3 * time.Hour)},
		{name: "daily at midnight", cj: cronJob("@midnight"), now: t0.Add(15 * time.Hour), want: time.Date(2026, 11, 17, 0, 0, 0, 0, time.UTC)},
		{name: "weekly is Sunday", cj: cronJob("@weekly"), now: t0.Add(7 * 24 * time.Hour), want: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)},
		{name: "monthly", cj: cronJob("@monthly"), now: t0.Add(20 * 24 * time.Hour), want: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{name: "yearly", cj: cronJob("@yearly"), now: t0.Add(60 * 24 * time.Hour), want: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{name: "annually", cj: cronJob("@annually"), now: t0.Add(30 * 24 * time.Hour)},
		{name: "uneven schedule", cj: cronJob("30 6-16/4 * * 1-5"), now: t0.Add(6 * time.Hour), want: t0.Add(4*time.Hour + 30*time.Minute)},
		{name: "time zone", cj: cronJob("0 12 * * *", timeZone("Europe/Paris")), now: t0.Add(2 * time.Hour), want: time.Date(2026, 11, 16, 12, 0, 0, 0, paris)},
		{name: "time zone not yet due", cj: cronJob("0 12 * * *", timeZone("Europe/Paris")), now: t0.Add(59 * time.Minute)},
		{name: "exactly 100 missed", cj: cronJob("*/1 * * * *"), now: t0.Add(100 * time.Minute), want: t0.Add(100 * time.Minute)},
		{name: "101 missed", cj: cronJob("*/1 * * * *"), now: t0.Add(101 * time.Minute), want: t0.Add(101 * time.Minute), many: true},
		{name: "decades missed", cj: cronJob("*/1 * * * *"), now: t0.AddDate(30, 0, 0), want: t0.AddDate(30, 0, 0), many: true},
		{
			name: "starting deadline bounds the count", cj: cronJob("*/1 * * * *", deadline(300)),
			now: t0.Add(1000 * time.Minute), want: t0.Add(1000 * time.Minute),
		},
		{
			name: "starting deadline passed since the only time", cj: cronJob("0 * * * *", deadline(60)),
			now: t0.Add(time.Hour + 2*time.Minute),
		},
		{
			name: "starting deadline not passed", cj: cronJob("0 * * * *", deadline(180)),
			now: t0.Add(time.Hour + 2*time.Minute), want: t0.Add(time.Hour),
		},
		{name: "February 31st never comes", cj: cronJob("59 23 31 2 *"), now: t0.AddDate(6, 0, 0), error: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sched, err := parseSchedule(tc.cj)
			if err != nil {
				t.Fatalf("parsing %q: %v", tc.cj.Spec.Schedule, err)
			}
			got, many, err := nextRun(tc.cj, tc.now, sched)
			if (err != nil) != tc.error {
				t.Fatalf("error %v, want error %v", err, tc.error)
			}
			if !got.Equal(tc.want) || many != tc.many {
				t.Errorf("nextRun = %v, many %v; want %v, many %v", got, many, tc.want, tc.many)
			}
		})
	}
}

func TestWakeAt(t *testing.T) {
	tests := []struct {
		name string
		cj   *batchv1.CronJob
		now  time.Time
		want time.Duration
	}{
		{name: "next minute", cj: cronJob("*/1 * * * *"), now: t0.Add(20 * time.Second), want: 40*time.Second + requeueDelta},
		{name: "due now, after the last run", cj: cronJob("*/1 * * * *", lastSchedule(t0.Add(time.Minute))), now: t0.Add(time.Minute), want: time.Minute + requeueDelta},
		{name: "unrun time due: the one after it", cj: cronJob("*/5 * * * *"), now: t0.Add(7 * time.Minute), want: 3*time.Minute + requeueDelta},
		{name: "hourly", cj: cronJob("@hourly"), now: t0.Add(10 * time.Minute), want: 50*time.Minute + requeueDelta},
		{name: "time zone", cj: cronJob("30 11 * * *", timeZone("Europe/Paris")), now: t0, want: 30*time.Minute + requeueDelta},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sched, err := parseSchedule(tc.cj)
			if err != nil {
				t.Fatalf("parsing %q: %v", tc.cj.Spec.Schedule, err)
			}
			if diff := cmp.Diff(tc.want, wakeAt(tc.cj, tc.now, sched).Sub(tc.now)); diff != "" {
				t.Errorf("wakeAt - now (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSchedule(t *testing.T) {
	for _, tc := range []struct {
		schedule string
		ok       bool
	}{
		{"*/1 * * * *", true}, {"0 0 1 jan mon", true}, {"@daily", true}, {"@every 90s", true},
		{"* * * *", false}, {"@fortnightly", false}, {"61 * * * *", false}, {"* * * * * *", false},
	} {
		_, err := parseSchedule(cronJob(tc.schedule))
		if (err == nil) != tc.ok {
			t.Errorf("parseSchedule(%q) error %v, want ok %v", tc.schedule, err, tc.ok)
		}
	}
}

func TestJobName(t *testing.T) {
	if got, want := jobName(cronJob("@hourly"), t0), "cj-29913720"; got != want {
		t.Errorf("jobName = %q, want %q", got, want)
	}
}
