// Package job runs the batch/v1 Job controller: for every Job it creates
// pods from spec.template (generateName "<job>-", the
// batch.kubernetes.io/controller-uid and job-name labels and their legacy
// forms, a controller ownerReference) until the completions succeed, and
// writes the Job status.
//
// A sync reads the Job and the pods it controls from the informer cache
// and hands them to decide, a pure function that plans the pods to create
// and delete and the status to write: active, ready, terminating,
// succeeded, failed, startTime, completionTime, completedIndexes and the
// conditions. It keeps min(parallelism, completions - succeeded) pods
// active; for an Indexed Job each pod carries its completion index in the
// batch.kubernetes.io/job-completion-index annotation and label, hostname
// "<job>-<index>" and JOB_COMPLETION_INDEX. After failures it waits an
// exponential backoff (10s doubling to 6m by default) before creating
// pods. Exceeding backoffLimit (in failed pods, or in container restarts
// of active pods under restartPolicy OnFailure) or activeDeadlineSeconds
// sets FailureTarget, reaching completions sets SuccessCriteriaMet; either
// deletes the active pods and, once none remain, the final Failed or
// Complete condition follows with the same reason. A suspended Job has its
// active pods deleted and the Suspended condition; resuming restarts its
// deadline.
//
// A podFailurePolicy judges each failed pod by its first matching rule
// (onExitCodes over non-zero exit codes, onPodConditions such as the
// DisruptionTarget that evictions set): FailJob sets FailureTarget with
// reason PodFailurePolicy, Ignore leaves the failure out of status.failed,
// the limits and the backoff, Count counts it, FailIndex fails its index.
// Under podReplacementPolicy Failed (the default with a podFailurePolicy)
// a terminating pod holds its place until it is gone. For an Indexed Job
// with backoffLimitPerIndex, failures are counted per index (new pods
// carry the index's counts in the batch.kubernetes.io/job-index-failure-count
// and job-index-ignored-failure-count annotations, so the counts outlive
// the failed pods), each index backs off on its own, an index past its
// limit is failed (status.failedIndexes) and gets no more pods, more than
// maxFailedIndexes failed sets MaxFailedIndexesExceeded, and every index
// finished with some failed sets FailedIndexes. A successPolicy rule met
// by the succeeded indexes sets SuccessCriteriaMet with reason
// SuccessPolicy.
//
// Succeeded and failed pods are counted from the pods that still exist,
// as before upstream's tracking with the batch.kubernetes.io/job-tracking
// finalizer: a terminal pod deleted by someone else no longer counts.
// Pods that match a Job's selector and have no controller are adopted (an
// ownerReference patch conditional on the pod's version, after reading
// the Job afresh as upstream does); pods it controls that stop matching
// are released. ttlSecondsAfterFinished is the ttlafterfinished controller's.
//
// The controller owns the pods it creates for Jobs and the Job status;
// nothing else.
package job
