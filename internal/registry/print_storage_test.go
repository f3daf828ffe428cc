package registry

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

func TestAccessModes(t *testing.T) {
	tests := []struct {
		modes []corev1.PersistentVolumeAccessMode
		want  string
	}{
		{nil, ""},
		{[]corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, "RWO"},
		{[]corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod, corev1.ReadWriteMany, corev1.ReadOnlyMany, corev1.ReadWriteOnce, corev1.ReadWriteMany}, "RWO,ROX,RWX,RWOP"},
	}
	for _, tt := range tests {
		if got := accessModes(tt.modes); got != tt.want {
			t.Errorf("accessModes(%v) = %q, want %q", tt.modes, got, tt.want)
		}
	}
}

func storageGolden() map[schema.GroupKind][]runtime.Object {
	storage := func(s string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(s)}
	}
	bound := &corev1.PersistentVolume{
		ObjectMeta: om("pvc-3f2a", 6*time.Hour),
		Spec: corev1.PersistentVolumeSpec{
			Capacity: storage("10Gi"), AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			ClaimRef:                      &corev1.ObjectReference{Namespace: "default", Name: "data-db-0"},
			StorageClassName:              "local-path", VolumeMode: ptr.To(corev1.PersistentVolumeFilesystem),
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
	}
	released := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name: "old", CreationTimestamp: ago(30 * 24 * time.Hour), DeletionTimestamp: agoPtr(time.Minute),
			Annotations: map[string]string{betaStorageClassAnnotation: "legacy"},
		},
		Spec: corev1.PersistentVolumeSpec{
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany, corev1.ReadWriteMany},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain, StorageClassName: "ignored",
			VolumeAttributesClassName: ptr.To("gold"),
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeFailed, Reason: "DeletionFailed"},
	}
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: om("data-db-0", 6*time.Hour),
		Spec: corev1.PersistentVolumeClaimSpec{
			VolumeName: "pvc-3f2a", StorageClassName: ptr.To("local-path"), VolumeMode: ptr.To(corev1.PersistentVolumeBlock),
			Resources: corev1.VolumeResourceRequirements{Requests: storage("5Gi")},
		},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, Capacity: storage("10Gi"), AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}},
	}
	pending := &corev1.PersistentVolumeClaim{
		ObjectMeta: om("scratch", time.Minute),
		Spec:       corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: storage("1Gi")}},
		Status:     corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
	return map[schema.GroupKind][]runtime.Object{
		{Kind: "PersistentVolume"}:      {bound, released},
		{Kind: "PersistentVolumeClaim"}: {claim, pending},
		{Group: "storage.k8s.io", Kind: "StorageClass"}: {
			&storagev1.StorageClass{
				ObjectMeta:  metav1.ObjectMeta{Name: "local-path", CreationTimestamp: ago(time.Hour), Annotations: map[string]string{defaultClassAnnotation: "true"}},
				Provisioner: "berth.dev/local-path", VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer),
			},
			&storagev1.StorageClass{
				ObjectMeta:  metav1.ObjectMeta{Name: "beta-default", CreationTimestamp: ago(time.Hour), Annotations: map[string]string{betaDefaultClassAnnotation: "true"}},
				Provisioner: "example.com/nfs", ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimRetain), AllowVolumeExpansion: ptr.To(true),
			},
			&storagev1.StorageClass{
				ObjectMeta:  metav1.ObjectMeta{Name: "not-default", CreationTimestamp: ago(time.Hour), Annotations: map[string]string{defaultClassAnnotation: "false"}},
				Provisioner: "example.com/nfs",
			},
		},
	}
}
