package serviceaccount

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/admission/admissiontest"
)

func TestAdmit(t *testing.T) {
	objects := admissiontest.Objects{{Resource: "serviceaccounts"}: {
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "builder"}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "quiet"}, AutomountServiceAccountToken: ptr.To(false)},
	}}
	pod := func(mut func(*corev1.PodSpec)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}, Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init"}},
			Containers:     []corev1.Container{{Name: "a"}, {Name: "b"}},
		}}
		if mut != nil {
			mut(&p.Spec)
		}
		return p
	}
	tests := []struct {
		name        string
		pod         *corev1.Pod
		wantSA      string
		wantMounted bool
		wantPull    []corev1.LocalObjectReference
		wantErr     string
	}{
		{name: "default account, not yet created", pod: pod(nil), wantSA: "default", wantMounted: true},
		{name: "named account with pull secrets", pod: pod(func(s *corev1.PodSpec) { s.ServiceAccountName = "builder" }), wantSA: "builder", wantMounted: true,
			wantPull: []corev1.LocalObjectReference{{Name: "regcred"}}},
		{name: "account turns automount off", pod: pod(func(s *corev1.PodSpec) { s.ServiceAccountName = "quiet" }), wantSA: "quiet"},
		{name: "pod turns automount back on", pod: pod(func(s *corev1.PodSpec) {
			s.ServiceAccountName, s.AutomountServiceAccountToken = "quiet", ptr.To(true)
		}), wantSA: "quiet", wantMounted: true},
		{name: "pod turns automount off", pod: pod(func(s *corev1.PodSpec) { s.AutomountServiceAccountToken = ptr.To(false) }), wantSA: "default"},
		{name: "missing named account", pod: pod(func(s *corev1.PodSpec) { s.ServiceAccountName = "ghost" }),
			wantErr: `pods "p" is forbidden: error looking up service account ns/ghost: serviceaccounts "ghost" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Plugin{}
			p.UseObjects(objects)
			a := &admission.Attributes{Operation: admission.Create, Resource: corev1.SchemeGroupVersion.WithResource("pods"), Namespace: "ns", Name: "p", Object: tt.pod}
			err := p.Admit(context.Background(), a)
			if tt.wantErr != "" {
				if !apierrors.IsForbidden(err) || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			spec := tt.pod.Spec
			if spec.ServiceAccountName != tt.wantSA {
				t.Errorf("serviceAccountName = %q, want %q", spec.ServiceAccountName, tt.wantSA)
			}
			if diff := cmp.Diff(tt.wantPull, spec.ImagePullSecrets); diff != "" {
				t.Errorf("imagePullSecrets (-want +got):\n%s", diff)
			}
			if !tt.wantMounted {
				if len(spec.Volumes) != 0 || len(spec.Containers[0].VolumeMounts) != 0 {
					t.Errorf("token mounted: %v", spec.Volumes)
				}
				return
			}
			if len(spec.Volumes) != 1 || !strings.HasPrefix(spec.Volumes[0].Name, VolumePrefix) {
				t.Fatalf("volumes = %v", spec.Volumes)
			}
			if diff := cmp.Diff(tokenVolume(spec.Volumes[0].Name), spec.Volumes[0]); diff != "" {
				t.Errorf("volume (-want +got):\n%s", diff)
			}
			want := []corev1.VolumeMount{{Name: spec.Volumes[0].Name, ReadOnly: true, MountPath: MountPath}}
			for _, c := range append(spec.InitContainers, spec.Containers...) {
				if diff := cmp.Diff(want, c.VolumeMounts); diff != "" {
					t.Errorf("container %s mounts (-want +got):\n%s", c.Name, diff)
				}
			}
		})
	}
}

func TestAdmitLeavesOthersAlone(t *testing.T) {
	p := &Plugin{}
	p.UseObjects(admissiontest.Objects{})
	// A container that mounts its own volume at the path keeps it; a pod
	// update and other resources are not touched.
	own := corev1.VolumeMount{Name: "mine", MountPath: MountPath}
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", VolumeMounts: []corev1.VolumeMount{own}}}}}
	a := &admission.Attributes{Operation: admission.Create, Resource: corev1.SchemeGroupVersion.WithResource("pods"), Namespace: "ns", Object: pod}
	if err := p.Admit(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]corev1.VolumeMount{own}, pod.Spec.Containers[0].VolumeMounts); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
	for _, a := range []*admission.Attributes{
		{Operation: admission.Update, Resource: corev1.SchemeGroupVersion.WithResource("pods"), Object: &corev1.Pod{}},
		{Operation: admission.Create, Resource: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Object: &corev1.ConfigMap{}},
	} {
		before := a.Object.DeepCopyObject()
		if err := p.Admit(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, a.Object.(runtime.Object)); diff != "" {
			t.Errorf("%s %s changed (-before +after):\n%s", a.Operation, a.Resource.Resource, diff)
		}
	}
}
