// Package ttlafterfinished runs the TTL-after-finished controller: it
// deletes each batch/v1 Job with spec.ttlSecondsAfterFinished set once
// that many seconds have passed since the Job finished (the last
// transition of its Complete or Failed condition), with background
// propagation, so that the garbage collector removes its pods.
//
// A Job is requeued for the moment it expires on a work queue driven by
// Config.Clock; when it is due, the controller reads the Job afresh from
// the API server (the cache may hold an older TTL) and deletes it with
// that version as precondition, so a TTL changed meanwhile is honoured.
//
// The controller owns the deletion of expired finished Jobs; nothing
// else.
package ttlafterfinished
