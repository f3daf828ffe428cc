package replicaset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// sync brings one ReplicaSet or ReplicationController's pods and status
// to its spec. It is level-triggered: it reads the caches and writes the
// difference.
func (c *Controller) sync(ctx context.Context, k key) error {
	o := c.owners[k.kind]
	rs, err := o.get(k.namespace, k.name)
	if apierrors.IsNotFound(err) {
		c.exp.Forget(k)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", o.gvk().Kind, err)
	}
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil || sel.Empty() {
		// Validation rejects these; retrying cannot help.
		c.log.Warn("invalid selector", "kind", o.gvk().Kind, "namespace", k.namespace, "name", k.name)
		return nil
	}
	mayAct := c.exp.Satisfied(k) && rs.DeletionTimestamp == nil
	all, err := c.pods.Pods(k.namespace).List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	pods, err := c.claim(ctx, o, rs, sel, filterActive(all))
	if err != nil {
		return err
	}
	var manageErr error
	if mayAct {
		manageErr = c.manage(ctx, k, o, rs, pods)
	}
	var terminating int32
	for _, p := range all {
		if ref := metav1.GetControllerOfNoCopy(p); ref != nil && ref.UID == rs.UID && isTerminating(p) {
			terminating++
		}
	}
	now := c.clock.Now()
	status := computeStatus(rs, pods, terminating, manageErr, now)
	if k.kind == kindReplicationController {
		// ReplicationControllers have no terminatingReplicas.
		status.TerminatingReplicas = nil
	}
	if !equality.Semantic.DeepEqual(status, rs.Status) {
		if err := o.updateStatus(ctx, rs, status); err != nil {
			return errors.Join(manageErr, fmt.Errorf("updating status: %w", err))
		}
	}
	if manageErr != nil {
		return manageErr
	}
	if d, ok := nextAvailableCheck(pods, rs.Spec.MinReadySeconds, now); ok {
		c.queue.AddAfter(k, d)
	}
	return nil
}

// claim returns the active pods rs controls after adopting orphans its
// selector matches and releasing controlled pods it no longer matches.
// Pods are adopted only after a live read confirms rs still exists and is
// not being deleted, as the cache may be stale.
func (c *Controller) claim(ctx context.Context, o owner, rs *appsv1.ReplicaSet, sel labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	var (
		out      []*corev1.Pod
		errs     []error
		checked  bool
		adoptErr error
	)
	for _, p := range pods {
		matches := sel.Matches(labels.Set(p.Labels))
		if ref := metav1.GetControllerOfNoCopy(p); ref != nil {
			switch {
			case ref.UID != rs.UID:
			case matches:
				out = append(out, p)
			case rs.DeletionTimestamp == nil:
				if err := c.release(ctx, rs, p); err != nil && !apierrors.IsNotFound(err) {
					errs = append(errs, err)
				}
			}
			continue
		}
		if !matches || rs.DeletionTimestamp != nil || p.DeletionTimestamp != nil {
			continue
		}
		if !checked {
			checked = true
			adoptErr = canAdopt(ctx, o, rs)
		}
		if adoptErr != nil {
			errs = append(errs, adoptErr)
			continue
		}
		adopted, err := c.adopt(ctx, o, rs, p)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, adopted)
	}
	return out, errors.Join(errs...)
}

func canAdopt(ctx context.Context, o owner, rs *appsv1.ReplicaSet) error {
	live, err := o.getLive(ctx, rs.Namespace, rs.Name)
	if err != nil {
		return fmt.Errorf("rechecking %s before adopting: %w", o.gvk().Kind, err)
	}
	if live.UID != rs.UID {
		return fmt.Errorf("%s %s/%s was replaced (uid %s, want %s); not adopting", o.gvk().Kind, rs.Namespace, rs.Name, live.UID, rs.UID)
	}
	if live.DeletionTimestamp != nil {
		return fmt.Errorf("%s %s/%s is being deleted; not adopting", o.gvk().Kind, rs.Namespace, rs.Name)
	}
	return nil
}

// ownerPatch is a strategic merge patch of a pod's ownerReferences,
// guarded by the pod's UID so that it cannot touch a recreated pod.
type ownerPatch struct {
	Metadata struct {
		OwnerReferences []any     `json:"ownerReferences"`
		UID             types.UID `json:"uid"`
	} `json:"metadata"`
}

func (c *Controller) patchOwners(ctx context.Context, p *corev1.Pod, ref any) (*corev1.Pod, error) {
	var patch ownerPatch
	patch.Metadata.OwnerReferences = []any{ref}
	patch.Metadata.UID = p.UID
	body, err := json.Marshal(patch)
	if err != nil {
		return nil, err
	}
	return c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, body, metav1.PatchOptions{})
}

func (c *Controller) adopt(ctx context.Context, o owner, rs *appsv1.ReplicaSet, p *corev1.Pod) (*corev1.Pod, error) {
	adopted, err := c.patchOwners(ctx, p, metav1.NewControllerRef(rs, o.gvk()))
	if err != nil {
		return nil, fmt.Errorf("adopting pod %s: %w", podKey(p), err)
	}
	return adopted, nil
}

func (c *Controller) release(ctx context.Context, rs *appsv1.ReplicaSet, p *corev1.Pod) error {
	ref := map[string]any{"$patch": "delete", "uid": rs.UID}
	if _, err := c.patchOwners(ctx, p, ref); err != nil {
		return fmt.Errorf("releasing pod %s: %w", podKey(p), err)
	}
	return nil
}

// manage creates or deletes pods so that rs has spec.replicas active pods,
// at most BurstReplicas at a time, recording expectations first.
func (c *Controller) manage(ctx context.Context, k key, o owner, rs *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	diff := len(pods) - int(replicasOf(rs))
	switch {
	case diff < 0:
		n := min(-diff, c.burst)
		c.exp.Expect(k, n, nil)
		created, err := slowStartBatch(n, 1, func() error {
			_, err := c.client.CoreV1().Pods(rs.Namespace).Create(ctx, podFromTemplate(rs, o.gvk()), metav1.CreateOptions{})
			if err != nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				// The namespace is going away with rs; nothing to report.
				c.exp.CreationsObserved(k, 1)
				return nil
			}
			return err
		})
		// Creations never attempted or failed will not be observed.
		c.exp.CreationsObserved(k, n-created)
		if err != nil {
			return fmt.Errorf("creating pods: %w", err)
		}
	case diff > 0:
		related, err := c.relatedPods(o, rs, pods)
		if err != nil {
			return err
		}
		victims := podsToDelete(pods, related, min(diff, c.burst), c.clock.Now())
		c.exp.Expect(k, 0, victims)
		errs := make([]error, len(victims))
		var wg sync.WaitGroup
		for i, p := range victims {
			wg.Go(func() {
				err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
				if err != nil {
					c.exp.DeletionObserved(k, p.UID)
					if !apierrors.IsNotFound(err) {
						errs[i] = fmt.Errorf("deleting pod %s: %w", podKey(p), err)
					}
				}
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	return nil
}

// relatedPods returns the pods of rs and of the ReplicaSets sharing its
// controller (a Deployment's), which spread scale-down across nodes.
func (c *Controller) relatedPods(o owner, rs *appsv1.ReplicaSet, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	parent := metav1.GetControllerOfNoCopy(rs)
	if parent == nil {
		return pods, nil
	}
	siblings, err := o.list(rs.Namespace)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", o.gvk().Kind, err)
	}
	family := map[types.UID]bool{}
	for _, s := range siblings {
		if ref := metav1.GetControllerOfNoCopy(s); ref != nil && ref.UID == parent.UID {
			family[s.UID] = true
		}
	}
	all, err := c.pods.Pods(rs.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	var out []*corev1.Pod
	for _, p := range all {
		if ref := metav1.GetControllerOfNoCopy(p); ref != nil && family[ref.UID] {
			out = append(out, p)
		}
	}
	return out, nil
}
