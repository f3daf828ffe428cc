package storageprotection

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/admission"
)

func TestAdmit(t *testing.T) {
	res := func(r string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Version: "v1", Resource: r}
	}
	tests := []struct {
		name string
		a    admission.Attributes
		want []string
	}{
		{"claim", admission.Attributes{Operation: admission.Create, Resource: res("persistentvolumeclaims"), Object: &corev1.PersistentVolumeClaim{}}, []string{ClaimFinalizer}},
		{"volume keeps its finalizers", admission.Attributes{Operation: admission.Create, Resource: res("persistentvolumes"),
			Object: &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Finalizers: []string{"x"}}}}, []string{"x", VolumeFinalizer}},
		{"not twice", admission.Attributes{Operation: admission.Create, Resource: res("persistentvolumes"),
			Object: &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Finalizers: []string{VolumeFinalizer}}}}, []string{VolumeFinalizer}},
		{"update untouched", admission.Attributes{Operation: admission.Update, Resource: res("persistentvolumeclaims"), Object: &corev1.PersistentVolumeClaim{}}, nil},
		{"other resources untouched", admission.Attributes{Operation: admission.Create, Resource: res("pods"), Object: &corev1.Pod{}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := (Plugin{}).Admit(t.Context(), &tt.a); err != nil {
				t.Fatal(err)
			}
			got := tt.a.Object.(interface{ GetFinalizers() []string }).GetFinalizers()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("finalizers (-want +got):\n%s", diff)
			}
		})
	}
}
