package ttlafterfinished

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	fakeclock "k8s.io/utils/clock/testing"

	"berth.dev/berth/internal/controller/controllertest"
)

var t0 = time.Date(2026, 11, 16, 10, 0, 0, 0, time.UTC)

func finishedJob(ttl *int32, cond batchv1.JobConditionType, at time.Time) *batchv1.Job {
	j := &batchv1.Job{Spec: batchv1.JobSpec{TTLSecondsAfterFinished: ttl}}
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(at.Add(-time.Second))},
			{Type: cond, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(at)},
		}
	}
	return j
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		name   string
		job    *batchv1.Job
		want   time.Time
		wantOK bool
	}{
		{name: "complete", job: finishedJob(new(int32(100)), batchv1.JobComplete, t0), want: t0.Add(100 * time.Second), wantOK: true},
		{name: "failed", job: finishedJob(new(int32(0)), batchv1.JobFailed, t0), want: t0, wantOK: true},
		{name: "no ttl", job: finishedJob(nil, batchv1.JobComplete, t0)},
		{name: "running", job: finishedJob(new(int32(100)), "", t0)},
		{name: "no transition time", job: finishedJob(new(int32(100)), batchv1.JobComplete, time.Time{})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := expiry(tc.job)
			if diff := cmp.Diff(tc.want, got); diff != "" || ok != tc.wantOK {
				t.Errorf("expiry = %v, %v; want %v, %v\n%s", got, ok, tc.want, tc.wantOK, diff)
			}
		})
	}
}

func TestDeletesExpiredJobs(t *testing.T) {
	cl := controllertest.Start(t)
	client := cl.Client
	finishedAt := time.Now().Truncate(time.Second)
	clk := fakeclock.NewFakeClock(finishedAt)
	c, err := New(Config{Client: client, Informers: cl.Informers, Clock: clk, Logger: cl.Logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx := controllertest.Run(t, cl.Informers, c)

	create := func(name string, ttl *int32, finished bool) {
		t.Helper()
		j, err := client.BatchV1().Jobs("default").Create(ctx, &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: batchv1.JobSpec{TTLSecondsAfterFinished: ttl, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
			}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
		if !finished {
			return
		}
		at := metav1.NewTime(finishedAt)
		j.Status = batchv1.JobStatus{
			StartTime: &at, CompletionTime: &at, Succeeded: 1,
			Conditions: []batchv1.JobCondition{
				{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: at},
				{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: at},
			},
		}
		if _, err := client.BatchV1().Jobs("default").UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("finishing %s: %v", name, err)
		}
	}
	exists := func(name string) bool {
		t.Helper()
		_, err := client.BatchV1().Jobs("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}
	waitGone := func(name string) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			return !exists(name), nil
		})
		if err != nil {
			t.Fatalf("waiting for %s to be deleted: %v", name, err)
		}
	}

	create("now", new(int32(0)), true)
	create("soon", new(int32(30)), true)
	create("later", new(int32(120)), true)
	create("running", new(int32(0)), false)
	create("kept", nil, true)

	waitGone("now")
	clk.SetTime(finishedAt.Add(31 * time.Second))
	waitGone("soon")
	for _, name := range []string{"later", "running", "kept"} {
		if !exists(name) {
			t.Errorf("%s deleted after 31s", name)
		}
	}
	clk.SetTime(finishedAt.Add(121 * time.Second))
	waitGone("later")
	for _, name := range []string{"running", "kept"} {
		if !exists(name) {
			t.Errorf("%s deleted", name)
		}
	}
}
