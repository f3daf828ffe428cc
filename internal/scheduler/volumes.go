package scheduler

import (
	"context"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"berth.dev/berth/internal/scheduler/plugins"
)

// annBoundByController marks a volume's claimRef as set by a controller
// (the scheduler pre-binding it), as upstream.
const annBoundByController = "pv.kubernetes.io/bound-by-controller"

// bindVolumes does, before pod is bound to node, what upstream's
// VolumeBinding PreBind does: it pre-binds the chosen available volumes
// to the pod's unbound WaitForFirstConsumer claims (spec.claimRef),
// annotates the claims to provision with volume.kubernetes.io/selected-node,
// and waits until every claim of the pod is bound, for at most
// s.volumeBindTimeout.
func (s *Scheduler) bindVolumes(ctx context.Context, pod *v1.Pod, node string) error {
	if len(plugins.ClaimNames(pod)) == 0 {
		return nil
	}
	n, err := s.nodeLister.Get(node)
	if err != nil {
		return fmt.Errorf("reading node %q: %w", node, err)
	}
	d, err := s.volumes.Decide(pod, n)
	if err != nil {
		return err
	}
	for claim, pv := range d.Bind {
		if ref := pv.Spec.ClaimRef; ref != nil && ref.UID == claim.UID {
			continue
		}
		pv = pv.DeepCopy()
		pv.Spec.ClaimRef = &v1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
			Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID, ResourceVersion: claim.ResourceVersion}
		if pv.Annotations == nil {
			pv.Annotations = map[string]string{}
		}
		pv.Annotations[annBoundByController] = "yes"
		if _, err := s.client.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("pre-binding persistentvolume %q to claim %q: %w", pv.Name, claim.Name, err)
		}
	}
	// before holds the resourceVersions of the claims as they were before
	// the node was selected, to tell a stale cache from a provisioner
	// that removed the annotation to have the pod rescheduled.
	before := map[types.UID]string{}
	for _, claim := range d.Provision {
		before[claim.UID] = claim.ResourceVersion
		if claim.Annotations[plugins.AnnSelectedNode] == node {
			continue
		}
		claim = claim.DeepCopy()
		if claim.Annotations == nil {
			claim.Annotations = map[string]string{}
		}
		claim.Annotations[plugins.AnnSelectedNode] = node
		if _, err := s.client.CoreV1().PersistentVolumeClaims(claim.Namespace).Update(ctx, claim, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("selecting node for persistentvolumeclaim %q: %w", claim.Name, err)
		}
	}
	if len(d.Bind) == 0 && len(d.Provision) == 0 {
		return nil
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, s.volumeBindTimeout, true, func(context.Context) (bool, error) {
		for _, name := range plugins.ClaimNames(pod) {
			claim, err := s.claimLister.PersistentVolumeClaims(pod.Namespace).Get(name)
			if err != nil {
				return false, fmt.Errorf("reading persistentvolumeclaim %q: %w", name, err)
			}
			if claim.Spec.VolumeName != "" && claim.Status.Phase == v1.ClaimBound {
				continue
			}
			if rv, ok := before[claim.UID]; ok && rv != claim.ResourceVersion && claim.Annotations[plugins.AnnSelectedNode] != node {
				return false, fmt.Errorf("provisioning persistentvolumeclaim %q for node %q was given up", name, node)
			}
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the volumes of the pod to be bound: %w", err)
	}
	return nil
}
