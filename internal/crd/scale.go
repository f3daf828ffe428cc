package crd

import (
	"errors"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// errNoScale is returned by the scale helpers of a version without the
// scale subresource.
var errNoScale = errors.New("the version has no scale subresource")

// replicasPath splits a scale subresource path (.spec.replicas) into its
// fields.
func replicasPath(p string) []string {
	return strings.Split(strings.TrimPrefix(p, "."), ".")
}

// ScaleFrom reads the scale of obj through the scale subresource's paths,
// as upstream does: replicas that are missing are 0, a label selector
// path that is unset or missing gives "". A value of the wrong type (not
// an int64 for replicas, not a string for the selector) is an error.
func (v *Version) ScaleFrom(obj map[string]any) (specReplicas, statusReplicas int32, selector string, err error) {
	if v.scale == nil {
		return 0, 0, "", errNoScale
	}
	spec, _, err := unstructured.NestedInt64(obj, replicasPath(v.scale.SpecReplicasPath)...)
	if err != nil {
		return 0, 0, "", err
	}
	status, _, err := unstructured.NestedInt64(obj, replicasPath(v.scale.StatusReplicasPath)...)
	if err != nil {
		return 0, 0, "", err
	}
	if p := v.scale.LabelSelectorPath; p != nil && *p != "" {
		if selector, _, err = unstructured.NestedString(obj, replicasPath(*p)...); err != nil {
			return 0, 0, "", err
		}
	}
	return int32(spec), int32(status), selector, nil
}

// SpecReplicasSet says whether obj has a value at the scale
// subresource's spec replicas path; upstream refuses a scale update that
// leaves unset replicas unset.
func (v *Version) SpecReplicasSet(obj map[string]any) bool {
	if v.scale == nil {
		return false
	}
	_, found, err := unstructured.NestedFieldNoCopy(obj, replicasPath(v.scale.SpecReplicasPath)...)
	return found && err == nil
}

// SetReplicas writes n at the scale subresource's spec replicas path of
// obj, creating the objects on the way.
func (v *Version) SetReplicas(obj map[string]any, n int32) error {
	if v.scale == nil {
		return errNoScale
	}
	return unstructured.SetNestedField(obj, int64(n), replicasPath(v.scale.SpecReplicasPath)...)
}
