// Package bootstraptoken is upstream's token cleaner: it deletes bootstrap
// token Secrets (type `bootstrap.kubernetes.io/token` in kube-system) once
// their expiration has passed, and waits for the next expiry otherwise.
// It owns nothing else; `berth token` creates the Secrets and the bootstrap
// authenticator in internal/auth/bootstrap already refuses expired ones.
//
// Data flows from a Secret informer (events of other Secrets are dropped)
// into a work queue of Secret keys; a worker deletes the expired Secret or
// queues its key again for when it expires.
package bootstraptoken
