#!/usr/bin/env bash
# Regenerates zz_generated.openapi.go: the OpenAPI definitions of every
# built-in type berth serves, made by kube-openapi's openapi-gen at the
# kube-openapi version the module requires. Run from anywhere: go generate
# ./internal/openapi, or bash internal/openapi/generate.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

kube_openapi=$(go list -m -f '{{.Version}}' k8s.io/kube-openapi)

packages=(
	k8s.io/api/core/v1
	k8s.io/api/apps/v1
	k8s.io/api/batch/v1
	k8s.io/api/networking/v1
	k8s.io/api/rbac/v1
	k8s.io/api/storage/v1
	k8s.io/api/coordination/v1
	k8s.io/api/discovery/v1
	k8s.io/api/events/v1
	k8s.io/api/policy/v1
	k8s.io/api/autoscaling/v1
	k8s.io/api/autoscaling/v2
	k8s.io/api/node/v1
	k8s.io/api/scheduling/v1
	# batch/v1 Job refers to the Workload scheduling types of this version.
	k8s.io/api/scheduling/v1alpha3
	k8s.io/api/authentication/v1
	k8s.io/api/authorization/v1
	k8s.io/api/certificates/v1
	k8s.io/api/admissionregistration/v1
	k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1
	k8s.io/apimachinery/pkg/apis/meta/v1
	k8s.io/apimachinery/pkg/runtime
	k8s.io/apimachinery/pkg/util/intstr
	k8s.io/apimachinery/pkg/api/resource
	k8s.io/apimachinery/pkg/version
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The header gengo puts on top of the file; the generator adds its own
# "Code generated" line.
printf '' >"$tmp/header.txt"

# Upstream types carry known API-rule violations; the report goes to a
# file (which makes them non-fatal) and is discarded.
go run "k8s.io/kube-openapi/cmd/openapi-gen@${kube_openapi}" \
	--go-header-file "$tmp/header.txt" \
	--output-dir "$here" \
	--output-pkg berth.dev/berth/internal/openapi \
	--output-file zz_generated.openapi.go \
	--report-filename "$tmp/violations.txt" \
	"${packages[@]}"
