package volumebinding

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

type pvOpt func(*corev1.PersistentVolume)

func pv(name, size, class string, opts ...pvOpt) *corev1.PersistentVolume {
	v := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"tier": "fast"}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:         corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadOnlyMany},
			StorageClassName: class,
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeAvailable},
	}
	for _, o := range opts {
		o(v)
	}
	return v
}

func onNode(node string) pvOpt {
	return func(v *corev1.PersistentVolume) {
		v.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
		}}}}
	}
}

func claimRef(ns, name, uid string) pvOpt {
	return func(v *corev1.PersistentVolume) {
		v.Spec.ClaimRef = &corev1.ObjectReference{Namespace: ns, Name: name, UID: types.UID(uid)}
	}
}

func TestFindMatch(t *testing.T) {
	class := "fast"
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "data", UID: "u1"},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")}},
		},
	}
	withSelector := claim.DeepCopy()
	withSelector.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "slow"}}
	rwx := claim.DeepCopy()
	rwx.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
	block := corev1.PersistentVolumeBlock
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{corev1.LabelHostname: "n1"}}}
	tests := []struct {
		name    string
		claim   *corev1.PersistentVolumeClaim
		volumes []*corev1.PersistentVolume
		delayed bool
		node    *corev1.Node
		want    string
	}{
		{"smallest that fits", claim, []*corev1.PersistentVolume{pv("big", "10Gi", "fast"), pv("small", "1Gi", "fast"), pv("fit", "3Gi", "fast")}, false, nil, "fit"},
		{"other class", claim, []*corev1.PersistentVolume{pv("slow", "3Gi", "slow")}, false, nil, ""},
		{"bound to another claim", claim, []*corev1.PersistentVolume{pv("taken", "3Gi", "fast", claimRef("ns", "other", "u2"))}, false, nil, ""},
		{"not Available", claim, []*corev1.PersistentVolume{pv("released", "3Gi", "fast", func(v *corev1.PersistentVolume) { v.Status.Phase = corev1.VolumeReleased })}, false, nil, ""},
		{"access modes", rwx, []*corev1.PersistentVolume{pv("rwo", "3Gi", "fast")}, false, nil, ""},
		{"volume mode", claim, []*corev1.PersistentVolume{pv("blk", "3Gi", "fast", func(v *corev1.PersistentVolume) { v.Spec.VolumeMode = &block })}, false, nil, ""},
		{"selector", withSelector, []*corev1.PersistentVolume{pv("fast", "3Gi", "fast")}, false, nil, ""},
		{"pre-bound wins over a better fit", claim, []*corev1.PersistentVolume{pv("fit", "2Gi", "fast"), pv("mine", "5Gi", "other", claimRef("ns", "data", "u1"))}, false, nil, "mine"},
		{"pre-bound by name", claim, []*corev1.PersistentVolume{pv("mine", "5Gi", "fast", claimRef("ns", "data", ""))}, false, nil, "mine"},
		{"pre-bound to an older claim of the name", claim, []*corev1.PersistentVolume{pv("old", "5Gi", "fast", claimRef("ns", "data", "u0"))}, false, nil, ""},
		{"delayed without a node: only pre-bound", claim, []*corev1.PersistentVolume{pv("fit", "3Gi", "fast")}, true, nil, ""},
		{"delayed with a node: affinity admits", claim, []*corev1.PersistentVolume{pv("n2", "3Gi", "fast", onNode("n2")), pv("n1", "4Gi", "fast", onNode("n1"))}, true, node, "n1"},
		{"too small", claim, []*corev1.PersistentVolume{pv("small", "1Gi", "fast")}, false, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if v := FindMatch(tt.claim, tt.volumes, tt.delayed, tt.node); v != nil {
				got = v.Name
			}
			if got != tt.want {
				t.Errorf("FindMatch = %q, want %q", got, tt.want)
			}
		})
	}
}
