// Package serviceaccount is the ServiceAccount admission plugin: every pod
// runs as a ServiceAccount ("default" unless it names one), and unless
// automounting is turned off on the pod or its ServiceAccount, gets the
// projected kube-api-access-<random> volume (a bound token, the cluster CA
// from the kube-root-ca.crt ConfigMap and its namespace) mounted read-only
// at /var/run/secrets/kubernetes.io/serviceaccount in every container, as
// upstream. A pod with no imagePullSecrets takes its ServiceAccount's.
//
// One deliberate difference: upstream refuses a pod whose ServiceAccount
// does not exist yet; berth lets a pod naming "default" through while the
// ServiceAccount controller has not yet made it (a pod created right after
// its namespace), and refuses any other missing ServiceAccount.
package serviceaccount

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/auth"
)

const (
	// MountPath is where the token volume is mounted.
	MountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	// VolumePrefix starts the generated volume's name.
	VolumePrefix = "kube-api-access-"
	// tokenExpirationSeconds is upstream's requested lifetime (one hour and
	// a few seconds, which marks the token as a projected one).
	tokenExpirationSeconds = 3607
	defaultName            = "default"
)

// Plugin is the ServiceAccount mutating admission plugin.
type Plugin struct{ objects auth.Objects }

var (
	_ admission.Mutator = (*Plugin)(nil)
	_ auth.ObjectsUser  = (*Plugin)(nil)
)

// Name is the upstream plugin name.
func (*Plugin) Name() string { return "ServiceAccount" }

// UseObjects gives the plugin the ServiceAccounts it reads.
func (p *Plugin) UseObjects(o auth.Objects) { p.objects = o }

var podsResource = schema.GroupResource{Resource: "pods"}

// Admit sets the pod's ServiceAccount and mounts its token.
func (p *Plugin) Admit(_ context.Context, a *admission.Attributes) error {
	if a.Operation != admission.Create || a.Subresource != "" || a.Resource.GroupResource() != podsResource {
		return nil
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return nil
	}
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return nil
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = defaultName
	}
	var sa *corev1.ServiceAccount
	obj, err := p.objects.Get(schema.GroupResource{Resource: "serviceaccounts"}, a.Namespace, pod.Spec.ServiceAccountName)
	switch {
	case err == nil:
		sa = obj.(*corev1.ServiceAccount)
	case apierrors.IsNotFound(err) && pod.Spec.ServiceAccountName == defaultName:
	default:
		return apierrors.NewForbidden(a.Resource.GroupResource(), a.Name,
			fmt.Errorf("error looking up service account %s/%s: %w", a.Namespace, pod.Spec.ServiceAccountName, err))
	}
	if sa != nil && len(pod.Spec.ImagePullSecrets) == 0 {
		for _, s := range sa.ImagePullSecrets {
			pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s.Name})
		}
	}
	if automount(pod, sa) {
		mountToken(pod)
	}
	return nil
}

// automount reports whether the pod gets a token: its own setting first,
// then its ServiceAccount's, true by default.
func automount(pod *corev1.Pod, sa *corev1.ServiceAccount) bool {
	if pod.Spec.AutomountServiceAccountToken != nil {
		return *pod.Spec.AutomountServiceAccountToken
	}
	if sa != nil && sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

// mountToken adds the token volume (unless the pod has one) and mounts it
// in every container that does not mount something there already.
func mountToken(pod *corev1.Pod) {
	name := ""
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, VolumePrefix) && v.Projected != nil {
			name = v.Name
		}
	}
	if name == "" {
		name = VolumePrefix + utilrand.String(5)
		pod.Spec.Volumes = append(pod.Spec.Volumes, tokenVolume(name))
	}
	mount := func(c *corev1.Container) {
		for _, m := range c.VolumeMounts {
			if m.MountPath == MountPath {
				return
			}
		}
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, ReadOnly: true, MountPath: MountPath})
	}
	for i := range pod.Spec.InitContainers {
		mount(&pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		mount(&pod.Spec.Containers[i])
	}
}

func tokenVolume(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](0o644),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To[int64](tokenExpirationSeconds), Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
			}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
				Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
			}}}},
		},
	}}}
}
