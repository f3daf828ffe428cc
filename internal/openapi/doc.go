// Package openapi serves berth's OpenAPI documents: /openapi/v2 (JSON and
// gnostic protobuf) and /openapi/v3 (the index and one document per group
// version), and hands the same schemas to server-side apply.
//
// The schemas of the built-in types come from zz_generated.openapi.go, which
// kube-openapi's openapi-gen makes from the k8s.io/api, apimachinery and
// apiextensions types (go generate ./internal/openapi regenerates it).
// New turns them into definitions named as upstream names them
// (io.k8s.api.apps.v1.Deployment), marks every kind with
// x-kubernetes-group-version-kind, and describes every resource of the
// resource table with the operations, parameters and extensions kubectl and
// client-go read. Custom resources are added and removed at run time.
//
// Documents are encoded once, on first request, and kept until a custom
// resource change replaces the documents it affects.
package openapi

//go:generate bash generate.sh
