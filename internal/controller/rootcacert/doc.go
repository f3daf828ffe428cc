// Package rootcacert is the root CA certificate publisher: it owns the
// ConfigMap named "kube-root-ca.crt" in every active namespace, whose
// data["ca.crt"] is the cluster CA bundle that pods use to verify the API
// server. It creates the ConfigMap when a namespace appears or the ConfigMap
// is deleted, and puts its data and description annotation back when they
// are edited. It does nothing in a terminating namespace.
//
// Data flows from informers on Namespaces and ConfigMaps (only events for
// ConfigMaps of that name reach the handlers), which enqueue namespace names,
// to workers that compare the cached ConfigMap with the wanted one and write
// the difference.
package rootcacert
