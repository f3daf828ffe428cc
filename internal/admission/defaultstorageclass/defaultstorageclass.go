// Package defaultstorageclass is the DefaultStorageClass admission
// plugin: a new PersistentVolumeClaim that names no StorageClass (neither
// spec.storageClassName nor the beta annotation) gets the default one —
// the class annotated storageclass.kubernetes.io/is-default-class "true"
// (or the beta annotation), the newest when there are several, by name
// among equally new ones, as upstream. Without a default class the claim
// is left alone.
package defaultstorageclass

import (
	"context"
	"sort"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/auth"
)

// The annotations that mark a default class.
const (
	AnnDefault     = "storageclass.kubernetes.io/is-default-class"
	AnnBetaDefault = "storageclass.beta.kubernetes.io/is-default-class"

	annBetaClass = "volume.beta.kubernetes.io/storage-class"
)

var (
	claimsResource  = schema.GroupResource{Resource: "persistentvolumeclaims"}
	classesResource = schema.GroupResource{Group: "storage.k8s.io", Resource: "storageclasses"}
)

// Plugin is the DefaultStorageClass admission plugin.
type Plugin struct{ objects auth.Objects }

var (
	_ admission.Mutator = (*Plugin)(nil)
	_ auth.ObjectsUser  = (*Plugin)(nil)
)

// Name is the upstream plugin name.
func (*Plugin) Name() string { return "DefaultStorageClass" }

// UseObjects gives the plugin the StorageClasses it reads.
func (p *Plugin) UseObjects(o auth.Objects) { p.objects = o }

// Admit sets the default class on a new claim without one.
func (p *Plugin) Admit(_ context.Context, a *admission.Attributes) error {
	if a.Operation != admission.Create || a.Subresource != "" || a.Resource.GroupResource() != claimsResource {
		return nil
	}
	pvc, ok := a.Object.(*corev1.PersistentVolumeClaim)
	if !ok || pvc.Spec.StorageClassName != nil {
		return nil
	}
	if _, ok := pvc.Annotations[annBetaClass]; ok {
		return nil
	}
	objs, err := p.objects.List(classesResource, "", nil)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	classes := make([]*storagev1.StorageClass, len(objs))
	for i, o := range objs {
		classes[i] = o.(*storagev1.StorageClass)
	}
	if def := Default(classes); def != nil {
		name := def.Name
		pvc.Spec.StorageClassName = &name
	}
	return nil
}

// Default returns the default class among classes, or nil.
func Default(classes []*storagev1.StorageClass) *storagev1.StorageClass {
	var defaults []*storagev1.StorageClass
	for _, c := range classes {
		if c.Annotations[AnnDefault] == "true" || c.Annotations[AnnBetaDefault] == "true" {
			defaults = append(defaults, c)
		}
	}
	if len(defaults) == 0 {
		return nil
	}
	sort.Slice(defaults, func(i, j int) bool {
		ti, tj := defaults[i].CreationTimestamp.UnixNano(), defaults[j].CreationTimestamp.UnixNano()
		if ti == tj {
			return defaults[i].Name < defaults[j].Name
		}
		return ti > tj
	})
	return defaults[0]
}
