// Package env resolves a container's environment as the kubelet does, and
// owns the downward API values (pod fields and container resources) that
// both environment variables and downwardAPI volumes expose.
//
// A Resolver reads ConfigMaps and Secrets through client-go with the node's
// identity (the Node authorizer allows exactly the objects the node's pods
// reference) and Services from a lister. Resolve builds, in kubelet's order:
// envFrom sources (later ones win), then env entries with $(VAR) expansion
// against what came before and the Service variables, then the Service
// variables not overridden. An error from Resolve is what the kubelet
// reports as CreateContainerConfigError, with the kubelet's message.
//
// env is its own package rather than a file of package volume because the
// worker resolves a container's environment independently of its volumes,
// and the volume package needs only the downward API values from here.
package env
