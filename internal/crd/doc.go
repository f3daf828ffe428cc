// Package crd holds the logic of CustomResourceDefinitions (apiextensions.k8s.io/v1)
// that does not depend on HTTP or the store: defaulting and validating the
// definitions themselves, computing their status (accepted names,
// conditions, stored versions), and, per served version, everything the
// API server applies to the custom objects: structural pruning, schema
// defaults, OpenAPI schema and list-type validation, printer columns,
// selectable fields and the scale subresource.
//
// The flow is: the API server calls Default, then Validate or
// ValidateUpdate, on a CustomResourceDefinition written by a client, and
// Status to compute what it stores under .status. For every version it
// serves, it calls NewVersion once and keeps the *Version; on each write of
// a custom object it decodes the JSON into unstructured content (int64 and
// float64 for numbers, as k8s.io/apimachinery/pkg/util/json does) and calls
// Prune, Default and Validate (or ValidateUpdate) on it, in that order.
//
// Behaviour and messages follow k8s.io/apiextensions-apiserver v0.37, with
// the differences the doc comments name: berth does not call conversion
// webhooks, does not serve CRDs with spec.preserveUnknownFields, and
// evaluates CEL rules without upstream's schema typing and Kubernetes
// libraries (see cel.go; Version.Warnings lists the rules it skips).
package crd
