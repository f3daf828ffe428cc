package scheduler

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"berth.dev/berth/internal/scheduler/framework"
)

// nominate records pod as nominated to node (status.nominatedNodeName),
// or forgets its nomination when node is "".
func (s *Scheduler) nominate(pod *v1.Pod, node string) {
	s.nomMu.Lock()
	defer s.nomMu.Unlock()
	if node == "" {
		delete(s.nominated, pod.UID)
		return
	}
	if cur, ok := s.nominated[pod.UID]; ok && cur.Pod.Status.NominatedNodeName == node && cur.Pod.ResourceVersion == pod.ResourceVersion {
		return
	}
	p := pod.DeepCopy()
	p.Status.NominatedNodeName = node
	s.nominated[pod.UID] = framework.NewPodInfo(p)
}

// forgetNomination drops the nomination of the pod with uid.
func (s *Scheduler) forgetNomination(uid types.UID) {
	s.nomMu.Lock()
	defer s.nomMu.Unlock()
	delete(s.nominated, uid)
}

// nominatedNode returns the node the pod with uid is nominated to, or "".
func (s *Scheduler) nominatedNode(uid types.UID) string {
	s.nomMu.Lock()
	defer s.nomMu.Unlock()
	if pi, ok := s.nominated[uid]; ok {
		return pi.Pod.Status.NominatedNodeName
	}
	return ""
}

// snapshot returns the cache's snapshot with the nominated pods and the
// PodDisruptionBudgets.
func (s *Scheduler) snapshot() *framework.Snapshot {
	base := s.cache.Snapshot()
	snap := &framework.Snapshot{Nodes: base.Nodes}
	if pdbs, err := s.pdbLister.List(labels.Everything()); err == nil {
		snap.PDBs = pdbs
	}
	s.nomMu.Lock()
	defer s.nomMu.Unlock()
	if len(s.nominated) > 0 {
		snap.Nominated = map[string][]*framework.PodInfo{}
		for _, pi := range s.nominated {
			node := pi.Pod.Status.NominatedNodeName
			snap.Nominated[node] = append(snap.Nominated[node], pi)
		}
	}
	return snap
}

// preempt evicts p's victims to make room for pod, as upstream's
// DefaultPreemption: each victim gets the DisruptionTarget condition with
// reason PreemptionByScheduler and a Preempted event, then is deleted.
// The pod itself is nominated to the node by the caller.
func (s *Scheduler) preempt(ctx context.Context, pod *v1.Pod, p *framework.Preemption) error {
	cond := v1.PodCondition{Type: v1.DisruptionTarget, Status: v1.ConditionTrue, Reason: v1.PodReasonPreemptionByScheduler,
		Message: fmt.Sprintf("%s: preempting to accommodate a higher priority pod", s.name)}
	for _, victim := range p.Victims {
		pods := s.client.CoreV1().Pods(victim.Namespace)
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := pods.Get(ctx, victim.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if cur.UID != victim.UID {
				return nil
			}
			updated := cur.DeepCopy()
			if !setCondition(&updated.Status, cond, s.clock.Now()) {
				return nil
			}
			_, err = pods.UpdateStatus(ctx, updated, metav1.UpdateOptions{})
			return err
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("marking victim %s/%s: %w", victim.Namespace, victim.Name, err)
		}
		err = pods.Delete(ctx, victim.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &victim.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting victim %s/%s: %w", victim.Namespace, victim.Name, err)
		}
		s.recorder.Eventf(victim, v1.EventTypeNormal, "Preempted", "Preempted by pod %s on node %s", pod.UID, p.NodeName)
	}
	return nil
}
