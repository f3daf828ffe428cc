package limitranger

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/admission/admissiontest"
)

func list(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func plugin(items ...corev1.LimitRangeItem) *Plugin {
	p := &Plugin{}
	p.UseObjects(admissiontest.Objects{rangesResource: {&corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "limits"}, Spec: corev1.LimitRangeSpec{Limits: items},
	}}})
	return p
}

func podAttrs(op admission.Operation, pod *corev1.Pod) *admission.Attributes {
	return &admission.Attributes{Operation: op, Resource: corev1.SchemeGroupVersion.WithResource("pods"), Namespace: "ns", Name: "p", Object: pod}
}

func TestDefaults(t *testing.T) {
	p := plugin(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Default: list("cpu", "500m", "memory", "256Mi"), DefaultRequest: list("cpu", "100m", "memory", "128Mi")})
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "bare"},
		{Name: "sized", Resources: corev1.ResourceRequirements{Requests: list("cpu", "200m"), Limits: list("cpu", "1", "memory", "1Gi")}},
	}}}
	if err := p.Admit(context.Background(), podAttrs(admission.Create, pod)); err != nil {
		t.Fatal(err)
	}
	want := []corev1.ResourceRequirements{
		{Requests: list("cpu", "100m", "memory", "128Mi"), Limits: list("cpu", "500m", "memory", "256Mi")},
		{Requests: list("cpu", "200m", "memory", "128Mi"), Limits: list("cpu", "1", "memory", "1Gi")},
	}
	for i, c := range pod.Spec.Containers {
		if diff := cmp.Diff(want[i], c.Resources); diff != "" {
			t.Errorf("container %s (-want +got):\n%s", c.Name, diff)
		}
	}
	wantNote := "LimitRanger plugin set: cpu, memory request for container bare; cpu, memory limit for container bare; memory request for container sized"
	if got := pod.Annotations[Annotation]; got != wantNote {
		t.Errorf("annotation = %q\nwant %q", got, wantNote)
	}
	// Updates are left alone.
	upd := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "bare"}}}}
	if err := p.Admit(context.Background(), podAttrs(admission.Update, upd)); err != nil || upd.Spec.Containers[0].Resources.Limits != nil {
		t.Errorf("update defaulted: %v %v", err, upd.Spec.Containers[0].Resources)
	}
}

func TestBounds(t *testing.T) {
	tests := []struct {
		name    string
		item    corev1.LimitRangeItem
		pod     corev1.PodSpec
		wantErr string
	}{
		{
			name: "within bounds",
			item: corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Min: list("cpu", "100m"), Max: list("cpu", "1")},
			pod:  corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: list("cpu", "200m"), Limits: list("cpu", "500m")}}}},
		},
		{
			name:    "over max",
			item:    corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: list("cpu", "1")},
			pod:     corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Limits: list("cpu", "2")}}}},
			wantErr: `pods "p" is forbidden: maximum cpu usage per Container is 1, but limit is 2`,
		},
		{
			name:    "under min and no limit for max",
			item:    corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Min: list("memory", "64Mi"), Max: list("memory", "1Gi")},
			pod:     corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: list("memory", "32Mi")}}}},
			wantErr: `pods "p" is forbidden: [minimum memory usage per Container is 64Mi, but request is 32Mi, maximum memory usage per Container is 1Gi.  No limit is specified]`,
		},
		{
			name:    "ratio",
			item:    corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, MaxLimitRequestRatio: list("cpu", "2")},
			pod:     corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: list("cpu", "100m"), Limits: list("cpu", "500m")}}}},
			wantErr: `pods "p" is forbidden: cpu max limit to request ratio per Container is 2, but provided ratio is 5.000000`,
		},
		{
			name: "pod totals",
			item: corev1.LimitRangeItem{Type: corev1.LimitTypePod, Max: list("cpu", "1")},
			pod: corev1.PodSpec{Containers: []corev1.Container{
				{Name: "a", Resources: corev1.ResourceRequirements{Limits: list("cpu", "600m")}},
				{Name: "b", Resources: corev1.ResourceRequirements{Limits: list("cpu", "600m")}},
			}},
			wantErr: `pods "p" is forbidden: maximum cpu usage per Pod is 1, but limit is 1200m`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := plugin(tt.item).Validate(context.Background(), podAttrs(admission.Create, &corev1.Pod{Spec: tt.pod}))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !apierrors.IsForbidden(err) || err.Error() != tt.wantErr {
				t.Errorf("err = %v\nwant %s", err, tt.wantErr)
			}
		})
	}
}

func TestClaims(t *testing.T) {
	p := plugin(corev1.LimitRangeItem{Type: corev1.LimitTypePersistentVolumeClaim, Min: list("storage", "1Gi"), Max: list("storage", "10Gi")})
	claim := func(size string) *admission.Attributes {
		return &admission.Attributes{Operation: admission.Create, Resource: corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims"), Namespace: "ns", Name: "c",
			Object: &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: list("storage", size)}}}}
	}
	if err := p.Validate(context.Background(), claim("5Gi")); err != nil {
		t.Errorf("5Gi: %v", err)
	}
	if err := p.Validate(context.Background(), claim("20Gi")); err == nil || err.Error() != `persistentvolumeclaims "c" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi` {
		t.Errorf("20Gi: %v", err)
	}
}
