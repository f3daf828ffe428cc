package registry

import (
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
)

const (
	// betaStorageClassAnnotation names a volume's or claim's class before
	// spec.storageClassName existed; it takes precedence when present.
	betaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"
	// Annotations marking the default StorageClass.
	defaultClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	betaDefaultClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

func persistentVolumeTable() table {
	spec, status := corev1.PersistentVolumeSpec{}.SwaggerDoc(), corev1.PersistentVolumeStatus{}.SwaggerDoc()
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Capacity", "string", spec["capacity"]),
			column("Access Modes", "string", spec["accessModes"]),
			column("Reclaim Policy", "string", spec["persistentVolumeReclaimPolicy"]),
			column("Status", "string", status["phase"]),
			column("Claim", "string", spec["claimRef"]),
			column("StorageClass", "string", "StorageClass of the pv"),
			column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
			column("Reason", "string", status["reason"]),
			ageColumn(),
			wide(column("VolumeMode", "string", spec["volumeMode"])),
		},
		row: rowOf(func(pv *corev1.PersistentVolume, now time.Time) []any {
			var claim string
			if ref := pv.Spec.ClaimRef; ref != nil {
				claim = ref.Namespace + "/" + ref.Name
			}
			phase := string(pv.Status.Phase)
			if pv.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			capacity := pv.Spec.Capacity[corev1.ResourceStorage]
			class := pv.Spec.StorageClassName
			if c, ok := pv.Annotations[betaStorageClassAnnotation]; ok {
				class = c
			}
			return []any{
				pv.Name, capacity.String(), accessModes(pv.Spec.AccessModes), string(pv.Spec.PersistentVolumeReclaimPolicy),
				phase, claim, class, orUnset(pv.Spec.VolumeAttributesClassName), pv.Status.Reason,
				since(pv.CreationTimestamp, now), volumeMode(pv.Spec.VolumeMode),
			}
		}),
	}
}

func persistentVolumeClaimTable() table {
	spec, status := corev1.PersistentVolumeClaimSpec{}.SwaggerDoc(), corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Status", "string", status["phase"]),
			column("Volume", "string", spec["volumeName"]),
			column("Capacity", "string", status["capacity"]),
			column("Access Modes", "string", status["accessModes"]),
			column("StorageClass", "string", "StorageClass of the pvc"),
			column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
			ageColumn(),
			wide(column("VolumeMode", "string", spec["volumeMode"])),
		},
		row: rowOf(func(pvc *corev1.PersistentVolumeClaim, now time.Time) []any {
			phase := string(pvc.Status.Phase)
			if pvc.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			// Capacity and access modes show once the claim is bound.
			var capacity, modes string
			if pvc.Spec.VolumeName != "" {
				q := pvc.Status.Capacity[corev1.ResourceStorage]
				capacity, modes = q.String(), accessModes(pvc.Status.AccessModes)
			}
			var class string
			if c, ok := pvc.Annotations[betaStorageClassAnnotation]; ok {
				class = c
			} else if pvc.Spec.StorageClassName != nil {
				class = *pvc.Spec.StorageClassName
			}
			return []any{
				pvc.Name, phase, pvc.Spec.VolumeName, capacity, modes, class,
				orUnset(pvc.Spec.VolumeAttributesClassName), since(pvc.CreationTimestamp, now), volumeMode(pvc.Spec.VolumeMode),
			}
		}),
	}
}

// accessModes abbreviates access modes in a fixed order, each once:
// "RWO,ROX,RWX,RWOP".
func accessModes(modes []corev1.PersistentVolumeAccessMode) string {
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{
		{corev1.ReadWriteOnce, "RWO"},
		{corev1.ReadOnlyMany, "ROX"},
		{corev1.ReadWriteMany, "RWX"},
		{corev1.ReadWriteOncePod, "RWOP"},
	} {
		if slices.Contains(modes, m.mode) {
			out = append(out, m.short)
		}
	}
	return strings.Join(out, ",")
}

func volumeMode(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return "<unset>"
	}
	return string(*m)
}

func orUnset(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}

func storageClassTable() table {
	doc := storagev1.StorageClass{}.SwaggerDoc()
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Provisioner", "string", doc["provisioner"]),
			column("ReclaimPolicy", "string", doc["reclaimPolicy"]),
			column("VolumeBindingMode", "string", doc["volumeBindingMode"]),
			column("AllowVolumeExpansion", "string", doc["allowVolumeExpansion"]),
			ageColumn(),
		},
		row: rowOf(func(sc *storagev1.StorageClass, now time.Time) []any {
			name := sc.Name
			if sc.Annotations[defaultClassAnnotation] == "true" || sc.Annotations[betaDefaultClassAnnotation] == "true" {
				name += " (default)"
			}
			reclaim := string(corev1.PersistentVolumeReclaimDelete)
			if sc.ReclaimPolicy != nil {
				reclaim = string(*sc.ReclaimPolicy)
			}
			binding := string(storagev1.VolumeBindingImmediate)
			if sc.VolumeBindingMode != nil {
				binding = string(*sc.VolumeBindingMode)
			}
			expansion := sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion
			return []any{name, sc.Provisioner, reclaim, binding, expansion, since(sc.CreationTimestamp, now)}
		}),
	}
}
