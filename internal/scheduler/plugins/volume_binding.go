package plugins

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"

	"berth.dev/berth/internal/scheduler/framework"
)

// AnnSelectedNode on a WaitForFirstConsumer claim names the node chosen
// for its first pod, for the provisioner.
const AnnSelectedNode = "volume.kubernetes.io/selected-node"

// The reasons VolumeBinding gives, as upstream's.
const (
	ErrVolumeNodeConflict   = "node(s) had volume node affinity conflict"
	ErrUnboundImmediatePVCs = "pod has unbound immediate PersistentVolumeClaims"
)

// VolumeBinding is the part of upstream's VolumeBinding plugin berth has:
// a pod's claims must exist and not be being deleted, a bound claim's
// volume must admit the node through its node affinity, and an unbound
// claim must be of a WaitForFirstConsumer class (an Immediate one waits
// for its binder). SelectNode then records the chosen node on the
// unbound delayed claims, where the provisioner reads it. Existing
// volumes for delayed claims are bound by the volume binder once the node
// is chosen, not by the scheduler.
type VolumeBinding struct {
	Claims  corelisters.PersistentVolumeClaimLister
	Volumes corelisters.PersistentVolumeLister
	Classes storagelisters.StorageClassLister
}

var _ framework.FilterPlugin = (*VolumeBinding)(nil)

// Name is the upstream plugin name.
func (*VolumeBinding) Name() string { return "VolumeBinding" }

// claims returns the names of the claims pod's volumes use.
func podClaims(pod *v1.Pod) []string {
	var out []string
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			out = append(out, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			out = append(out, pod.Name+"-"+v.Name)
		}
	}
	return out
}

// Filter checks pod's claims against the node.
func (p *VolumeBinding) Filter(_ context.Context, _ *framework.CycleState, pod *v1.Pod, n *framework.NodeInfo) *framework.Status {
	for _, name := range podClaims(pod) {
		pvc, err := p.Claims.PersistentVolumeClaims(pod.Namespace).Get(name)
		if apierrors.IsNotFound(err) {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, fmt.Sprintf("persistentvolumeclaim %q not found", name))
		}
		if err != nil {
			return framework.NewStatus(framework.Error, err.Error())
		}
		if pvc.DeletionTimestamp != nil {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, fmt.Sprintf("persistentvolumeclaim %q is being deleted", name))
		}
		if pvc.Spec.VolumeName != "" {
			pv, err := p.Volumes.Get(pvc.Spec.VolumeName)
			if err != nil {
				return framework.NewStatus(framework.UnschedulableAndUnresolvable, "pvc(s) bound to non-existent pv(s)")
			}
			if !volumeAdmits(pv, n.Node) {
				return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrVolumeNodeConflict)
			}
			continue
		}
		if !p.delayed(pvc) {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrUnboundImmediatePVCs)
		}
	}
	return nil
}

func (p *VolumeBinding) delayed(pvc *v1.PersistentVolumeClaim) bool {
	class := ""
	if pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	if c, ok := pvc.Annotations["volume.beta.kubernetes.io/storage-class"]; ok {
		class = c
	}
	sc, err := p.Classes.Get(class)
	return err == nil && sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer
}

func volumeAdmits(pv *v1.PersistentVolume, node *v1.Node) bool {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return true
	}
	if node == nil {
		return false
	}
	for _, term := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
		if termMatches(&term, node) {
			return true
		}
	}
	return false
}

// SelectNode sets the selected-node annotation to node on pod's unbound
// WaitForFirstConsumer claims, before the pod is bound (upstream's
// PreBind).
func (p *VolumeBinding) SelectNode(ctx context.Context, client kubernetes.Interface, pod *v1.Pod, node string) error {
	for _, name := range podClaims(pod) {
		pvc, err := p.Claims.PersistentVolumeClaims(pod.Namespace).Get(name)
		if err != nil {
			return fmt.Errorf("getting claim %s: %w", name, err)
		}
		if pvc.Spec.VolumeName != "" || !p.delayed(pvc) || pvc.Annotations[AnnSelectedNode] == node {
			continue
		}
		upd := pvc.DeepCopy()
		metav1.SetMetaDataAnnotation(&upd.ObjectMeta, AnnSelectedNode, node)
		if _, err := client.CoreV1().PersistentVolumeClaims(pod.Namespace).Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("selecting node %s for claim %s: %w", node, name, err)
		}
	}
	return nil
}
