package cronjob

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
)

// requeueDelta pads every wake-up past the schedule time, as upstream
// does, so that a clock a little behind still finds the time due.
const requeueDelta = 100 * time.Millisecond

// tooManyMissed is the number of missed start times above which the
// controller warns that something (a stopped controller, clock skew) is
// wrong, as upstream does.
const tooManyMissed = 100

// scheduleSpec returns the schedule to parse for cj: spec.schedule,
// prefixed with spec.timeZone as robfig/cron's TZ= when that zone loads.
// A schedule that names its own zone is returned as is.
func scheduleSpec(cj *batchv1.CronJob) string {
	if strings.Contains(cj.Spec.Schedule, "TZ") || cj.Spec.TimeZone == nil {
		return cj.Spec.Schedule
	}
	if _, err := time.LoadLocation(*cj.Spec.TimeZone); err != nil {
		return cj.Spec.Schedule
	}
	return "TZ=" + *cj.Spec.TimeZone + " " + cj.Spec.Schedule
}

// parseSchedule parses cj's schedule with robfig/cron's standard parser,
// the one upstream uses: five fields or a descriptor.
func parseSchedule(cj *batchv1.CronJob) (cron.Schedule, error) {
	return cron.ParseStandard(scheduleSpec(cj))
}

// recent is the result of mostRecent.
type recent struct {
	// earliest is the time schedules are counted from: the last schedule
	// time, else the creation time, raised to the starting deadline
	// when that is asked for.
	earliest time.Time
	// latest is the most recent schedule time in (earliest, now], or
	// zero when there is none.
	latest time.Time
	// missed estimates how many schedule times passed in (earliest, now].
	missed int64
}

// mostRecent finds the most recent schedule time of cj not after now
// that is later than its last schedule time (or creation time). With
// withDeadline, times older than startingDeadlineSeconds are not counted.
// The count of missed times is estimated from the interval between the
// next two schedule times, as upstream does, so that a CronJob decades
// behind costs no more than one that is a minute behind. A schedule
// whose next two times coincide (such as February 31st, which never
// comes) is an error.
func mostRecent(cj *batchv1.CronJob, now time.Time, sched cron.Schedule, withDeadline bool) (recent, error) {
	r := recent{earliest: cj.CreationTimestamp.Time}
	if t := cj.Status.LastScheduleTime; t != nil {
		r.earliest = t.Time
	}
	if d := cj.Spec.StartingDeadlineSeconds; withDeadline && d != nil {
		if limit := now.Add(-time.Duration(*d) * time.Second); limit.After(r.earliest) {
			r.earliest = limit
		}
	}
	t1 := sched.Next(r.earliest)
	t2 := sched.Next(t1)
	switch {
	case now.Before(t1):
		return r, nil
	case now.Before(t2):
		r.latest, r.missed = t1, 1
		return r, nil
	}
	interval := int64(t2.Sub(t1).Round(time.Second).Seconds())
	if interval < 1 {
		return r, errors.New("time difference between two schedules is less than 1 second")
	}
	r.missed = int64(now.Sub(t1).Seconds())/interval + 1
	// Start two intervals before the estimated last time and let the
	// schedule itself find the exact one: schedules such as
	// "30 6-16/4 * * 1-5" are not evenly spaced.
	from := t1.Add(time.Duration((r.missed-2)*interval) * time.Second)
	for t := sched.Next(from); !t.IsZero() && !t.After(now); t = sched.Next(t) {
		r.latest = t
	}
	return r, nil
}

// nextRun returns the schedule time cj should start a Job for at now, or
// zero when none is due, and whether too many were missed to list.
func nextRun(cj *batchv1.CronJob, now time.Time, sched cron.Schedule) (time.Time, bool, error) {
	r, err := mostRecent(cj, now, sched, true)
	if err != nil {
		return time.Time{}, false, err
	}
	return r.latest, r.missed > tooManyMissed, nil
}

// wakeAt returns when cj must be synced again, seen at now, for its next
// schedule time to be due.
func wakeAt(cj *batchv1.CronJob, now time.Time, sched cron.Schedule) time.Time {
	from := now
	if r, err := mostRecent(cj, now, sched, false); err == nil {
		switch {
		case !r.latest.IsZero():
			from = r.latest
		case r.missed == 0:
			from = r.earliest
		}
	}
	return sched.Next(from).Add(requeueDelta)
}

// jobName is the name of cj's Job for a schedule time: unique per minute,
// so that the name itself keeps a time from being run twice.
func jobName(cj *batchv1.CronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}
