package defaultstorageclass

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/admission/admissiontest"
)

func class(name string, created time.Time, ann ...string) *storagev1.StorageClass {
	c := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created), Annotations: map[string]string{}}}
	for _, a := range ann {
		c.Annotations[a] = "true"
	}
	return c
}

func TestAdmit(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	empty := ""
	named := "gold"
	tests := []struct {
		name     string
		classes  []runtime.Object
		pvc      *corev1.PersistentVolumeClaim
		op       admission.Operation
		wantName *string
	}{
		{"default set", []runtime.Object{class("plain", t0), class("local-path", t0, AnnDefault)}, &corev1.PersistentVolumeClaim{}, admission.Create, new("local-path")},
		{"beta annotation", []runtime.Object{class("old", t0, AnnBetaDefault)}, &corev1.PersistentVolumeClaim{}, admission.Create, new("old")},
		{"newest default wins", []runtime.Object{class("a", t0, AnnDefault), class("b", t0.Add(time.Hour), AnnDefault)}, &corev1.PersistentVolumeClaim{}, admission.Create, new("b")},
		{"equally new: by name", []runtime.Object{class("b", t0, AnnDefault), class("a", t0, AnnDefault)}, &corev1.PersistentVolumeClaim{}, admission.Create, new("a")},
		{"no default", []runtime.Object{class("plain", t0)}, &corev1.PersistentVolumeClaim{}, admission.Create, nil},
		{"explicit empty class kept", []runtime.Object{class("d", t0, AnnDefault)}, &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &empty}}, admission.Create, &empty},
		{"named class kept", []runtime.Object{class("d", t0, AnnDefault)}, &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &named}}, admission.Create, &named},
		{"beta class annotation kept", []runtime.Object{class("d", t0, AnnDefault)},
			&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{annBetaClass: "x"}}}, admission.Create, nil},
		{"updates untouched", []runtime.Object{class("d", t0, AnnDefault)}, &corev1.PersistentVolumeClaim{}, admission.Update, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Plugin{}
			p.UseObjects(admissiontest.Objects{classesResource: tt.classes})
			a := &admission.Attributes{Operation: tt.op, Resource: schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}, Object: tt.pvc}
			if err := p.Admit(t.Context(), a); err != nil {
				t.Fatal(err)
			}
			got := tt.pvc.Spec.StorageClassName
			if (got == nil) != (tt.wantName == nil) || (got != nil && *got != *tt.wantName) {
				t.Errorf("storageClassName = %v, want %v", deref(got), deref(tt.wantName))
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
