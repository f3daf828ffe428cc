package job

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Messages of the conditions the controller sets, as upstream words them.
const (
	msgBackoffLimit     = "Job has reached the specified backoff limit"
	msgDeadline         = "Job was active longer than specified deadline"
	msgCompletions      = "Reached expected number of succeeded pods"
	msgSuspended        = "Job suspended"
	msgResumed          = "Job resumed"
	reasonSuspended     = "JobSuspended"
	reasonResumed       = "JobResumed"
	msgMaxFailedIndexes = "Job has exceeded the specified maximal number of failed indexes"
	msgFailedIndexes    = "Job has failed indexes"
)

// backoff is the delay before recreating pods after failures: base after
// the first failure since the last success, doubling with each further
// one, never above max.
type backoff struct {
	base, max time.Duration
}

// delay returns the backoff after n consecutive failures; 0 for none.
func (b backoff) delay(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := b.base
	for range n - 1 {
		if d >= b.max {
			break
		}
		d *= 2
	}
	return min(d, b.max)
}

// plan is what one sync does for a Job.
type plan struct {
	// create lists the pods to create: their completion indexes for an
	// Indexed Job, -1 for each pod of a NonIndexed one.
	create []int
	// indexFailures holds, for a Job with backoffLimitPerIndex, the
	// failures so far of each index to create, which its new pod
	// records in annotations.
	indexFailures map[int]indexFailures
	// delete lists active pods to delete.
	delete []*corev1.Pod
	// status is the Job status to write.
	status batchv1.JobStatus
	// requeue is when to sync again without any event (backoff ending,
	// deadline passing); 0 means only on events.
	requeue time.Duration
}

// indexFailures counts the failures of one completion index of a Job
// with backoffLimitPerIndex.
type indexFailures struct {
	counted, ignored int
}

// podSets are a Job's pods by state.
type podSets struct {
	active, terminating, succeeded, failed []*corev1.Pod
}

func classify(pods []*corev1.Pod) podSets {
	var s podSets
	for _, p := range pods {
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			s.succeeded = append(s.succeeded, p)
		case p.Status.Phase == corev1.PodFailed:
			s.failed = append(s.failed, p)
		case p.DeletionTimestamp != nil:
			s.terminating = append(s.terminating, p)
		default:
			s.active = append(s.active, p)
		}
	}
	return s
}

// failures is what the pod failure policy makes of a Job's failed pods.
type failures struct {
	// counted are the failures that count, in the order they finished.
	counted []*corev1.Pod
	// failJob is the message of the first failure a FailJob rule
	// matched; empty for none.
	failJob string
	// failIndex holds the indexes of failures a FailIndex rule matched.
	failIndex map[int]bool
	// perIndex counts each index's failures, those recorded on its pods
	// included; only for Jobs with backoffLimitPerIndex.
	perIndex map[int]indexFailures
}

// judgeAll judges the Job's failed pods, oldest failure first, and counts
// the failures of each index over all its pods.
func judgeAll(job *batchv1.Job, pods []*corev1.Pod, failed []*corev1.Pod) failures {
	f := failures{failIndex: map[int]bool{}, perIndex: map[int]indexFailures{}}
	ordered := slices.Clone(failed)
	slices.SortStableFunc(ordered, func(a, b *corev1.Pod) int {
		return cmp.Or(finishTime(a).Compare(finishTime(b)), cmp.Compare(a.Name, b.Name))
	})
	judged := map[*corev1.Pod]failure{}
	for _, p := range ordered {
		fl := judge(job.Spec.PodFailurePolicy, p)
		judged[p] = fl
		if !fl.counted {
			continue
		}
		f.counted = append(f.counted, p)
		if fl.action == batchv1.PodFailurePolicyActionFailJob && f.failJob == "" {
			f.failJob = fl.msg
		}
		if i, ok := podIndex(p, job.Spec.Completions); ok && fl.action == batchv1.PodFailurePolicyActionFailIndex {
			f.failIndex[i] = true
		}
	}
	if !isIndexed(job) || job.Spec.BackoffLimitPerIndex == nil {
		return f
	}
	for _, p := range pods {
		i, ok := podIndex(p, job.Spec.Completions)
		if !ok {
			continue
		}
		n := indexFailures{
			counted: annotationInt(p, batchv1.JobIndexFailureCountAnnotation),
			ignored: annotationInt(p, batchv1.JobIndexIgnoredFailureCountAnnotation),
		}
		if fl, ok := judged[p]; ok {
			if fl.counted {
				n.counted++
			} else {
				n.ignored++
			}
		}
		cur := f.perIndex[i]
		f.perIndex[i] = indexFailures{counted: max(cur.counted, n.counted), ignored: max(cur.ignored, n.ignored)}
	}
	return f
}

// annotationInt reads a non-negative count from a pod annotation; 0 when
// absent or malformed.
func annotationInt(p *corev1.Pod, key string) int {
	n, err := strconv.Atoi(p.Annotations[key])
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// onlyReplaceFailed reports whether pods are replaced only once Failed,
// not while they terminate: podReplacementPolicy Failed, which is also
// the default under a pod failure policy.
func onlyReplaceFailed(job *batchv1.Job) bool {
	if p := job.Spec.PodReplacementPolicy; p != nil {
		return *p == batchv1.Failed
	}
	return job.Spec.PodFailurePolicy != nil
}

// decide computes the plan for job given its pods (those it controls) at
// now. Succeeded and failed are counted from the pods that still exist;
// failures the pod failure policy ignores are not counted. It does not
// modify its arguments.
func decide(job *batchv1.Job, pods []*corev1.Pod, now time.Time, bo backoff) plan {
	s := classify(pods)
	st := *job.Status.DeepCopy()
	indexed := isIndexed(job)
	completions := job.Spec.Completions
	perIndex := indexed && job.Spec.BackoffLimitPerIndex != nil
	fails := judgeAll(job, pods, s.failed)

	var doneIdx, failedIdx map[int]bool
	if indexed {
		doneIdx = succeededIndexes(s.succeeded, completions)
		st.Succeeded = int32(len(doneIdx))
		st.CompletedIndexes = formatIndexes(doneIdx)
	} else {
		st.Succeeded = int32(len(s.succeeded))
	}
	if perIndex {
		failedIdx = map[int]bool{}
		for i, n := range fails.perIndex {
			if !doneIdx[i] && n.counted > int(*job.Spec.BackoffLimitPerIndex) {
				failedIdx[i] = true
			}
		}
		for i := range fails.failIndex {
			if !doneIdx[i] {
				failedIdx[i] = true
			}
		}
		st.FailedIndexes = new(formatIndexes(failedIdx))
	}
	st.Failed = int32(len(fails.counted))
	st.Active = int32(len(s.active))
	st.Terminating = new(int32(len(s.terminating)))
	ready := int32(0)
	for _, p := range s.active {
		if podReady(p) {
			ready++
		}
	}
	st.Ready = &ready

	// Pods deleted or created now leave or join the active count at once,
	// as upstream reports them.
	done := func(p plan) plan {
		p.status.Active = int32(len(s.active) - len(p.delete) + len(p.create))
		return p
	}
	if finished(&st) {
		return done(plan{delete: s.active, status: st})
	}
	t := metav1.NewTime(now)
	suspended := job.Spec.Suspend != nil && *job.Spec.Suspend
	if !suspended {
		if hasTrue(&st, batchv1.JobSuspended) {
			setConditionStatus(&st, batchv1.JobSuspended, corev1.ConditionFalse, reasonResumed, msgResumed, t)
			// The deadline counts from the resumption.
			st.StartTime = &t
		}
		if st.StartTime == nil {
			st.StartTime = &t
		}
	}

	if !hasTrue(&st, batchv1.JobFailureTarget) && !hasTrue(&st, batchv1.JobSuccessCriteriaMet) {
		limit := int32(6)
		if job.Spec.BackoffLimit != nil {
			limit = *job.Spec.BackoffLimit
		}
		policyMsg, policyMet := successPolicyMet(job, doneIdx)
		switch {
		case fails.failJob != "":
			setCondition(&st, batchv1.JobFailureTarget, batchv1.JobReasonPodFailurePolicy, fails.failJob, t)
		case st.Failed > limit || restartsExceed(job, s.active, limit):
			setCondition(&st, batchv1.JobFailureTarget, batchv1.JobReasonBackoffLimitExceeded, msgBackoffLimit, t)
		case !suspended && deadlineLeft(job, &st, now) <= 0:
			setCondition(&st, batchv1.JobFailureTarget, batchv1.JobReasonDeadlineExceeded, msgDeadline, t)
		case perIndex && job.Spec.MaxFailedIndexes != nil && len(failedIdx) > int(*job.Spec.MaxFailedIndexes):
			setCondition(&st, batchv1.JobFailureTarget, batchv1.JobReasonMaxFailedIndexesExceeded, msgMaxFailedIndexes, t)
		case len(failedIdx) > 0 && len(failedIdx)+len(doneIdx) >= int(*completions):
			setCondition(&st, batchv1.JobFailureTarget, batchv1.JobReasonFailedIndexes, msgFailedIndexes, t)
		case indexed && policyMet:
			setCondition(&st, batchv1.JobSuccessCriteriaMet, batchv1.JobReasonSuccessPolicy, policyMsg, t)
		case complete(indexed, completions, st.Succeeded, len(s.active)):
			setCondition(&st, batchv1.JobSuccessCriteriaMet, batchv1.JobReasonCompletionsReached, msgCompletions, t)
		}
	}
	if target := condition(&st, batchv1.JobFailureTarget); target != nil && target.Status == corev1.ConditionTrue {
		// Terminal: stop everything, and declare Failed once no pod runs.
		if len(s.active) == 0 && len(s.terminating) == 0 {
			setCondition(&st, batchv1.JobFailed, target.Reason, target.Message, t)
		}
		return done(plan{delete: s.active, status: st})
	}
	if met := condition(&st, batchv1.JobSuccessCriteriaMet); met != nil && met.Status == corev1.ConditionTrue {
		if len(s.active) == 0 && len(s.terminating) == 0 {
			setCondition(&st, batchv1.JobComplete, met.Reason, met.Message, t)
			st.CompletionTime = &t
		}
		return done(plan{delete: s.active, status: st})
	}

	if suspended {
		if !hasTrue(&st, batchv1.JobSuspended) {
			setCondition(&st, batchv1.JobSuspended, reasonSuspended, msgSuspended, t)
		}
		return done(plan{delete: s.active, status: st})
	}

	p := plan{status: st}
	if left := deadlineLeft(job, &st, now); left < maxDuration {
		p.requeue = left
	}
	later := func(wait time.Duration) {
		if p.requeue == 0 || wait < p.requeue {
			p.requeue = wait
		}
	}
	parallelism := int32(1)
	if job.Spec.Parallelism != nil {
		parallelism = *job.Spec.Parallelism
	}
	active := s.active
	if indexed {
		var extra []*corev1.Pod
		active, extra = dedupIndexed(active, doneIdx, failedIdx, completions)
		p.delete = append(p.delete, extra...)
	}
	// Terminating pods hold their place until they are gone, unless
	// replacements may start at once.
	var holding []*corev1.Pod
	if onlyReplaceFailed(job) {
		holding = s.terminating
	}
	want := int(parallelism)
	switch {
	case completions == nil && st.Succeeded > 0:
		// A work queue: after one success, let the others finish but
		// start no more.
		want = min(want, len(active))
	case completions != nil:
		want = min(want, max(0, int(*completions)-int(st.Succeeded)-len(failedIdx)))
	}
	if len(active) > want {
		ranked := slices.Clone(active)
		slices.SortStableFunc(ranked, deletionOrder)
		p.delete = append(p.delete, ranked[:len(active)-want]...)
		return done(p)
	}
	n := want - len(active) - len(holding)
	if n <= 0 {
		return done(p)
	}
	if !perIndex {
		if wait := backoffLeft(s.succeeded, fails.counted, now, bo); wait > 0 {
			later(wait)
			return done(p)
		}
	}
	if !indexed {
		for range n {
			p.create = append(p.create, -1)
		}
		return done(p)
	}
	running := map[int]bool{}
	for _, pod := range slices.Concat(active, holding) {
		if i, ok := podIndex(pod, completions); ok {
			running[i] = true
		}
	}
	for i := 0; i < int(*completions) && len(p.create) < n; i++ {
		if doneIdx[i] || failedIdx[i] || running[i] {
			continue
		}
		if perIndex {
			if wait := indexBackoffLeft(i, fails, completions, now, bo); wait > 0 {
				later(wait)
				continue
			}
			if p.indexFailures == nil {
				p.indexFailures = map[int]indexFailures{}
			}
			p.indexFailures[i] = fails.perIndex[i]
		}
		p.create = append(p.create, i)
	}
	return done(p)
}

// indexBackoffLeft returns how long index i of a Job with
// backoffLimitPerIndex waits before its next pod: the backoff for the
// index's counted failures, from its newest one.
func indexBackoffLeft(i int, f failures, completions *int32, now time.Time, bo backoff) time.Duration {
	var last time.Time
	for _, p := range f.counted {
		if j, ok := podIndex(p, completions); ok && j == i {
			last = finishTime(p)
		}
	}
	if last.IsZero() {
		return 0
	}
	return max(0, last.Add(bo.delay(f.perIndex[i].counted)).Sub(now))
}

const maxDuration = time.Duration(1<<63 - 1)

// deadlineLeft returns how long the Job may still run under
// activeDeadlineSeconds, or maxDuration when no deadline applies.
func deadlineLeft(job *batchv1.Job, st *batchv1.JobStatus, now time.Time) time.Duration {
	if job.Spec.ActiveDeadlineSeconds == nil || st.StartTime == nil {
		return maxDuration
	}
	end := st.StartTime.Add(time.Duration(*job.Spec.ActiveDeadlineSeconds) * time.Second)
	return max(0, end.Sub(now))
}

// backoffLeft returns how long to wait before creating pods: failures
// since the last success delay the next pod exponentially, counted from
// the newest failure.
func backoffLeft(succeeded, failed []*corev1.Pod, now time.Time, bo backoff) time.Duration {
	var lastSuccess time.Time
	for _, p := range succeeded {
		if ft := finishTime(p); ft.After(lastSuccess) {
			lastSuccess = ft
		}
	}
	n := 0
	var lastFailure time.Time
	for _, p := range failed {
		ft := finishTime(p)
		if !ft.After(lastSuccess) {
			continue
		}
		n++
		if ft.After(lastFailure) {
			lastFailure = ft
		}
	}
	if n == 0 {
		return 0
	}
	return max(0, lastFailure.Add(bo.delay(n)).Sub(now))
}

// finishTime is when a terminal pod finished: its last container
// termination, else its newest condition transition, else its creation.
func finishTime(p *corev1.Pod) time.Time {
	var t time.Time
	for _, cs := range slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses) {
		if term := cs.State.Terminated; term != nil && term.FinishedAt.After(t) {
			t = term.FinishedAt.Time
		}
	}
	if !t.IsZero() {
		return t
	}
	for _, c := range p.Status.Conditions {
		if c.LastTransitionTime.After(t) {
			t = c.LastTransitionTime.Time
		}
	}
	if !t.IsZero() {
		return t
	}
	return p.CreationTimestamp.Time
}

// restartsExceed reports whether the container restarts of active pods
// reach limit under restartPolicy OnFailure, where the kubelet restarts
// containers instead of failing pods; with limit 0 any restart does.
func restartsExceed(job *batchv1.Job, active []*corev1.Pod, limit int32) bool {
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var restarts int32
	for _, p := range active {
		for _, cs := range slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses) {
			restarts += cs.RestartCount
		}
	}
	if limit == 0 {
		return restarts > 0
	}
	return restarts >= limit
}

// complete reports whether the Job's success criteria are met.
func complete(indexed bool, completions *int32, succeeded int32, active int) bool {
	if completions == nil {
		return !indexed && succeeded > 0 && active == 0
	}
	return succeeded >= *completions
}

func isIndexed(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion && job.Spec.Completions != nil
}

// podIndex returns the pod's completion index if it is valid for the Job.
func podIndex(p *corev1.Pod, completions *int32) (int, bool) {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 || completions == nil || i >= int(*completions) {
		return 0, false
	}
	return i, true
}

func succeededIndexes(pods []*corev1.Pod, completions *int32) map[int]bool {
	done := map[int]bool{}
	for _, p := range pods {
		if i, ok := podIndex(p, completions); ok {
			done[i] = true
		}
	}
	return done
}

// dedupIndexed splits active pods of an Indexed Job into those to keep and
// those to delete: pods without a valid index, for an index that already
// succeeded or failed, or duplicates of an index (the older pod is kept).
func dedupIndexed(active []*corev1.Pod, done, failed map[int]bool, completions *int32) (keep, extra []*corev1.Pod) {
	sorted := slices.Clone(active)
	slices.SortStableFunc(sorted, func(a, b *corev1.Pod) int {
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	seen := map[int]bool{}
	for _, p := range sorted {
		i, ok := podIndex(p, completions)
		if !ok || done[i] || failed[i] || seen[i] {
			extra = append(extra, p)
			continue
		}
		seen[i] = true
		keep = append(keep, p)
	}
	return keep, extra
}

// formatIndexes renders indexes as upstream's completedIndexes: sorted,
// comma-separated, with runs as "first-last".
func formatIndexes(set map[int]bool) string {
	idx := slices.Sorted(func(yield func(int) bool) {
		for i := range set {
			if !yield(i) {
				return
			}
		}
	})
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(idx[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", idx[i], idx[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// deletionOrder ranks active pods for deletion, first to go first:
// unscheduled before scheduled, pending before running, not ready before
// ready, newer before older.
func deletionOrder(a, b *corev1.Pod) int {
	rank := func(p *corev1.Pod) [3]int {
		r := [3]int{}
		if p.Spec.NodeName != "" {
			r[0] = 1
		}
		if p.Status.Phase == corev1.PodRunning {
			r[1] = 1
		}
		if podReady(p) {
			r[2] = 1
		}
		return r
	}
	ra, rb := rank(a), rank(b)
	for i := range ra {
		if c := cmp.Compare(ra[i], rb[i]); c != 0 {
			return c
		}
	}
	return b.CreationTimestamp.Compare(a.CreationTimestamp.Time)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func finished(st *batchv1.JobStatus) bool {
	return hasTrue(st, batchv1.JobComplete) || hasTrue(st, batchv1.JobFailed)
}

func condition(st *batchv1.JobStatus, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

func hasTrue(st *batchv1.JobStatus, t batchv1.JobConditionType) bool {
	c := condition(st, t)
	return c != nil && c.Status == corev1.ConditionTrue
}

// setCondition sets condition t to True with reason and message.
func setCondition(st *batchv1.JobStatus, t batchv1.JobConditionType, reason, msg string, now metav1.Time) {
	setConditionStatus(st, t, corev1.ConditionTrue, reason, msg, now)
}

// setConditionStatus sets condition t, appending it if absent; the
// transition time changes only with the status.
func setConditionStatus(st *batchv1.JobStatus, t batchv1.JobConditionType, status corev1.ConditionStatus, reason, msg string, now metav1.Time) {
	c := condition(st, t)
	if c == nil {
		st.Conditions = append(st.Conditions, batchv1.JobCondition{
			Type: t, Status: status, Reason: reason, Message: msg, LastProbeTime: now, LastTransitionTime: now,
		})
		return
	}
	if c.Status == status && c.Reason == reason && c.Message == msg {
		return
	}
	if c.Status != status {
		c.LastTransitionTime = now
	}
	c.Status, c.Reason, c.Message, c.LastProbeTime = status, reason, msg, now
}
