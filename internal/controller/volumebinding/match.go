package volumebinding

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// The annotations of upstream's PersistentVolume controller.
const (
	// AnnBindCompleted on a claim says its binding finished.
	AnnBindCompleted = "pv.kubernetes.io/bind-completed"
	// AnnBoundByController on a claim or volume says the controller, not
	// a user, set volumeName or claimRef.
	AnnBoundByController = "pv.kubernetes.io/bound-by-controller"
	// AnnSelectedNode on a WaitForFirstConsumer claim names the node the
	// scheduler chose for its first pod.
	AnnSelectedNode = "volume.kubernetes.io/selected-node"
	// AnnProvisionedBy on a volume names the provisioner that made it.
	AnnProvisionedBy = "pv.kubernetes.io/provisioned-by"

	// AnnStorageProvisioner on a claim names the provisioner expected to
	// make its volume (the beta annotation is set too, as upstream).
	AnnStorageProvisioner     = "volume.kubernetes.io/storage-provisioner"
	annBetaStorageProvisioner = "volume.beta.kubernetes.io/storage-provisioner"

	// noProvisioner is the provisioner of classes of static volumes only.
	noProvisioner = "kubernetes.io/no-provisioner"

	storageClassAnnotation = "volume.beta.kubernetes.io/storage-class"
)

// ClaimClass is the StorageClass a claim asks for: the beta annotation
// when set, else spec.storageClassName.
func ClaimClass(pvc *corev1.PersistentVolumeClaim) string {
	if c, ok := pvc.Annotations[storageClassAnnotation]; ok {
		return c
	}
	if pvc.Spec.StorageClassName != nil {
		return *pvc.Spec.StorageClassName
	}
	return ""
}

// VolumeClass is a volume's StorageClass, as ClaimClass.
func VolumeClass(pv *corev1.PersistentVolume) string {
	if c, ok := pv.Annotations[storageClassAnnotation]; ok {
		return c
	}
	return pv.Spec.StorageClassName
}

// boundTo reports whether pv's claimRef names claim (by UID when the
// reference has one).
func boundTo(pv *corev1.PersistentVolume, claim *corev1.PersistentVolumeClaim) bool {
	ref := pv.Spec.ClaimRef
	return ref != nil && ref.Namespace == claim.Namespace && ref.Name == claim.Name && (ref.UID == "" || ref.UID == claim.UID)
}

// FindMatch returns the volume claim should bind to, or nil: a volume
// already pre-bound to it, else the smallest Available, unclaimed volume
// of the claim's class, volume mode and selector, offering all its access
// modes and at least its requested storage. With node set (a delayed
// claim whose node is chosen), the volume's node affinity must admit it;
// with delayed set and no node, only pre-bound volumes match, as
// upstream's controller leaves the choice to the scheduler.
func FindMatch(claim *corev1.PersistentVolumeClaim, volumes []*corev1.PersistentVolume, delayed bool, node *corev1.Node) *corev1.PersistentVolume {
	requested := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	var sel labels.Selector
	if claim.Spec.Selector != nil {
		s, err := metav1.LabelSelectorAsSelector(claim.Spec.Selector)
		if err != nil {
			return nil
		}
		sel = s
	}
	class := ClaimClass(claim)
	var best *corev1.PersistentVolume
	for _, pv := range volumes {
		capacity := pv.Spec.Capacity[corev1.ResourceStorage]
		if capacity.Cmp(requested) < 0 || volumeMode(pv.Spec.VolumeMode) != volumeMode(claim.Spec.VolumeMode) {
			continue
		}
		if pv.DeletionTimestamp != nil {
			continue
		}
		if boundTo(pv, claim) {
			if node != nil && !NodeMatches(pv, node) {
				return nil // the claim's own volume is not on this node
			}
			return pv
		}
		if delayed && node == nil {
			continue
		}
		if pv.Status.Phase != corev1.VolumeAvailable || pv.Spec.ClaimRef != nil {
			continue
		}
		if sel != nil && !sel.Matches(labels.Set(pv.Labels)) {
			continue
		}
		if VolumeClass(pv) != class || !accessModesCover(pv.Spec.AccessModes, claim.Spec.AccessModes) {
			continue
		}
		if node != nil && !NodeMatches(pv, node) {
			continue
		}
		if best == nil || capacity.Cmp(best.Spec.Capacity[corev1.ResourceStorage]) < 0 {
			best = pv
		}
	}
	return best
}

func volumeMode(m *corev1.PersistentVolumeMode) corev1.PersistentVolumeMode {
	if m == nil {
		return corev1.PersistentVolumeFilesystem
	}
	return *m
}

func accessModesCover(have, want []corev1.PersistentVolumeAccessMode) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

var nodeOperators = map[corev1.NodeSelectorOperator]selection.Operator{
	corev1.NodeSelectorOpIn:           selection.In,
	corev1.NodeSelectorOpNotIn:        selection.NotIn,
	corev1.NodeSelectorOpExists:       selection.Exists,
	corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
	corev1.NodeSelectorOpGt:           selection.GreaterThan,
	corev1.NodeSelectorOpLt:           selection.LessThan,
}

// NodeMatches reports whether pv's required node affinity admits node
// (any term, every expression and field of it); no affinity admits all.
func NodeMatches(pv *corev1.PersistentVolume, node *corev1.Node) bool {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return true
	}
	for _, term := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
		if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
			continue
		}
		if requirementsMatch(term.MatchExpressions, labels.Set(node.Labels)) &&
			requirementsMatch(term.MatchFields, labels.Set{"metadata.name": node.Name}) {
			return true
		}
	}
	return false
}

func requirementsMatch(reqs []corev1.NodeSelectorRequirement, set labels.Set) bool {
	for _, r := range reqs {
		op, ok := nodeOperators[r.Operator]
		if !ok {
			return false
		}
		req, err := labels.NewRequirement(r.Key, op, r.Values)
		if err != nil || !req.Matches(set) {
			return false
		}
	}
	return true
}
