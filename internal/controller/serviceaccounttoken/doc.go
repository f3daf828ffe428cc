// Package serviceaccounttoken is the legacy token controller, upstream's
// TokensController: it owns the data of Secrets of type
// `kubernetes.io/service-account-token`. A user who asks for a long-lived
// token creates such a Secret annotated `kubernetes.io/service-account.name`
// (and optionally `kubernetes.io/service-account.uid`); the controller fills
// its keys token (a legacy JWT, iss `kubernetes/serviceaccount`, valid as
// long as the Secret holds it), ca.crt and namespace, and records the
// ServiceAccount's UID. A Secret whose ServiceAccount does not exist (or is
// another incarnation, by UID) is deleted, also when the ServiceAccount is
// deleted later. Nothing is created unasked.
//
// Data flows from informers on Secrets (of that type only) and
// ServiceAccounts, which enqueue Secret keys, to workers that compare the
// cached Secret with what it should hold and write the difference.
package serviceaccounttoken
