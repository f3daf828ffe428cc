// Package namespace is the namespace controller: it empties namespaces that
// are being deleted and then releases them.
//
// It owns the "kubernetes" finalizer in a Namespace's spec.finalizers and
// the namespace deletion conditions in its status (NamespaceDeletion*,
// NamespaceContentRemaining, NamespaceFinalizersRemaining). For a Namespace
// with a deletionTimestamp that still holds the finalizer, each sync marks
// it Terminating, discovers every namespaced resource that can be deleted
// (built-in and custom; discovery is asked afresh on every sync), deletes
// all objects of those resources in the namespace through the metadata
// client (deletecollection where served, else list and delete each),
// records what remains in the status conditions, and once nothing remains
// removes the finalizer through the finalize subresource, after which the
// API server deletes the namespace. While content remains (objects waiting
// on their own finalizers or on graceful deletion) the namespace is synced
// again after a few seconds. Namespaces not being deleted are left alone.
package namespace
