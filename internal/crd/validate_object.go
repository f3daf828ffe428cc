package crd

import (
	"fmt"
	"math"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validate checks a new custom object (after Prune and Default) as
// upstream does, apart from metadata, which is the API server's to check:
// kind and apiVersion must be the version's; the object must match the
// OpenAPI schema (errors like `spec.replicas: Invalid value: "string":
// spec.replicas in body must be of type integer: "string"`); the scale
// subresource's replicas must be non-negative int32s; embedded resources
// need a valid apiVersion, kind and metadata; lists of
// x-kubernetes-list-type set or map must not repeat an item or key; and
// the x-kubernetes-validations rules must hold (see cel.go for what berth
// evaluates differently). The rules are not run when the schema errors
// make that pointless, as upstream.
func (v *Version) Validate(obj map[string]any) field.ErrorList {
	if errs := v.validateTypeMeta(obj); len(errs) > 0 {
		return errs
	}
	errs := resultErrors(nil, v.validator.Validate(obj))
	errs = append(errs, v.validateScaleSpec(obj)...)
	errs = append(errs, v.validateScaleStatus(obj)...)
	errs = append(errs, validateEmbedded(nil, obj, v.root)...)
	errs = append(errs, validateLists(nil, v.root, obj)...)
	return append(errs, v.validateRules(errs, obj, nil)...)
}

// ValidateUpdate checks an update of a custom object from old to obj as
// Validate checks a new one, but ratchets as upstream does: a schema error
// in a part of obj that is unchanged from old (following map keys, and
// the items of x-kubernetes-list-type map lists by key) is not reported,
// list-type errors are reported only when old had none, and rule errors
// on unchanged values are not reported; transition rules (using oldSelf)
// run where the old value correlates.
func (v *Version) ValidateUpdate(obj, old map[string]any) field.ErrorList {
	if errs := v.validateTypeMeta(obj); len(errs) > 0 {
		return errs
	}
	errs := resultErrors(nil, ratchetingValidate(v.openapi, obj, old))
	errs = append(errs, v.validateScaleSpec(obj)...)
	errs = append(errs, v.validateScaleStatus(obj)...)
	errs = append(errs, validateEmbedded(nil, obj, v.root)...)
	if len(validateLists(nil, v.root, old)) == 0 {
		errs = append(errs, validateLists(nil, v.root, obj)...)
	}
	return append(errs, v.validateRules(errs, obj, old)...)
}

// ValidateStatusUpdate checks an update through the status subresource
// as upstream does: only .status is checked against its schema (with
// ratcheting), plus the scale subresource's status paths and the lists.
func (v *Version) ValidateStatusUpdate(obj, old map[string]any) field.ErrorList {
	if errs := v.validateTypeMeta(obj); len(errs) > 0 {
		return errs
	}
	var errs field.ErrorList
	if status, ok := obj["status"]; ok {
		if s, ok := v.openapi.Properties["status"]; ok {
			errs = append(errs, resultErrors(field.NewPath("status"), ratchetingValidate(&s, status, old["status"]))...)
		}
	}
	errs = append(errs, v.validateScaleStatus(obj)...)
	if newErrs := validateLists(nil, v.root, obj); len(newErrs) > 0 && len(validateLists(nil, v.root, old)) == 0 {
		errs = append(errs, newErrs...)
	}
	return append(errs, v.validateRules(errs, obj, old)...)
}

func (v *Version) validateTypeMeta(obj map[string]any) field.ErrorList {
	var errs field.ErrorList
	if kind, _ := obj["kind"].(string); kind != v.kind {
		errs = append(errs, field.Invalid(field.NewPath("kind"), kind, "must be "+v.kind))
	}
	want := v.group + "/" + v.version
	if apiVersion, _ := obj["apiVersion"].(string); apiVersion != want {
		errs = append(errs, field.Invalid(field.NewPath("apiVersion"), apiVersion, "must be "+want))
	}
	return errs
}

func (v *Version) validateScaleSpec(obj map[string]any) field.ErrorList {
	if v.scale == nil {
		return nil
	}
	return validateReplicas(obj, v.scale.SpecReplicasPath)
}

func (v *Version) validateScaleStatus(obj map[string]any) field.ErrorList {
	if v.scale == nil {
		return nil
	}
	errs := validateReplicas(obj, v.scale.StatusReplicasPath)
	if p := v.scale.LabelSelectorPath; p != nil {
		if sel, _, err := unstructured.NestedString(obj, replicasPath(*p)...); err != nil {
			errs = append(errs, field.Invalid(field.NewPath(*p), sel, err.Error()))
		}
	}
	return errs
}

// validateReplicas checks the replicas at a scale subresource path. The
// error's path is the JSONPath itself (".spec.replicas"), as upstream's.
func validateReplicas(obj map[string]any, pth string) field.ErrorList {
	n, _, err := unstructured.NestedInt64(obj, replicasPath(pth)...)
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(field.NewPath(pth), n, err.Error())}
	case n < 0:
		return field.ErrorList{field.Invalid(field.NewPath(pth), n, "should be a non-negative integer")}
	case n > math.MaxInt32:
		return field.ErrorList{field.Invalid(field.NewPath(pth), n, fmt.Sprintf("should be less than or equal to %v", math.MaxInt32))}
	}
	return nil
}
