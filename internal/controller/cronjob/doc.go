// Package cronjob runs the batch/v1 CronJob controller: it creates a
// CronJob's Jobs at the times of its schedule and keeps the CronJob
// status (active, lastScheduleTime, lastSuccessfulTime).
//
// Schedules are parsed by robfig/cron's standard parser, as upstream's
// are: five fields or a descriptor (@yearly, @annually, @monthly,
// @weekly, @daily, @midnight, @hourly, and robfig's @every), read in
// spec.timeZone (an IANA name; UTC when unset). A time zone that does not
// load gets an UnknownTimeZone warning Event and no Jobs; TZ= and
// CRON_TZ= inside the schedule are refused by the API server's
// validation.
//
// A sync reads the CronJob and the Jobs it controls from the informer
// cache and hands them to decide, a pure function that follows upstream's
// controller: it drops finished and vanished Jobs from status.active,
// finds the most recent schedule time not yet run (counting missed times
// from the last schedule time or the creation time, limited by
// startingDeadlineSeconds: older times are skipped; more than 100 missed
// gets a TooManyMissedTimes warning), and plans its Job unless the
// CronJob is suspended or concurrencyPolicy Forbid finds a Job still
// active (JobAlreadyActive);
// under Replace the active Jobs are deleted first. The Job is named
// "<cronjob>-<schedule time in minutes since the epoch>", which keeps a
// time from being run twice, carries the job template's labels,
// annotations and spec, the batch.kubernetes.io/cronjob-scheduled-timestamp
// annotation and the CronJob as controller. Finished Jobs beyond
// successfulJobsHistoryLimit and failedJobsHistoryLimit are deleted,
// oldest start first. Jobs the CronJob controls but did not schedule,
// such as those of `kubectl create job --from=cronjob/x`, are never made
// active (an UnexpectedJob Event says so) but count in the history and in
// lastSuccessfulTime, as upstream counts them.
//
// Time comes from Config.Clock: each CronJob is requeued for just after
// its next schedule time on a work queue driven by that clock, so a fake
// clock drives the controller in tests.
//
// The controller owns the Jobs it creates for CronJobs, their deletion
// when replaced or trimmed, and the CronJob status; nothing else.
package cronjob
