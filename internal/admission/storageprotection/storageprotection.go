// Package storageprotection is the StorageObjectInUseProtection admission
// plugin: new PersistentVolumeClaims get the kubernetes.io/pvc-protection
// finalizer and new PersistentVolumes kubernetes.io/pv-protection, which
// the volume protection controller removes once they are unused, as
// upstream.
package storageprotection

import (
	"context"
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/admission"
)

// The finalizers, as upstream names them.
const (
	ClaimFinalizer  = "kubernetes.io/pvc-protection"
	VolumeFinalizer = "kubernetes.io/pv-protection"
)

var finalizers = map[schema.GroupResource]string{
	{Resource: "persistentvolumeclaims"}: ClaimFinalizer,
	{Resource: "persistentvolumes"}:      VolumeFinalizer,
}

// Plugin is the StorageObjectInUseProtection admission plugin.
type Plugin struct{}

var _ admission.Mutator = Plugin{}

// Name is the upstream plugin name.
func (Plugin) Name() string { return "StorageObjectInUseProtection" }

// Admit adds the protection finalizer to a new claim or volume.
func (Plugin) Admit(_ context.Context, a *admission.Attributes) error {
	f, ok := finalizers[a.Resource.GroupResource()]
	if !ok || a.Operation != admission.Create || a.Subresource != "" {
		return nil
	}
	m, err := meta.Accessor(a.Object)
	if err != nil || slices.Contains(m.GetFinalizers(), f) {
		return nil
	}
	m.SetFinalizers(append(m.GetFinalizers(), f))
	return nil
}
