package job_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"berth.dev/berth/internal/controller/controllertest"
	"berth.dev/berth/internal/controller/job"
)

// env is a running API server with the controller, and a namespace for one test.
type env struct {
	t      *testing.T
	ctx    context.Context
	client kubernetes.Interface
	ns     string
}

func start(t *testing.T) *env {
	t.Helper()
	cl := controllertest.Start(t)
	c, err := job.New(job.Config{
		Client: cl.Client, Informers: cl.Informers, Logger: cl.Logger,
		// Short enough that recreating a failed pod needs no long wait.
		BackoffBase: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &env{t: t, ctx: controllertest.Run(t, cl.Informers, c), client: cl.Client}
}

func (e *env) namespace(t *testing.T, name string) *env {
	t.Helper()
	controllertest.CreateNamespace(e.ctx, t, e.client, name)
	return &env{t: t, ctx: e.ctx, client: e.client, ns: name}
}

// createJob creates a Job; edit, if given, changes it first.
func (e *env) createJob(name string, parallelism, completions, backoffLimit int32, edit ...func(*batchv1.JobSpec)) *batchv1.Job {
	e.t.Helper()
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{
			Parallelism: &parallelism, Completions: &completions, BackoffLimit: &backoffLimit,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "c", Image: "busybox"}},
			}},
		},
	}
	for _, f := range edit {
		f(&j.Spec)
	}
	j, err := e.client.BatchV1().Jobs(e.ns).Create(e.ctx, j, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating Job: %v", err)
	}
	return j
}

// pods returns the pods uid controls, split into active (not terminal, not
// being deleted) and all.
func (e *env) pods(uid types.UID) (active, all []corev1.Pod, err error) {
	list, err := e.client.CoreV1().Pods(e.ns).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, err
	}
	for _, p := range list.Items {
		if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != uid {
			continue
		}
		all = append(all, p)
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
			active = append(active, p)
		}
	}
	return active, all, nil
}

// waitPods waits until uid controls active active pods and total pods in
// all, and returns the active ones.
func (e *env) waitPods(uid types.UID, active, total int) []corev1.Pod {
	e.t.Helper()
	var act []corev1.Pod
	e.waitFor(fmt.Sprintf("%d active of %d pods", active, total), func() (bool, string, error) {
		a, all, err := e.pods(uid)
		act = a
		return len(a) == active && len(all) == total, fmt.Sprintf("have %d active of %d", len(a), len(all)), err
	})
	return act
}

// waitFor polls cond until it holds; see controllertest.WaitFor.
func (e *env) waitFor(what string, cond func() (bool, string, error)) {
	e.t.Helper()
	controllertest.WaitFor(e.ctx, e.t, what, cond)
}

// waitJob waits until the Job's status satisfies cond and returns it.
func (e *env) waitJob(name, what string, cond func(batchv1.JobStatus) bool) batchv1.JobStatus {
	e.t.Helper()
	j := controllertest.WaitObject(e.ctx, e.t, what, name, e.client.BatchV1().Jobs(e.ns).Get, func(j *batchv1.Job) (bool, string) {
		return cond(j.Status), fmt.Sprintf("%+v", j.Status)
	})
	return j.Status
}

// finish ends a pod as the kubelet would: phase and a terminated container.
func (e *env) finish(p corev1.Pod, phase corev1.PodPhase) {
	e.t.Helper()
	code := int32(0)
	if phase == corev1.PodFailed {
		code = 1
	}
	pods := e.client.CoreV1().Pods(e.ns)
	controllertest.Update(e.ctx, e.t, p.Name, pods.Get, pods.UpdateStatus, func(cur *corev1.Pod) {
		now := metav1.Now()
		cur.Status.Phase = phase
		cur.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", Image: "busybox", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: code, StartedAt: now, FinishedAt: now},
		}}}
	})
}

// fail ends a pod as Failed with its container's exit code and extra
// pod conditions.
func (e *env) fail(p corev1.Pod, code int32, conds ...corev1.PodConditionType) {
	e.t.Helper()
	pods := e.client.CoreV1().Pods(e.ns)
	controllertest.Update(e.ctx, e.t, p.Name, pods.Get, pods.UpdateStatus, func(cur *corev1.Pod) {
		now := metav1.Now()
		cur.Status.Phase = corev1.PodFailed
		cur.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", Image: "busybox", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: code, StartedAt: now, FinishedAt: now},
		}}}
		for _, c := range conds {
			cur.Status.Conditions = append(cur.Status.Conditions, corev1.PodCondition{Type: c, Status: corev1.ConditionTrue, LastTransitionTime: now})
		}
	})
}

func condition(st batchv1.JobStatus, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

func isTrue(st batchv1.JobStatus, t batchv1.JobConditionType) bool {
	c := condition(st, t)
	return c != nil && c.Status == corev1.ConditionTrue
}

func TestJob(t *testing.T) {
	base := start(t)

	t.Run("completions 3 parallelism 2", func(t *testing.T) {
		e := base.namespace(t, "complete")
		j := e.createJob("pi", 2, 3, 6)
		pods := e.waitPods(j.UID, 2, 2)
		for _, p := range pods {
			ref := metav1.GetControllerOf(&p)
			if p.GenerateName != "pi-" || p.Labels["batch.kubernetes.io/job-name"] != "pi" || p.Labels["job-name"] != "pi" ||
				p.Labels["batch.kubernetes.io/controller-uid"] != string(j.UID) || p.Labels["controller-uid"] != string(j.UID) ||
				ref.Kind != "Job" || ref.APIVersion != "batch/v1" {
				t.Errorf("pod %s: generateName %q, labels %v, controller %+v", p.Name, p.GenerateName, p.Labels, ref)
			}
		}
		e.waitJob("pi", "2 active", func(st batchv1.JobStatus) bool { return st.Active == 2 && st.StartTime != nil })
		// One success: a third pod keeps two running.
		e.finish(pods[0], corev1.PodSucceeded)
		pods = e.waitPods(j.UID, 2, 3)
		e.waitJob("pi", "succeeded 1, active 2", func(st batchv1.JobStatus) bool { return st.Succeeded == 1 && st.Active == 2 })
		// Two successes: one completion is left, so one pod and no new one.
		e.finish(pods[0], corev1.PodSucceeded)
		e.waitJob("pi", "succeeded 2, active 1", func(st batchv1.JobStatus) bool { return st.Succeeded == 2 && st.Active == 1 })
		last := e.waitPods(j.UID, 1, 3)
		e.finish(last[0], corev1.PodSucceeded)
		st := e.waitJob("pi", "Complete", func(st batchv1.JobStatus) bool { return isTrue(st, batchv1.JobComplete) })
		if st.Succeeded != 3 || st.Active != 0 || st.Failed != 0 || st.CompletionTime == nil {
			t.Errorf("status after Complete: %+v", st)
		}
		if c := condition(st, batchv1.JobSuccessCriteriaMet); c == nil || c.Status != corev1.ConditionTrue || c.Reason != batchv1.JobReasonCompletionsReached {
			t.Errorf("SuccessCriteriaMet = %+v", c)
		}
		if _, all, err := e.pods(j.UID); err != nil || len(all) != 3 {
			t.Errorf("pods after completion: %d, %v; want 3", len(all), err)
		}
	})

	t.Run("backoff limit exceeded", func(t *testing.T) {
		e := base.namespace(t, "backoff")
		j := e.createJob("fail", 1, 1, 1)
		first := e.waitPods(j.UID, 1, 1)
		e.finish(first[0], corev1.PodFailed)
		second := e.waitPods(j.UID, 1, 2)
		st := e.waitJob("fail", "failed 1", func(st batchv1.JobStatus) bool { return st.Failed == 1 })
		if isTrue(st, batchv1.JobFailed) || isTrue(st, batchv1.JobFailureTarget) {
			t.Errorf("failed after one failure with backoffLimit 1: %+v", st.Conditions)
		}
		e.finish(second[0], corev1.PodFailed)
		st = e.waitJob("fail", "Failed", func(st batchv1.JobStatus) bool { return isTrue(st, batchv1.JobFailed) })
		if c := condition(st, batchv1.JobFailed); c.Reason != batchv1.JobReasonBackoffLimitExceeded {
			t.Errorf("Failed reason = %q, want %q", c.Reason, batchv1.JobReasonBackoffLimitExceeded)
		}
		if c := condition(st, batchv1.JobFailureTarget); c == nil || c.Reason != batchv1.JobReasonBackoffLimitExceeded {
			t.Errorf("FailureTarget = %+v", c)
		}
		if st.Failed != 2 || st.Active != 0 || st.CompletionTime != nil {
			t.Errorf("status after Failed: %+v", st)
		}
		if _, all, err := e.pods(j.UID); err != nil || len(all) != 2 {
			t.Errorf("pods after failure: %d, %v; want 2", len(all), err)
		}
	})

	t.Run("suspend deletes active pods", func(t *testing.T) {
		e := base.namespace(t, "suspend")
		j := e.createJob("s", 2, 4, 6)
		e.waitPods(j.UID, 2, 2)
		setSuspend := func(v bool) {
			jobs := e.client.BatchV1().Jobs(e.ns)
			controllertest.Update(e.ctx, t, "s", jobs.Get, jobs.Update, func(cur *batchv1.Job) {
				cur.Spec.Suspend = &v
			})
		}
		setSuspend(true)
		e.waitPods(j.UID, 0, 0)
		st := e.waitJob("s", "Suspended", func(st batchv1.JobStatus) bool { return isTrue(st, batchv1.JobSuspended) && st.Active == 0 })
		if c := condition(st, batchv1.JobSuspended); c.Reason != "JobSuspended" {
			t.Errorf("Suspended reason = %q", c.Reason)
		}
		setSuspend(false)
		e.waitPods(j.UID, 2, 2)
		e.waitJob("s", "resumed", func(st batchv1.JobStatus) bool {
			c := condition(st, batchv1.JobSuspended)
			return c != nil && c.Status == corev1.ConditionFalse && c.Reason == "JobResumed" && st.Active == 2
		})
	})

	t.Run("indexed", func(t *testing.T) {
		e := base.namespace(t, "indexed")
		j := e.createJob("idx", 3, 3, 6, func(s *batchv1.JobSpec) { s.CompletionMode = new(batchv1.IndexedCompletion) })
		pods := e.waitPods(j.UID, 3, 3)
		seen := map[string]bool{}
		for _, p := range pods {
			i := p.Annotations[batchv1.JobCompletionIndexAnnotation]
			if p.Labels[batchv1.JobCompletionIndexAnnotation] != i || p.Spec.Hostname != "idx-"+i || p.GenerateName != "idx-"+i+"-" {
				t.Errorf("pod %s: index %q, labels %v, hostname %q, generateName %q", p.Name, i, p.Labels, p.Spec.Hostname, p.GenerateName)
			}
			seen[i] = true
		}
		if !seen["0"] || !seen["1"] || !seen["2"] {
			t.Errorf("indexes %v, want 0, 1 and 2", seen)
		}
		for _, p := range pods {
			e.finish(p, corev1.PodSucceeded)
		}
		st := e.waitJob("idx", "Complete", func(st batchv1.JobStatus) bool { return isTrue(st, batchv1.JobComplete) })
		if st.CompletedIndexes != "0-2" || st.Succeeded != 3 {
			t.Errorf("completedIndexes %q, succeeded %d; want 0-2 and 3", st.CompletedIndexes, st.Succeeded)
		}
	})

	t.Run("active deadline", func(t *testing.T) {
		e := base.namespace(t, "deadline")
		j := e.createJob("slow", 1, 1, 6, func(s *batchv1.JobSpec) { s.ActiveDeadlineSeconds = new(int64(1)) })
		e.waitPods(j.UID, 1, 1)
		st := e.waitJob("slow", "Failed", func(st batchv1.JobStatus) bool { return isTrue(st, batchv1.JobFailed) })
		if c := condition(st, batchv1.JobFailed); c.Reason != batchv1.JobReasonDeadlineExceeded {
			t.Errorf("Failed reason = %q, want %q", c.Reason, batchv1.JobReasonDeadlineExceeded)
		}
		e.waitPods(j.UID, 0, 0)
	})

	t.Run("pod failure policy", func(t *testing.T) {
		e := base.namespace(t, "podfailurepolicy")
		j := e.createJob("pfp", 1, 3, 0, func(s *batchv1.JobSpec) {
			s.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
				{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}}},
				{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42},
				}},
			}}
		})
		// A disrupted pod is ignored: replaced although backoffLimit is 0.
		first := e.waitPods(j.UID, 1, 1)
		e.fail(first[0], 137, corev1.DisruptionTarget)
		second := e.waitPods(j.UID, 1, 2)
		st := e.waitJob("pfp", "the disruption ignored", func(st batchv1.JobStatus) bool { return st.Active == 1 })
		if st.Failed != 0 || isTrue(st, batchv1.JobFailureTarget) {
			t.Errorf("after an ignored failure: %+v", st)
		}
		// Exit code 42 fails the Job at once.
		e.fail(second[0], 42)
		st = e.waitJob("pfp", "Failed", func(st batchv1.JobStatus) bool { return isTrue(st, batchv1.JobFailed) })
		c := condition(st, batchv1.JobFailed)
		want := "Container c for pod podfailurepolicy/" + second[0].Name + " failed with exit code 42 matching FailJob rule at index 1"
		if c.Reason != batchv1.JobReasonPodFailurePolicy || c.Message != want {
			t.Errorf("Failed = %s: %q, want PodFailurePolicy: %q", c.Reason, c.Message, want)
		}
		if st.Failed != 1 {
			t.Errorf("failed = %d, want 1", st.Failed)
		}
	})

	t.Run("backoff limit per index", func(t *testing.T) {
		e := base.namespace(t, "perindex")
		j := e.createJob("pi", 2, 2, 6, func(s *batchv1.JobSpec) {
			s.CompletionMode = new(batchv1.IndexedCompletion)
			s.BackoffLimit = nil
			s.BackoffLimitPerIndex = new(int32(1))
		})
		byIndex := func(pods []corev1.Pod, i string) corev1.Pod {
			for _, p := range pods {
				if p.Annotations[batchv1.JobCompletionIndexAnnotation] == i {
					return p
				}
			}
			t.Fatalf("no active pod of index %s", i)
			return corev1.Pod{}
		}
		pods := e.waitPods(j.UID, 2, 2)
		e.fail(byIndex(pods, "0"), 1)
		pods = e.waitPods(j.UID, 2, 3)
		retry := byIndex(pods, "0")
		if got := retry.Annotations[batchv1.JobIndexFailureCountAnnotation]; got != "1" {
			t.Errorf("retry of index 0: failure count %q, want 1", got)
		}
		e.fail(retry, 1)
		st := e.waitJob("pi", "index 0 failed", func(st batchv1.JobStatus) bool { return st.FailedIndexes != nil && *st.FailedIndexes == "0" })
		if isTrue(st, batchv1.JobFailureTarget) {
			t.Errorf("failed while index 1 runs: %+v", st.Conditions)
		}
		e.finish(byIndex(pods, "1"), corev1.PodSucceeded)
		st = e.waitJob("pi", "Failed", func(st batchv1.JobStatus) bool { return isTrue(st, batchv1.JobFailed) })
		if c := condition(st, batchv1.JobFailed); c.Reason != batchv1.JobReasonFailedIndexes || st.CompletedIndexes != "1" {
			t.Errorf("Failed reason %q, completedIndexes %q; want FailedIndexes and 1", c.Reason, st.CompletedIndexes)
		}
	})

	t.Run("adopts orphan pods", func(t *testing.T) {
		e := base.namespace(t, "adopt")
		j := e.createJob("adopter", 1, 1, 6, func(s *batchv1.JobSpec) { s.Suspend = new(true) })
		// The orphan matches the Job's selector only once it has succeeded:
		// a running one would be adopted, and deleted by the suspended Job,
		// before the test could finish it.
		orphan, err := e.client.CoreV1().Pods(e.ns).Create(e.ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "orphan"},
			Spec:       *j.Spec.Template.Spec.DeepCopy(),
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating the orphan: %v", err)
		}
		e.finish(*orphan, corev1.PodSucceeded)
		labels, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": j.Spec.Template.Labels}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.CoreV1().Pods(e.ns).Patch(e.ctx, "orphan", types.MergePatchType, labels, metav1.PatchOptions{}); err != nil {
			t.Fatalf("labelling the orphan: %v", err)
		}
		e.waitFor("the orphan adopted", func() (bool, string, error) {
			p, err := e.client.CoreV1().Pods(e.ns).Get(e.ctx, "orphan", metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			ref := metav1.GetControllerOf(p)
			return ref != nil && ref.UID == j.UID, fmt.Sprint(p.OwnerReferences), nil
		})
		st := e.waitJob("adopter", "Complete", func(st batchv1.JobStatus) bool { return isTrue(st, batchv1.JobComplete) })
		if st.Succeeded != 1 {
			t.Errorf("succeeded = %d, want the adopted pod's 1", st.Succeeded)
		}
		if _, all, err := e.pods(j.UID); err != nil || len(all) != 1 {
			t.Errorf("pods = %d, %v; want only the adopted one", len(all), err)
		}
	})

	t.Run("releases pods that stop matching", func(t *testing.T) {
		e := base.namespace(t, "release")
		j := e.createJob("rel", 1, 1, 6)
		first := e.waitPods(j.UID, 1, 1)[0]
		patch := `{"metadata":{"labels":{"batch.kubernetes.io/controller-uid":null}}}`
		if _, err := e.client.CoreV1().Pods(e.ns).Patch(e.ctx, first.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatalf("relabelling: %v", err)
		}
		e.waitFor("the pod released", func() (bool, string, error) {
			p, err := e.client.CoreV1().Pods(e.ns).Get(e.ctx, first.Name, metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			return metav1.GetControllerOf(p) == nil, fmt.Sprint(p.OwnerReferences), nil
		})
		if replacement := e.waitPods(j.UID, 1, 1)[0]; replacement.Name == first.Name {
			t.Errorf("the released pod %s still counts", first.Name)
		}
	})
}
