// Package serviceaccount is the ServiceAccounts controller: it owns the
// ServiceAccount named "default" in every active namespace, creating it when
// a namespace appears and again whenever it is deleted. It does nothing in a
// terminating namespace, and never changes an existing "default" account.
//
// Data flows from informers on Namespaces and ServiceAccounts, whose handlers
// enqueue namespace names, to workers that create the account when the cache
// lacks it.
package serviceaccount
