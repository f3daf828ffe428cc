package node

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"berth.dev/berth/internal/admission/admissiontest"
	"berth.dev/berth/internal/auth"
)

func pod(ns, name, node string, spec corev1.PodSpec) *corev1.Pod {
	spec.NodeName = node
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
}

func TestAuthorize(t *testing.T) {
	container := corev1.Container{Name: "c",
		Env: []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "env-secret"}}}},
			{Name: "B", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "env-cm"}}}}},
		EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "envfrom-secret"}}}},
	}
	store := admissiontest.Objects{
		podsGR: {
			pod("ns1", "p1", "n1", corev1.PodSpec{
				ServiceAccountName: "sa1",
				ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "pull"}},
				InitContainers:     []corev1.Container{container},
				Volumes: []corev1.Volume{
					{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vol-secret"}}},
					{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "vol-cm"}}}},
					{Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
						{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj-secret"}}},
						{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj-cm"}}},
					}}}},
					{Name: "claim", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}},
				},
			}),
			pod("ns1", "p2", "n2", corev1.PodSpec{Volumes: []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "other-secret"}}}}}),
			pod("ns1", "unbound", "", corev1.PodSpec{Volumes: []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "unbound-secret"}}}}}),
		},
		pvcsGR: {&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv1"}}},
		pvsGR: {&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv1"}, Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{
			CSI: &corev1.CSIPersistentVolumeSource{Driver: "d", VolumeHandle: "h", NodePublishSecretRef: &corev1.SecretReference{Namespace: "csi", Name: "csi-secret"}},
		}}}},
	}
	z := &Authorizer{}
	z.UseObjects(store)
	n1 := auth.User{Name: "system:node:n1", Groups: []string{"system:nodes", "system:authenticated"}}
	res := func(verb, group, resource, sub, ns, name string) auth.Attributes {
		return auth.Attributes{User: n1, Verb: verb, IsResource: true, APIGroup: group, Resource: resource, Subresource: sub, Namespace: ns, Name: name}
	}
	tests := []struct {
		name  string
		attrs auth.Attributes
		want  auth.Decision
	}{
		{"volume secret", res("get", "", "secrets", "", "ns1", "vol-secret"), auth.Allow},
		{"projected secret", res("watch", "", "secrets", "", "ns1", "proj-secret"), auth.Allow},
		{"env secret of an init container", res("list", "", "secrets", "", "ns1", "env-secret"), auth.Allow},
		{"envFrom secret", res("get", "", "secrets", "", "ns1", "envfrom-secret"), auth.Allow},
		{"image pull secret", res("get", "", "secrets", "", "ns1", "pull"), auth.Allow},
		{"secret of a volume's claim", res("get", "", "secrets", "", "csi", "csi-secret"), auth.Allow},
		{"another node's pod's secret", res("get", "", "secrets", "", "ns1", "other-secret"), auth.NoOpinion},
		{"an unbound pod's secret", res("get", "", "secrets", "", "ns1", "unbound-secret"), auth.NoOpinion},
		{"same name in another namespace", res("get", "", "secrets", "", "ns2", "vol-secret"), auth.NoOpinion},
		{"list of all secrets", res("list", "", "secrets", "", "ns1", ""), auth.NoOpinion},
		{"secret update", res("update", "", "secrets", "", "ns1", "vol-secret"), auth.NoOpinion},
		{"volume configmap", res("get", "", "configmaps", "", "ns1", "vol-cm"), auth.Allow},
		{"projected configmap", res("get", "", "configmaps", "", "ns1", "proj-cm"), auth.Allow},
		{"env configmap", res("get", "", "configmaps", "", "ns1", "env-cm"), auth.Allow},
		{"unrelated configmap", res("get", "", "configmaps", "", "ns1", "x"), auth.NoOpinion},
		{"claim", res("get", "", "persistentvolumeclaims", "", "ns1", "data"), auth.Allow},
		{"claim list", res("list", "", "persistentvolumeclaims", "", "ns1", "data"), auth.NoOpinion},
		{"claim status", res("patch", "", "persistentvolumeclaims", "status", "ns1", "data"), auth.Allow},
		{"volume", res("get", "", "persistentvolumes", "", "", "pv1"), auth.Allow},
		{"other volume", res("get", "", "persistentvolumes", "", "", "pv2"), auth.NoOpinion},
		{"token of the pod's account", res("create", "", "serviceaccounts", "token", "ns1", "sa1"), auth.Allow},
		{"token of another account", res("create", "", "serviceaccounts", "token", "ns1", "default"), auth.NoOpinion},
		{"own lease", res("update", "coordination.k8s.io", "leases", "", "kube-node-lease", "n1"), auth.Allow},
		{"lease create", res("create", "coordination.k8s.io", "leases", "", "kube-node-lease", ""), auth.Allow},
		{"another node's lease", res("update", "coordination.k8s.io", "leases", "", "kube-node-lease", "n2"), auth.NoOpinion},
		{"lease elsewhere", res("get", "coordination.k8s.io", "leases", "", "kube-system", "n1"), auth.NoOpinion},
		{"node status", res("patch", "", "nodes", "status", "", "n1"), auth.Allow},
		{"node delete", res("delete", "", "nodes", "", "", "n1"), auth.NoOpinion},
		{"pod status", res("update", "", "pods", "status", "ns1", "p1"), auth.Allow},
		{"csr create", res("create", "certificates.k8s.io", "certificatesigningrequests", "", "", ""), auth.Allow},
		{"deployments", res("list", "apps", "deployments", "", "", ""), auth.NoOpinion},
		{"not a node", auth.Attributes{User: auth.User{Name: "system:node:n1"}, Verb: "get", IsResource: true, Resource: "secrets", Namespace: "ns1", Name: "vol-secret"}, auth.NoOpinion},
		{"node of no name", auth.Attributes{User: auth.User{Name: "system:node:", Groups: []string{"system:nodes"}}, Verb: "get", IsResource: true, Resource: "nodes"}, auth.NoOpinion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := z.Authorize(context.Background(), tt.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}
