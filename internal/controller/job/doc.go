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
// Complete condition follows with the same reason. A suspended Job has its active pods
// deleted and the Suspended condition; resuming restarts its deadline.
//
// Succeeded and failed pods are counted from the pods that still exist,
// as before upstream's tracking with the batch.kubernetes.io/job-tracking
// finalizer: a terminal pod deleted by someone else no longer counts.
// ttlSecondsAfterFinished, podFailurePolicy, successPolicy,
// backoffLimitPerIndex and the adoption of orphan pods are not
// implemented.
//
// The controller owns the pods it creates for Jobs and the Job status;
// nothing else.
package job
