// Package endpointslice runs the EndpointSlice and legacy Endpoints
// controllers as one: for every Service with a selector it keeps the
// discovery.k8s.io/v1 EndpointSlices labelled with the Service's name and
// managed-by endpointslice-controller.k8s.io, and the core/v1 Endpoints
// object of the same name, listing the pods the selector matches.
//
// A sync reads the Service, its pods and nodes (for zones) from the
// informer caches, computes the desired objects with the pure functions
// DesiredSlices and DesiredSubsets, and writes only what differs. Slice
// names are derived from the Service, the address family and the resolved
// ports, so a sync working from a stale cache fails on a conflict or an
// existing name and is retried instead of creating duplicates. Like
// upstream, an Endpoints object keeps at most 1000 addresses (ready ones
// first) and is then annotated endpoints.kubernetes.io/over-capacity.
//
// The controller owns EndpointSlices managed by endpointslice-controller.k8s.io
// and the Endpoints of Services with a selector (except default/kubernetes,
// which the API server keeps). Services without a selector are left to
// their users. When a Service is deleted, its managed slices and its
// Endpoints are deleted here rather than left to the garbage collector.
package endpointslice
