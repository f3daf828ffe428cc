// Package audit records what the API server was asked and what it
// answered, in upstream Kubernetes' audit.k8s.io/v1 formats: a Policy file
// decides per request the level (None, Metadata, Request, RequestResponse)
// and the stages left out; Events go to sinks as JSON lines (a file with
// size rotation, or stdout) and as batched EventLists to a webhook.
//
// The API server asks Auditor.Evaluate for every request with its
// authorization attributes; at level None nothing more happens. Otherwise
// Auditor.Start gives a Recorder that emits RequestReceived, wraps the
// response writer to learn the status code (emitting ResponseStarted for
// long-running requests such as watches), collects the authorization
// decision and, at the Request and RequestResponse levels, the bodies, and
// emits ResponseComplete (or Panic) at the end. Requests whose credentials
// fail authentication get one ResponseStarted event without a user, as
// upstream's.
//
// Sinks never block a request for long: the log sink writes each event
// synchronously to a local file, the webhook sink queues events in a
// bounded buffer and drops (and counts) what does not fit.
package audit
