package podgc_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	testingclock "k8s.io/utils/clock/testing"

	"berth.dev/berth/internal/controller/controllertest"
	"berth.dev/berth/internal/controller/podgc"
)

const hold = "test.berth.dev/hold"

// TestPodGC: a pod bound to a node that does not exist is marked Failed
// with the DisruptionTarget condition and force-deleted once the node has
// been missing for the quarantine; finished pods beyond the threshold go,
// the evicted and then the oldest first.
func TestPodGC(t *testing.T) {
	cl := controllertest.Start(t)
	client, ctx := cl.Client, t.Context()
	clk := testingclock.NewFakeClock(time.Now())
	c, err := podgc.New(podgc.Config{Client: client, Informers: cl.Informers, Clock: clk, TerminatedPodThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	controllertest.CreateNamespace(ctx, t, client, "gc")
	pods := client.CoreV1().Pods("gc")
	create := func(name, node string, finalizers ...string) *corev1.Pod {
		t.Helper()
		p, err := pods.Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Finalizers: finalizers},
			Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	finish := func(p *corev1.Pod, ph corev1.PodPhase, reason string) {
		t.Helper()
		p.Status.Phase, p.Status.Reason = ph, reason
		if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The finalizer keeps the orphan readable after its deletion.
	create("orphan", "ghost", hold)
	for _, name := range []string{"done-a", "done-b", "done-c"} {
		finish(create(name, ""), corev1.PodSucceeded, "")
	}
	finish(create("evicted", ""), corev1.PodFailed, "Evicted")
	start := clk.Now()

	controllertest.Run(t, cl.Informers, c)

	poll := func(what string, cond func() bool) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			if cond() {
				return true, nil
			}
			clk.Step(5 * time.Second)
			return false, nil
		})
		if err != nil {
			t.Fatalf("waiting until %s: %v", what, err)
		}
	}
	exists := func(name string) bool {
		_, err := pods.Get(ctx, name, metav1.GetOptions{})
		return !apierrors.IsNotFound(err)
	}
	poll("the evicted and the oldest finished pods are gone", func() bool {
		return !exists("evicted") && !exists("done-a")
	})
	if !exists("done-b") || !exists("done-c") {
		t.Error("more finished pods deleted than the threshold asks")
	}
	var orphan *corev1.Pod
	poll("the orphan is deleted", func() bool {
		orphan, err = pods.Get(ctx, "orphan", metav1.GetOptions{})
		return err == nil && orphan.DeletionTimestamp != nil
	})
	if orphan.Status.Phase != corev1.PodFailed || orphan.DeletionGracePeriodSeconds == nil || *orphan.DeletionGracePeriodSeconds != 0 {
		t.Errorf("orphan phase %s, grace %v; want Failed and a forced deletion", orphan.Status.Phase, orphan.DeletionGracePeriodSeconds)
	}
	var cond *corev1.PodCondition
	for i := range orphan.Status.Conditions {
		if orphan.Status.Conditions[i].Type == corev1.DisruptionTarget {
			cond = &orphan.Status.Conditions[i]
		}
	}
	if cond == nil || cond.Reason != "DeletionByPodGC" || cond.Message != "PodGC: node no longer exists" {
		t.Fatalf("orphan conditions: %+v", orphan.Status.Conditions)
	}
	if waited := cond.LastTransitionTime.Sub(start); waited < 40*time.Second-time.Second {
		t.Errorf("orphan deleted %v after it was first seen, before the 40s quarantine", waited)
	}
	orphan.Finalizers = nil
	if _, err := pods.Update(ctx, orphan, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
