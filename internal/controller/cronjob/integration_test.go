package cronjob_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	fakeclock "k8s.io/utils/clock/testing"

	"berth.dev/berth/internal/controller/controllertest"
	"berth.dev/berth/internal/controller/cronjob"
	"berth.dev/berth/internal/controller/job"
	"berth.dev/berth/internal/sim"
)

// env is an API server running the CronJob controller on a fake clock,
// the Job controller and one simulated node, with a namespace per test.
type env struct {
	t      *testing.T
	ctx    context.Context
	client kubernetes.Interface
	clock  *fakeclock.FakeClock
	ns     string
}

func start(t *testing.T) *env {
	t.Helper()
	cl := controllertest.Start(t)
	// The fake clock starts at the real time, so that the API server's
	// creation timestamps are where the schedule math expects them.
	clk := fakeclock.NewFakeClock(time.Now())
	cj, err := cronjob.New(cronjob.Config{Client: cl.Client, Informers: cl.Informers, Clock: clk, Logger: cl.Logger})
	if err != nil {
		t.Fatalf("cronjob.New: %v", err)
	}
	jobs, err := job.New(job.Config{Client: cl.Client, Informers: cl.Informers, Logger: cl.Logger})
	if err != nil {
		t.Fatalf("job.New: %v", err)
	}
	nodes, err := sim.New(sim.Config{Client: cl.Client, Informers: cl.Informers, Nodes: 1, Logger: cl.Logger})
	if err != nil {
		t.Fatalf("sim.New: %v", err)
	}
	return &env{t: t, ctx: controllertest.Run(t, cl.Informers, cj, jobs, nodes), client: cl.Client, clock: clk}
}

func (e *env) namespace(t *testing.T, name string) *env {
	t.Helper()
	controllertest.CreateNamespace(e.ctx, t, e.client, name)
	return &env{t: t, ctx: e.ctx, client: e.client, clock: e.clock, ns: name}
}

// createCronJob creates an every-minute CronJob whose pods run on the
// simulated node and exit with exitCode ("" runs them forever).
func (e *env) createCronJob(name, exitCode string, edit func(*batchv1.CronJobSpec)) *batchv1.CronJob {
	e.t.Helper()
	ann := map[string]string{}
	if exitCode != "" {
		ann[sim.ExitCodeAnnotation] = exitCode
	}
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.CronJobSpec{
			Schedule: "*/1 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				BackoffLimit: new(int32(0)),
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Annotations: ann},
					Spec: corev1.PodSpec{
						RestartPolicy: corev1.RestartPolicyNever,
						NodeName:      "sim-0",
						Containers:    []corev1.Container{{Name: "c", Image: "busybox"}},
					},
				},
			}},
		},
	}
	edit(&cj.Spec)
	// Earlier tests moved the clock ahead of the creation time the API
	// server stamps: move it back, so that no time is due at creation.
	e.clock.SetTime(time.Now())
	cj, err := e.client.BatchV1().CronJobs(e.ns).Create(e.ctx, cj, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating CronJob: %v", err)
	}
	if c := cj.CreationTimestamp.Time; c.After(e.clock.Now()) {
		e.clock.SetTime(c)
	}
	return cj
}

// tick moves the fake clock one second past the next minute and returns
// that minute.
func (e *env) tick() time.Time {
	next := e.clock.Now().Truncate(time.Minute).Add(time.Minute)
	e.clock.SetTime(next.Add(time.Second))
	return next
}

// waitFor polls cond until it holds; see controllertest.WaitFor.
func (e *env) waitFor(what string, cond func() (bool, string, error)) {
	e.t.Helper()
	controllertest.WaitFor(e.ctx, e.t, what, cond)
}

// jobs returns the names of the namespace's Jobs, sorted.
func (e *env) jobs() ([]string, error) {
	list, err := e.client.BatchV1().Jobs(e.ns).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, j := range list.Items {
		names = append(names, j.Name)
	}
	slices.Sort(names)
	return names, nil
}

// waitJobs waits until the namespace's Jobs are exactly want.
func (e *env) waitJobs(want ...string) {
	e.t.Helper()
	slices.Sort(want)
	e.waitFor(fmt.Sprintf("jobs %v", want), func() (bool, string, error) {
		got, err := e.jobs()
		return slices.Equal(got, want), fmt.Sprint(got), err
	})
}

// waitStatus waits until the CronJob's status satisfies cond.
func (e *env) waitStatus(name, what string, cond func(batchv1.CronJobStatus) bool) batchv1.CronJobStatus {
	e.t.Helper()
	cj := controllertest.WaitObject(e.ctx, e.t, what, name, e.client.BatchV1().CronJobs(e.ns).Get, func(cj *batchv1.CronJob) (bool, string) {
		return cond(cj.Status), fmt.Sprintf("%+v", cj.Status)
	})
	return cj.Status
}

// waitEvent waits for an Event with reason on the named CronJob.
func (e *env) waitEvent(name, reason string) {
	e.t.Helper()
	e.waitFor("event "+reason, func() (bool, string, error) {
		list, err := e.client.CoreV1().Events(e.ns).List(e.ctx, metav1.ListOptions{})
		if err != nil {
			return false, "", err
		}
		var seen []string
		for _, ev := range list.Items {
			if ev.InvolvedObject.Name == name && ev.InvolvedObject.Kind == "CronJob" {
				if ev.Reason == reason {
					return true, "", nil
				}
				seen = append(seen, ev.Reason)
			}
		}
		return false, fmt.Sprint(seen), nil
	})
}

func jobName(cj string, t time.Time) string { return fmt.Sprintf("%s-%d", cj, t.Unix()/60) }

func activeNames(st batchv1.CronJobStatus) []string {
	var names []string
	for _, r := range st.Active {
		names = append(names, r.Name)
	}
	return names
}

func finished(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func TestCronJob(t *testing.T) {
	base := start(t)

	t.Run("runs every minute and trims history", func(t *testing.T) {
		e := base.namespace(t, "history")
		cj := e.createCronJob("tick", "0", func(s *batchv1.CronJobSpec) {
			s.SuccessfulJobsHistoryLimit = new(int32(2))
			s.FailedJobsHistoryLimit = new(int32(1))
		})
		var names []string
		for i := range 4 {
			at := e.tick()
			name := jobName("tick", at)
			names = append(names, name)
			e.waitFor("job "+name+" complete", func() (bool, string, error) {
				j, err := e.client.BatchV1().Jobs(e.ns).Get(e.ctx, name, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return false, "not created", nil
				}
				if err != nil {
					return false, "", err
				}
				return finished(j), fmt.Sprintf("%+v", j.Status), nil
			})
			if i == 0 {
				j, err := e.client.BatchV1().Jobs(e.ns).Get(e.ctx, name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				ref := metav1.GetControllerOf(j)
				if ref == nil || ref.UID != cj.UID || ref.Kind != "CronJob" {
					t.Errorf("job controller = %+v", ref)
				}
				if got, want := j.Annotations[batchv1.CronJobScheduledTimestampAnnotation], at.UTC().Format(time.RFC3339); got != want {
					t.Errorf("scheduled timestamp annotation = %q, want %q", got, want)
				}
			}
			e.waitStatus("tick", "the job leaves active", func(st batchv1.CronJobStatus) bool {
				return len(st.Active) == 0 && st.LastScheduleTime != nil && st.LastScheduleTime.Time.Equal(at) && st.LastSuccessfulTime != nil
			})
		}
		e.waitJobs(names[2:]...)
		e.waitEvent("tick", "SuccessfulDelete")
	})

	t.Run("forbid skips while one runs", func(t *testing.T) {
		e := base.namespace(t, "forbid")
		e.createCronJob("lock", "", func(s *batchv1.CronJobSpec) { s.ConcurrencyPolicy = batchv1.ForbidConcurrent })
		first := jobName("lock", e.tick())
		e.waitStatus("lock", "one active", func(st batchv1.CronJobStatus) bool { return slices.Equal(activeNames(st), []string{first}) })
		skipped := e.tick()
		e.waitEvent("lock", "JobAlreadyActive")
		e.waitJobs(first)
		st := e.waitStatus("lock", "still one active", func(st batchv1.CronJobStatus) bool { return len(st.Active) == 1 })
		if st.LastScheduleTime.Time.Equal(skipped) {
			t.Errorf("lastScheduleTime %v is the skipped time", st.LastScheduleTime)
		}
	})

	t.Run("replace replaces", func(t *testing.T) {
		e := base.namespace(t, "replace")
		e.createCronJob("swap", "", func(s *batchv1.CronJobSpec) { s.ConcurrencyPolicy = batchv1.ReplaceConcurrent })
		first := jobName("swap", e.tick())
		e.waitStatus("swap", "first active", func(st batchv1.CronJobStatus) bool { return slices.Equal(activeNames(st), []string{first}) })
		second := jobName("swap", e.tick())
		e.waitStatus("swap", "second active", func(st batchv1.CronJobStatus) bool { return slices.Equal(activeNames(st), []string{second}) })
		e.waitJobs(second)
	})

}
