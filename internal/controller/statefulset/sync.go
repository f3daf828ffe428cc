package statefulset

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"berth.dev/berth/internal/controller/claim"
	"berth.dev/berth/internal/controller/history"
)

// hashLabel holds a StatefulSet revision's hash, as upstream's
// history.ControllerRevisionHashLabel.
const hashLabel = "controller.kubernetes.io/hash"

// sync brings the StatefulSet named by key one step closer to its spec.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.sets.StatefulSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	set := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil || sel.Empty() {
		// Selecting every pod (or none) is refused, as upstream.
		return nil
	}
	revs, err := c.history.Claim(ctx, set, setKind, sel)
	if err != nil {
		return err
	}
	pods, err := c.claimPods(ctx, set, sel)
	if err != nil {
		return err
	}
	history.Sort(revs)
	current, update, collisions, err := c.revisions(ctx, set, revs)
	if err != nil {
		return err
	}
	r, err := applyRevisions(set, current, update)
	if err != nil {
		return err
	}
	claims, err := c.claimsOf(set)
	if err != nil {
		return err
	}
	now := c.clock.Now()
	acts, rolled := plan(set, r, pods, claims, now)
	st := computeStatus(set, r, pods, collisions, rolled, now)
	runErr := c.execute(ctx, set, r.update, acts, claims)
	if errors.Is(runErr, errClaimDeleting) {
		runErr = nil // the claim's deletion event brings the set back
	}
	if err := c.writeStatus(ctx, set, st); err != nil {
		return errors.Join(runErr, err)
	}
	if err := c.truncateHistory(ctx, set, pods, revs, current, update); err != nil {
		return errors.Join(runErr, err)
	}
	if set.Spec.MinReadySeconds > 0 && st.ReadyReplicas != st.AvailableReplicas {
		c.queue.AddAfter(key, time.Duration(set.Spec.MinReadySeconds)*time.Second)
	}
	return runErr
}

// claimPods returns the pods set controls, adopting orphans its selector
// matches whose names make them its members, after a live read confirms
// set still exists and is not being deleted.
func (c *Controller) claimPods(ctx context.Context, set *appsv1.StatefulSet, sel labels.Selector) ([]*corev1.Pod, error) {
	all, err := c.pods.Pods(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	cl := claim.Claimer[*corev1.Pod]{
		Owner:    set,
		Kind:     setKind,
		Match:    func(p *corev1.Pod) bool { return sel.Matches(labels.Set(p.Labels)) && isMember(set, p) },
		CanAdopt: claim.Recheck(set, setKind.Kind, c.client.AppsV1().StatefulSets(set.Namespace).Get),
		Patch:    claim.PodPatcher(c.client.CoreV1()),
	}
	return cl.Claim(ctx, all)
}

// revisions returns set's current and update revisions, creating the
// update revision (or renumbering an equal older one, on a rollback) when
// the template changed, and the collision count to record.
func (c *Controller) revisions(ctx context.Context, set *appsv1.StatefulSet, revs []*appsv1.ControllerRevision) (current, update *appsv1.ControllerRevision, collisions int32, err error) {
	if set.Status.CollisionCount != nil {
		collisions = *set.Status.CollisionCount
	}
	cand, err := history.New(set, setKind, &set.Spec.Template, set.Annotations, history.Next(revs), &collisions, hashLabel)
	if err != nil {
		return nil, nil, collisions, err
	}
	var equal []*appsv1.ControllerRevision
	for _, r := range revs {
		if history.Equal(r, cand) {
			equal = append(equal, r)
		}
	}
	switch {
	case len(equal) > 0 && equal[len(equal)-1] == revs[len(revs)-1]:
		update = revs[len(revs)-1]
	case len(equal) > 0:
		update, err = c.history.SetRevision(ctx, equal[len(equal)-1], cand.Revision)
	default:
		update, err = c.history.Create(ctx, cand, &collisions)
	}
	if err != nil {
		return nil, nil, collisions, err
	}
	current = update
	for _, r := range revs {
		if r.Name == set.Status.CurrentRevision {
			current = r
			break
		}
	}
	return current, update, collisions, nil
}

// applyRevisions returns set with the templates of the current and update
// revisions.
func applyRevisions(set *appsv1.StatefulSet, current, update *appsv1.ControllerRevision) (revisions, error) {
	r := revisions{currentName: current.Name, updateName: update.Name}
	for _, x := range []struct {
		rev *appsv1.ControllerRevision
		out **appsv1.StatefulSet
	}{{current, &r.current}, {update, &r.update}} {
		t, err := history.Template(x.rev)
		if err != nil {
			return r, err
		}
		s := set.DeepCopy()
		s.Spec.Template = *t
		*x.out = s
	}
	return r, nil
}

// claimsOf returns the claims in set's namespace that its templates could
// have made, by name.
func (c *Controller) claimsOf(set *appsv1.StatefulSet) (map[string]*corev1.PersistentVolumeClaim, error) {
	out := map[string]*corev1.PersistentVolumeClaim{}
	if len(set.Spec.VolumeClaimTemplates) == 0 {
		return out, nil
	}
	all, err := c.claims.PersistentVolumeClaims(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	for _, pvc := range all {
		out[pvc.Name] = pvc
	}
	return out, nil
}

// execute makes the writes of acts in order, stopping at the first error.
// For a Parallel set, consecutive writes of one kind (each to another
// pod) run concurrently, in batches of doubling size as upstream's slow
// start, so that a failing API costs one write, not one per pod.
// updateSet is set at its update revision; claims is only read.
func (c *Controller) execute(ctx context.Context, set, updateSet *appsv1.StatefulSet, acts []action, claims map[string]*corev1.PersistentVolumeClaim) error {
	do := func(a action) error {
		switch a.kind {
		case create:
			return c.createPod(ctx, set, a.pod, claims)
		case remove:
			return c.deletePod(ctx, a.pod)
		default:
			return c.fixPod(ctx, set, updateSet, a.pod, claims)
		}
	}
	parallel := set.Spec.PodManagementPolicy == appsv1.ParallelPodManagement
	for i := 0; i < len(acts); {
		j := i + 1
		for parallel && j < len(acts) && acts[j].kind == acts[i].kind {
			j++
		}
		if err := slowStart(acts[i:j], do); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// slowStart runs do for each of acts in batches of 1, 2, 4... at once,
// stopping after the first batch with a failure.
func slowStart(acts []action, do func(action) error) error {
	for batch, done := 1, 0; done < len(acts); batch *= 2 {
		n := min(batch, len(acts)-done)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for k, a := range acts[done : done+n] {
			wg.Go(func() { errs[k] = do(a) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		done += n
	}
	return nil
}

func (c *Controller) createPod(ctx context.Context, set *appsv1.StatefulSet, p *corev1.Pod, claims map[string]*corev1.PersistentVolumeClaim) error {
	if err := c.createClaims(ctx, set, p, claims); err != nil {
		return err
	}
	_, err := c.client.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil // the cache has not seen it yet
	}
	if err != nil {
		return fmt.Errorf("creating pod %s: %w", p.Name, err)
	}
	c.log.Debug("created pod", "namespace", p.Namespace, "statefulset", set.Name, "pod", p.Name, "revision", p.Labels[revisionLabel])
	return nil
}

// errClaimDeleting stops a sync that needs a claim still being deleted.
var errClaimDeleting = errors.New("claim is being deleted")

// createClaims creates p's missing claims with the owner references of
// the retention policy. A claim still being deleted (left by a pod scaled
// away), in the cache or found on creating it, is errClaimDeleting: the
// pod waits until it is gone.
func (c *Controller) createClaims(ctx context.Context, set *appsv1.StatefulSet, p *corev1.Pod, claims map[string]*corev1.PersistentVolumeClaim) error {
	for _, pvc := range newClaims(set, ordinalOf(p)) {
		if have, ok := claims[pvc.Name]; ok {
			if have.DeletionTimestamp != nil {
				return fmt.Errorf("claim %s of pod %s: %w", pvc.Name, p.Name, errClaimDeleting)
			}
			continue
		}
		pvc.OwnerReferences, _ = claimOwners(set, p, pvc)
		_, err := c.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Create(ctx, pvc, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			live, err := c.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Get(ctx, pvc.Name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("reading claim %s for pod %s: %w", pvc.Name, p.Name, err)
			}
			if live.DeletionTimestamp != nil {
				return fmt.Errorf("claim %s of pod %s: %w", pvc.Name, p.Name, errClaimDeleting)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("creating claim %s for pod %s: %w", pvc.Name, p.Name, err)
		}
	}
	return nil
}

func (c *Controller) deletePod(ctx context.Context, p *corev1.Pod) error {
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting pod %s: %w", p.Name, err)
	}
	c.log.Debug("deleted pod", "namespace", p.Namespace, "pod", p.Name)
	return nil
}

// fixPod creates the missing claims of a pod in range, sets the owner
// references of its existing claims as the retention policy of updateSet
// says, and restores its identity labels.
func (c *Controller) fixPod(ctx context.Context, set, updateSet *appsv1.StatefulSet, p *corev1.Pod, claims map[string]*corev1.PersistentVolumeClaim) error {
	if inRange(set, ordinalOf(p)) {
		if err := c.createClaims(ctx, set, p, claims); err != nil {
			return err
		}
	}
	for _, tmpl := range newClaims(set, ordinalOf(p)) {
		have, ok := claims[tmpl.Name]
		if !ok {
			continue
		}
		refs, changed := claimOwners(updateSet, p, have)
		if !changed {
			continue
		}
		pvc := have.DeepCopy()
		pvc.OwnerReferences = refs
		if _, err := c.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Update(ctx, pvc, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("updating owners of claim %s: %w", pvc.Name, err)
		}
	}
	if identityMatches(set, p) || !isMember(set, p) {
		return nil
	}
	cp := p.DeepCopy()
	setIdentityLabels(cp)
	if _, err := c.client.CoreV1().Pods(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("restoring identity of pod %s: %w", cp.Name, err)
	}
	return nil
}

// writeStatus writes st unless it is set's status already.
func (c *Controller) writeStatus(ctx context.Context, set *appsv1.StatefulSet, st appsv1.StatefulSetStatus) error {
	st.Conditions = set.Status.Conditions
	if apiequality.Semantic.DeepEqual(set.Status, st) {
		return nil
	}
	cp := set.DeepCopy()
	cp.Status = st
	if _, err := c.client.AppsV1().StatefulSets(cp.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	return nil
}

// truncateHistory deletes the oldest revisions beyond
// revisionHistoryLimit that are neither current, nor the update, nor the
// revision of a pod.
func (c *Controller) truncateHistory(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod, revs []*appsv1.ControllerRevision, current, update *appsv1.ControllerRevision) error {
	live := map[string]bool{current.Name: true, update.Name: true}
	for _, p := range pods {
		live[p.Labels[revisionLabel]] = true
	}
	limit := int32(10)
	if set.Spec.RevisionHistoryLimit != nil {
		limit = *set.Spec.RevisionHistoryLimit
	}
	for _, r := range history.Prune(revs, live, limit) {
		if err := c.history.Delete(ctx, r); err != nil {
			return err
		}
	}
	return nil
}
