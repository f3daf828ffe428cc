package job

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var (
	t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	bo = backoff{base: 10 * time.Second, max: 6 * time.Minute}
)

func TestBackoffDelay(t *testing.T) {
	for n, want := range map[int]time.Duration{
		0: 0, 1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second,
		6: 320 * time.Second, 7: 6 * time.Minute, 40: 6 * time.Minute,
	} {
		if got := bo.delay(n); got != want {
			t.Errorf("delay(%d) = %v, want %v", n, got, want)
		}
	}
}

type jobB struct{ j *batchv1.Job }

func newJob() jobB {
	return jobB{&batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns", UID: "uid-j"},
		Spec:       batchv1.JobSpec{Parallelism: new(int32(1)), Completions: new(int32(1)), BackoffLimit: new(int32(6))},
	}}
}

func (b jobB) par(n int32) jobB         { b.j.Spec.Parallelism = &n; return b }
func (b jobB) completions(n int32) jobB { b.j.Spec.Completions = &n; return b }
func (b jobB) workQueue() jobB          { b.j.Spec.Completions = nil; return b }
func (b jobB) backoffLimit(n int32) jobB {
	b.j.Spec.BackoffLimit = &n
	return b
}
func (b jobB) onFailure() jobB {
	b.j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	return b
}
func (b jobB) deadline(s int64) jobB { b.j.Spec.ActiveDeadlineSeconds = &s; return b }
func (b jobB) suspend() jobB         { b.j.Spec.Suspend = new(true); return b }
func (b jobB) indexed() jobB {
	b.j.Spec.CompletionMode = new(batchv1.IndexedCompletion)
	return b
}
func (b jobB) started(at time.Time) jobB {
	b.j.Status.StartTime = &metav1.Time{Time: at}
	return b
}
func (b jobB) cond(t batchv1.JobConditionType, s corev1.ConditionStatus, reason string) jobB {
	b.j.Status.Conditions = append(b.j.Status.Conditions, batchv1.JobCondition{Type: t, Status: s, Reason: reason, LastTransitionTime: metav1.Time{Time: t0}})
	return b
}

func (b jobB) failurePolicy(rules ...batchv1.PodFailurePolicyRule) jobB {
	b.j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: rules}
	return b
}
func (b jobB) replaceOnlyFailed() jobB {
	b.j.Spec.PodReplacementPolicy = new(batchv1.Failed)
	return b
}
func (b jobB) perIndex(limit int32) jobB {
	b.j.Spec.BackoffLimitPerIndex = &limit
	return b
}
func (b jobB) maxFailedIndexes(n int32) jobB {
	b.j.Spec.MaxFailedIndexes = &n
	return b
}
func (b jobB) successPolicy(rules ...batchv1.SuccessPolicyRule) jobB {
	b.j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: rules}
	return b
}

func onExit(action batchv1.PodFailurePolicyAction, op batchv1.PodFailurePolicyOnExitCodesOperator, codes ...int32) batchv1.PodFailurePolicyRule {
	return batchv1.PodFailurePolicyRule{Action: action, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: codes}}
}

func onCondition(action batchv1.PodFailurePolicyAction, t corev1.PodConditionType) batchv1.PodFailurePolicyRule {
	return batchv1.PodFailurePolicyRule{Action: action, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: t, Status: corev1.ConditionTrue}}}
}

type podB struct{ p *corev1.Pod }

func pod(name string, age time.Duration) podB {
	return podB{&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.Time{Time: t0.Add(-age)}}}}
}

func (b podB) phase(ph corev1.PodPhase) podB { b.p.Status.Phase = ph; return b }
func (b podB) ready() podB {
	b.p.Status.Phase = corev1.PodRunning
	b.p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	return b
}
func (b podB) finished(ph corev1.PodPhase, ago time.Duration) podB {
	b.p.Status.Phase = ph
	b.p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.Time{Time: t0.Add(-ago)}},
	}}}
	return b
}

// exited fails the pod ago with its container's exit code.
func (b podB) exited(code int32, ago time.Duration) podB {
	b = b.finished(corev1.PodFailed, ago)
	b.p.Status.ContainerStatuses[0].State.Terminated.ExitCode = code
	return b
}
func (b podB) condition(t corev1.PodConditionType) podB {
	b.p.Status.Conditions = append(b.p.Status.Conditions, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue})
	return b
}
func (b podB) indexFailures(n int) podB {
	b.p.Annotations[batchv1.JobIndexFailureCountAnnotation] = strconv.Itoa(n)
	return b
}
func (b podB) restarts(n int32) podB {
	b.p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: n}}
	return b
}
func (b podB) index(i int) podB {
	b.p.Annotations = map[string]string{batchv1.JobCompletionIndexAnnotation: strconv.Itoa(i)}
	return b
}
func (b podB) deleting() podB {
	b.p.DeletionTimestamp = &metav1.Time{Time: t0}
	return b
}

// outcome is the comparable summary of a plan.
type outcome struct {
	Create     []int
	Delete     []string
	Requeue    time.Duration
	Active     int32
	Ready      int32
	Succeeded  int32
	Failed     int32
	Completed  string
	FailedIdx  string
	IndexFails map[int]indexFailures
	Started    bool
	Finished   bool
	Conditions []string // type=status/reason
}

func summarize(p plan) outcome {
	o := outcome{Create: p.create, Requeue: p.requeue, Active: p.status.Active, Succeeded: p.status.Succeeded,
		Failed: p.status.Failed, Completed: p.status.CompletedIndexes,
		Started: p.status.StartTime != nil, Finished: p.status.CompletionTime != nil}
	if p.status.Ready != nil {
		o.Ready = *p.status.Ready
	}
	if p.status.FailedIndexes != nil {
		o.FailedIdx = *p.status.FailedIndexes
	}
	o.IndexFails = p.indexFailures
	for _, d := range p.delete {
		o.Delete = append(o.Delete, d.Name)
	}
	for _, c := range p.status.Conditions {
		o.Conditions = append(o.Conditions, string(c.Type)+"="+string(c.Status)+"/"+c.Reason)
	}
	return o
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name string
		job  jobB
		pods []podB
		want outcome
	}{{
		name: "new job starts parallelism pods",
		job:  newJob().par(2).completions(3),
		want: outcome{Create: []int{-1, -1}, Active: 2, Ready: 0, Started: true},
	}, {
		name: "last completion needs one pod",
		job:  newJob().par(2).completions(3).started(t0),
		pods: []podB{pod("a", 3*time.Minute).finished(corev1.PodSucceeded, time.Minute), pod("b", 2*time.Minute).finished(corev1.PodSucceeded, time.Minute), pod("c", time.Minute).ready()},
		want: outcome{Active: 1, Ready: 1, Succeeded: 2, Started: true},
	}, {
		name: "surplus pods deleted, not ready and newer first",
		job:  newJob().par(1).completions(5).started(t0),
		pods: []podB{pod("old-ready", 3*time.Minute).ready(), pod("old", 2*time.Minute).phase(corev1.PodPending), pod("new", time.Minute).phase(corev1.PodPending)},
		want: outcome{Delete: []string{"new", "old"}, Active: 1, Ready: 1, Started: true},
	}, {
		name: "terminating pods are not active and are replaced",
		job:  newJob().par(1).completions(1).started(t0),
		pods: []podB{pod("a", time.Minute).deleting()},
		want: outcome{Create: []int{-1}, Active: 1, Started: true},
	}, {
		name: "completions reached: interim and final conditions together",
		job:  newJob().par(2).completions(2).started(t0),
		pods: []podB{pod("a", time.Minute).finished(corev1.PodSucceeded, 0), pod("b", time.Minute).finished(corev1.PodSucceeded, 0)},
		want: outcome{Succeeded: 2, Started: true, Finished: true, Conditions: []string{"SuccessCriteriaMet=True/CompletionsReached", "Complete=True/CompletionsReached"}},
	}, {
		name: "work queue: one success lets the others finish",
		job:  newJob().par(3).workQueue().started(t0),
		pods: []podB{pod("a", time.Minute).finished(corev1.PodSucceeded, 0), pod("b", time.Minute).ready()},
		want: outcome{Active: 1, Ready: 1, Succeeded: 1, Started: true},
	}, {
		name: "work queue completes when the last pod ends",
		job:  newJob().par(3).workQueue().started(t0),
		pods: []podB{pod("a", time.Minute).finished(corev1.PodSucceeded, 0), pod("b", time.Minute).finished(corev1.PodSucceeded, 0)},
		want: outcome{Succeeded: 2, Started: true, Finished: true, Conditions: []string{"SuccessCriteriaMet=True/CompletionsReached", "Complete=True/CompletionsReached"}},
	}, {
		name: "first failure backs off 10s from its finish",
		job:  newJob().started(t0),
		pods: []podB{pod("a", time.Minute).finished(corev1.PodFailed, 4*time.Second)},
		want: outcome{Requeue: 6 * time.Second, Failed: 1, Started: true},
	}, {
		name: "third failure backs off 40s",
		job:  newJob().started(t0),
		pods: []podB{pod("a", time.Hour).finished(corev1.PodFailed, time.Hour), pod("b", time.Hour).finished(corev1.PodFailed, time.Hour), pod("c", time.Minute).finished(corev1.PodFailed, 10*time.Second)},
		want: outcome{Requeue: 30 * time.Second, Failed: 3, Started: true},
	}, {
		name: "failures before the last success do not count",
		job:  newJob().completions(3).started(t0),
		pods: []podB{pod("a", time.Hour).finished(corev1.PodFailed, time.Hour), pod("b", time.Hour).finished(corev1.PodSucceeded, 30*time.Minute), pod("c", time.Minute).finished(corev1.PodFailed, 15*time.Second)},
		want: outcome{Requeue: 0, Create: []int{-1}, Active: 1, Succeeded: 1, Failed: 2, Started: true},
	}, {
		name: "backoff over: pod recreated",
		job:  newJob().started(t0),
		pods: []podB{pod("a", time.Minute).finished(corev1.PodFailed, 10*time.Second)},
		want: outcome{Create: []int{-1}, Active: 1, Failed: 1, Started: true},
	}, {
		name: "backoff limit exceeded fails the job",
		job:  newJob().backoffLimit(1).started(t0),
		pods: []podB{pod("a", time.Minute).finished(corev1.PodFailed, time.Second), pod("b", time.Minute).finished(corev1.PodFailed, 0)},
		want: outcome{Failed: 2, Started: true, Conditions: []string{"FailureTarget=True/BackoffLimitExceeded", "Failed=True/BackoffLimitExceeded"}},
	}, {
		name: "at the backoff limit the job still retries",
		job:  newJob().backoffLimit(1).started(t0),
		pods: []podB{pod("a", time.Minute).finished(corev1.PodFailed, 0)},
		want: outcome{Requeue: 10 * time.Second, Failed: 1, Started: true},
	}, {
		name: "OnFailure: restarts below the limit",
		job:  newJob().onFailure().par(2).completions(2).backoffLimit(3).started(t0),
		pods: []podB{pod("a", time.Minute).restarts(1).ready(), pod("b", time.Minute).restarts(1).ready()},
		want: outcome{Active: 2, Ready: 2, Started: true},
	}, {
		name: "OnFailure: restarts reaching the limit fail the job",
		job:  newJob().onFailure().par(2).completions(2).backoffLimit(3).started(t0),
		pods: []podB{pod("a", time.Minute).restarts(1).ready(), pod("b", time.Minute).restarts(2).ready()},
		want: outcome{Delete: []string{"a", "b"}, Ready: 2, Started: true, Conditions: []string{"FailureTarget=True/BackoffLimitExceeded"}},
	}, {
		name: "OnFailure with limit 0: one restart fails the job",
		job:  newJob().onFailure().backoffLimit(0).started(t0),
		pods: []podB{pod("a", time.Minute).restarts(1).ready()},
		want: outcome{Delete: []string{"a"}, Ready: 1, Started: true, Conditions: []string{"FailureTarget=True/BackoffLimitExceeded"}},
	}, {
		name: "failure target waits for active pods to go",
		job:  newJob().par(2).completions(4).backoffLimit(0).started(t0),
		pods: []podB{pod("a", time.Minute).finished(corev1.PodFailed, 0), pod("b", time.Minute).ready()},
		want: outcome{Delete: []string{"b"}, Ready: 1, Failed: 1, Started: true, Conditions: []string{"FailureTarget=True/BackoffLimitExceeded"}},
	}, {
		name: "deadline passed deletes active pods",
		job:  newJob().deadline(60).started(t0.Add(-time.Minute)),
		pods: []podB{pod("a", time.Minute).ready()},
		want: outcome{Delete: []string{"a"}, Ready: 1, Started: true, Conditions: []string{"FailureTarget=True/DeadlineExceeded"}},
	}, {
		name: "failed once pods are gone",
		job:  newJob().deadline(60).started(t0.Add(-time.Minute)).cond(batchv1.JobFailureTarget, corev1.ConditionTrue, batchv1.JobReasonDeadlineExceeded),
		want: outcome{Started: true, Conditions: []string{"FailureTarget=True/DeadlineExceeded", "Failed=True/DeadlineExceeded"}},
	}, {
		name: "deadline ahead requeues",
		job:  newJob().deadline(60).started(t0.Add(-20 * time.Second)),
		pods: []podB{pod("a", time.Minute).ready()},
		want: outcome{Requeue: 40 * time.Second, Active: 1, Ready: 1, Started: true},
	}, {
		name: "suspend deletes active pods",
		job:  newJob().par(2).completions(4).suspend().started(t0),
		pods: []podB{pod("a", time.Minute).ready(), pod("b", time.Minute).phase(corev1.PodPending)},
		want: outcome{Delete: []string{"a", "b"}, Ready: 1, Started: true, Conditions: []string{"Suspended=True/JobSuspended"}},
	}, {
		name: "suspended job never started stays unstarted",
		job:  newJob().suspend(),
		want: outcome{Conditions: []string{"Suspended=True/JobSuspended"}},
	}, {
		name: "suspended job ignores its deadline",
		job:  newJob().deadline(1).suspend().started(t0.Add(-time.Hour)),
		want: outcome{Started: true, Conditions: []string{"Suspended=True/JobSuspended"}},
	}, {
		name: "resume restarts the clock and creates pods",
		job:  newJob().deadline(60).started(t0.Add(-time.Hour)).cond(batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended"),
		want: outcome{Create: []int{-1}, Active: 1, Requeue: time.Minute, Started: true, Conditions: []string{"Suspended=False/JobResumed"}},
	}, {
		name: "finished job only deletes leftovers",
		job:  newJob().par(3).completions(1).cond(batchv1.JobComplete, corev1.ConditionTrue, "CompletionsReached"),
		pods: []podB{pod("a", time.Minute).finished(corev1.PodSucceeded, 0), pod("b", time.Minute).ready()},
		want: outcome{Delete: []string{"b"}, Ready: 1, Succeeded: 1, Conditions: []string{"Complete=True/CompletionsReached"}},
	}, {
		name: "indexed: lowest missing indexes",
		job:  newJob().indexed().par(2).completions(5).started(t0),
		pods: []podB{pod("a", time.Minute).index(0).finished(corev1.PodSucceeded, 0), pod("b", time.Minute).index(2).finished(corev1.PodSucceeded, 0), pod("c", time.Minute).index(1).ready()},
		want: outcome{Create: []int{3}, Active: 2, Ready: 1, Succeeded: 2, Completed: "0,2", Started: true},
	}, {
		name: "indexed: duplicates, invalid and succeeded indexes deleted",
		job:  newJob().indexed().par(3).completions(3).started(t0),
		pods: []podB{
			pod("done", time.Hour).index(0).finished(corev1.PodSucceeded, 0), pod("again", time.Minute).index(0).ready(),
			pod("old", time.Hour).index(1).ready(), pod("dup", time.Minute).index(1).ready(), pod("bad", time.Minute).index(7).ready(),
		},
		want: outcome{Delete: []string{"again", "dup", "bad"}, Create: []int{2}, Active: 2, Ready: 4, Succeeded: 1, Completed: "0", Started: true},
	}, {
		name: "indexed: complete when every index succeeded",
		job:  newJob().indexed().par(3).completions(3).started(t0),
		pods: []podB{pod("a", time.Minute).index(0).finished(corev1.PodSucceeded, 0), pod("b", time.Minute).index(1).finished(corev1.PodSucceeded, 0), pod("c", time.Minute).index(2).finished(corev1.PodSucceeded, 0), pod("d", time.Minute).index(2).finished(corev1.PodSucceeded, 0)},
		want: outcome{Succeeded: 3, Completed: "0-2", Started: true, Finished: true, Conditions: []string{"SuccessCriteriaMet=True/CompletionsReached", "Complete=True/CompletionsReached"}},
	}, {
		name: "pod failure policy: FailJob on an exit code",
		job:  newJob().par(2).completions(4).failurePolicy(onExit(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpIn, 42)).started(t0),
		pods: []podB{pod("a", time.Minute).exited(42, 0), pod("b", time.Minute).ready()},
		want: outcome{Delete: []string{"b"}, Ready: 1, Failed: 1, Started: true, Conditions: []string{"FailureTarget=True/PodFailurePolicy"}},
	}, {
		name: "pod failure policy: an unmatched exit code counts",
		job:  newJob().failurePolicy(onExit(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpIn, 42)).started(t0),
		pods: []podB{pod("a", time.Minute).exited(1, 0)},
		want: outcome{Requeue: 10 * time.Second, Failed: 1, Started: true},
	}, {
		name: "pod failure policy: NotIn never matches exit code 0",
		job:  newJob().completions(2).failurePolicy(onExit(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpNotIn, 1)).started(t0),
		pods: []podB{pod("a", time.Minute).exited(0, 0)},
		want: outcome{Requeue: 10 * time.Second, Failed: 1, Started: true},
	}, {
		name: "pod failure policy: Ignore a disruption, replace at once",
		job:  newJob().backoffLimit(0).failurePolicy(onCondition(batchv1.PodFailurePolicyActionIgnore, corev1.DisruptionTarget)).started(t0),
		pods: []podB{pod("a", time.Minute).exited(137, 0).condition(corev1.DisruptionTarget)},
		want: outcome{Create: []int{-1}, Active: 1, Started: true},
	}, {
		name: "pod failure policy: Count the first matching rule",
		job: newJob().backoffLimit(0).failurePolicy(
			onExit(batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyOnExitCodesOpIn, 3),
			onExit(batchv1.PodFailurePolicyActionIgnore, batchv1.PodFailurePolicyOnExitCodesOpIn, 3)).started(t0),
		pods: []podB{pod("a", time.Minute).exited(3, 0)},
		want: outcome{Failed: 1, Started: true, Conditions: []string{"FailureTarget=True/BackoffLimitExceeded", "Failed=True/BackoffLimitExceeded"}},
	}, {
		name: "pod failure policy: a terminating pod is not replaced yet",
		job:  newJob().failurePolicy(onCondition(batchv1.PodFailurePolicyActionIgnore, corev1.DisruptionTarget)).started(t0),
		pods: []podB{pod("a", time.Minute).ready().deleting()},
		want: outcome{Started: true},
	}, {
		name: "podReplacementPolicy Failed: a terminating pod holds its place",
		job:  newJob().par(2).completions(2).replaceOnlyFailed().started(t0),
		pods: []podB{pod("a", time.Minute).ready().deleting()},
		want: outcome{Create: []int{-1}, Active: 1, Started: true},
	}, {
		name: "per index: a failed index retries after its backoff",
		job:  newJob().indexed().par(2).completions(2).perIndex(1).started(t0),
		pods: []podB{pod("a", time.Minute).index(0).exited(1, 4*time.Second), pod("b", time.Minute).index(1).ready()},
		want: outcome{Requeue: 6 * time.Second, Active: 1, Ready: 1, Failed: 1, Started: true},
	}, {
		name: "per index: the retry records the failures",
		job:  newJob().indexed().par(2).completions(2).perIndex(1).started(t0),
		pods: []podB{pod("a", time.Minute).index(0).exited(1, 10*time.Second), pod("b", time.Minute).index(1).ready()},
		want: outcome{Create: []int{0}, IndexFails: map[int]indexFailures{0: {counted: 1}}, Active: 2, Ready: 1, Failed: 1, Started: true},
	}, {
		name: "per index: an index past its limit fails, the others go on",
		job:  newJob().indexed().par(3).completions(3).perIndex(1).started(t0),
		pods: []podB{pod("a", time.Minute).index(0).indexFailures(1).exited(1, 0), pod("b", time.Minute).index(1).ready()},
		want: outcome{
			Create: []int{2}, IndexFails: map[int]indexFailures{2: {}}, Active: 2, Ready: 1, Failed: 1, FailedIdx: "0", Started: true,
		},
	}, {
		name: "per index: FailIndex fails the index at once",
		job: newJob().indexed().par(2).completions(2).perIndex(3).
			failurePolicy(onExit(batchv1.PodFailurePolicyActionFailIndex, batchv1.PodFailurePolicyOnExitCodesOpIn, 7)).started(t0),
		pods: []podB{pod("a", time.Minute).index(0).exited(7, 0), pod("b", time.Minute).index(1).ready()},
		want: outcome{Active: 1, Ready: 1, Failed: 1, FailedIdx: "0", Started: true},
	}, {
		name: "per index: every index finished, some failed",
		job:  newJob().indexed().par(2).completions(2).perIndex(0).started(t0),
		pods: []podB{pod("a", time.Minute).index(0).exited(1, 0), pod("b", time.Minute).index(1).finished(corev1.PodSucceeded, 0)},
		want: outcome{
			Succeeded: 1, Failed: 1, Completed: "1", FailedIdx: "0", Started: true,
			Conditions: []string{"FailureTarget=True/FailedIndexes", "Failed=True/FailedIndexes"},
		},
	}, {
		name: "per index: maxFailedIndexes exceeded",
		job:  newJob().indexed().par(3).completions(3).perIndex(0).maxFailedIndexes(0).started(t0),
		pods: []podB{pod("a", time.Minute).index(0).exited(1, 0), pod("b", time.Minute).index(1).ready()},
		want: outcome{
			Delete: []string{"b"}, Ready: 1, Failed: 1, FailedIdx: "0", Started: true,
			Conditions: []string{"FailureTarget=True/MaxFailedIndexesExceeded"},
		},
	}, {
		name: "per index: ignored failures are recorded apart",
		job: newJob().indexed().completions(1).perIndex(0).
			failurePolicy(onCondition(batchv1.PodFailurePolicyActionIgnore, corev1.DisruptionTarget)).started(t0),
		pods: []podB{pod("a", time.Minute).index(0).exited(1, 0).condition(corev1.DisruptionTarget)},
		want: outcome{Create: []int{0}, IndexFails: map[int]indexFailures{0: {ignored: 1}}, Active: 1, FailedIdx: "", Started: true},
	}, {
		name: "success policy: the named indexes succeeded",
		job:  newJob().indexed().par(3).completions(3).successPolicy(batchv1.SuccessPolicyRule{SucceededIndexes: new("0,2")}).started(t0),
		pods: []podB{pod("a", time.Minute).index(0).finished(corev1.PodSucceeded, 0), pod("b", time.Minute).index(1).ready(), pod("c", time.Minute).index(2).finished(corev1.PodSucceeded, 0)},
		want: outcome{Delete: []string{"b"}, Ready: 1, Succeeded: 2, Completed: "0,2", Started: true, Conditions: []string{"SuccessCriteriaMet=True/SuccessPolicy"}},
	}, {
		name: "success policy: a count not reached yet",
		job:  newJob().indexed().par(3).completions(3).successPolicy(batchv1.SuccessPolicyRule{SucceededIndexes: new("0-2"), SucceededCount: new(int32(2))}).started(t0),
		pods: []podB{pod("a", time.Minute).index(0).finished(corev1.PodSucceeded, 0), pod("b", time.Minute).index(1).ready(), pod("c", time.Minute).index(2).ready()},
		want: outcome{Active: 2, Ready: 2, Succeeded: 1, Completed: "0", Started: true},
	}, {
		name: "success policy: a count over all indexes",
		job:  newJob().indexed().par(3).completions(3).successPolicy(batchv1.SuccessPolicyRule{SucceededCount: new(int32(1))}).started(t0),
		pods: []podB{pod("a", time.Minute).index(1).finished(corev1.PodSucceeded, 0), pod("b", time.Minute).index(0).ready()},
		want: outcome{Delete: []string{"b"}, Ready: 1, Succeeded: 1, Completed: "1", Started: true, Conditions: []string{"SuccessCriteriaMet=True/SuccessPolicy"}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var pods []*corev1.Pod
			for _, p := range tc.pods {
				pods = append(pods, p.p)
			}
			before := tc.job.j.DeepCopy()
			p := decide(tc.job.j, pods, t0, bo)
			got := summarize(p)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(indexFailures{})); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tc.job.j); diff != "" {
				t.Errorf("decide modified the job (-before +after):\n%s", diff)
			}
			if len(p.create) > 0 || len(p.delete) > 0 {
				return
			}
			// With nothing to do, the written status is a fixed point: the
			// next sync must not write again.
			again := tc.job.j.DeepCopy()
			again.Status = p.status
			if diff := cmp.Diff(p.status, decide(again, pods, t0.Add(time.Second), bo).status); diff != "" {
				t.Errorf("status is not stable (-first +second):\n%s", diff)
			}
		})
	}
}

func TestFormatIndexes(t *testing.T) {
	for _, tc := range []struct {
		in   []int
		want string
	}{{nil, ""}, {[]int{0}, "0"}, {[]int{3, 0, 1, 2, 5, 7, 8}, "0-3,5,7-8"}} {
		set := map[int]bool{}
		for _, i := range tc.in {
			set[i] = true
		}
		if got := formatIndexes(set); got != tc.want {
			t.Errorf("formatIndexes(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestJudge(t *testing.T) {
	policy := &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		onCondition(batchv1.PodFailurePolicyActionFailJob, "ConfigIssue"),
		{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			ContainerName: new("main"), Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: []int32{1, 2},
		}},
	}}
	failed := func(name string, code int32) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Status: corev1.PodStatus{
			Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{{Name: name, State: corev1.ContainerState{
				Terminated: &corev1.ContainerStateTerminated{ExitCode: code},
			}}},
		}}
	}
	withCondition := failed("main", 1)
	withCondition.Status.Conditions = []corev1.PodCondition{{Type: "ConfigIssue", Status: corev1.ConditionTrue}}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want failure
	}{
		{name: "exit code", pod: failed("main", 5), want: failure{counted: true, action: batchv1.PodFailurePolicyActionFailJob,
			msg: "Container main for pod ns/p failed with exit code 5 matching FailJob rule at index 1"}},
		{name: "exit code in the list", pod: failed("main", 2), want: failure{counted: true}},
		{name: "another container", pod: failed("sidecar", 5), want: failure{counted: true}},
		{name: "condition", pod: withCondition, want: failure{counted: true, action: batchv1.PodFailurePolicyActionFailJob,
			msg: "Pod ns/p has condition ConfigIssue matching FailJob rule at index 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, judge(policy, tc.pod), cmp.AllowUnexported(failure{})); diff != "" {
				t.Errorf("judge (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseIndexes(t *testing.T) {
	got, err := parseIndexes("0,2-4,8-12", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]bool{0: true, 2: true, 3: true, 4: true, 8: true, 9: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseIndexes (-want +got):\n%s", diff)
	}
	if _, err := parseIndexes("1,x", 10); err == nil {
		t.Error("parseIndexes(1,x) succeeded")
	}
}

func FuzzParseIndexes(f *testing.F) {
	for _, s := range []string{"0", "1,3-5", "0-2,8-12", "x", "5-1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := parseIndexes(s, 50)
		if err != nil {
			return
		}
		for i := range set {
			if i < 0 || i >= 50 {
				t.Errorf("parseIndexes(%q) holds %d, outside [0, 50)", s, i)
			}
		}
	})
}
