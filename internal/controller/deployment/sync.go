package deployment

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// sync brings the Deployment named by key one step closer to its spec.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.deployments.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	d := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		// Selecting every pod (or none) is refused, as upstream.
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			_, err := c.client.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{})
			return wrapStatus(err)
		}
		return nil
	}
	sets, err := c.claim(ctx, d, sel)
	if err != nil {
		return err
	}
	if d.DeletionTimestamp != nil {
		newRS, _ := splitSets(d, sets)
		return c.writeStatus(ctx, d, computeStatus(d, newRS, sets, c.clock.Now()))
	}
	if cond := pausedCondition(d, c.clock.Now()); cond != nil {
		setCondition(&d.Status, *cond)
		if d, err = c.client.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
			return wrapStatus(err)
		}
	}
	newRS, old := splitSets(d, sets)
	if d.Spec.Paused || scalingEvent(d, newRS, old) {
		return c.scale(ctx, d, sets)
	}
	if isRolling(d) {
		return c.rolling(ctx, d, sets)
	}
	return c.recreate(ctx, d, sets)
}

func wrapStatus(err error) error {
	if err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	return nil
}

// splitSets returns the oldest ReplicaSet whose template equals d's (nil if
// none) and the others.
func splitSets(d *appsv1.Deployment, sets []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
	sorted := slices.Clone(sets)
	slices.SortStableFunc(sorted, byCreation)
	for i, rs := range sorted {
		if equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			return rs, slices.Delete(sorted, i, i+1)
		}
	}
	return nil, sorted
}

// ownerPatch is a strategic merge patch of a ReplicaSet's ownerReferences,
// guarded by its UID so that it cannot touch a recreated object.
type ownerPatch struct {
	Metadata struct {
		OwnerReferences []any     `json:"ownerReferences"`
		UID             types.UID `json:"uid"`
	} `json:"metadata"`
}

func (c *Controller) patchOwners(ctx context.Context, rs *appsv1.ReplicaSet, ref any) (*appsv1.ReplicaSet, error) {
	var patch ownerPatch
	patch.Metadata.OwnerReferences = []any{ref}
	patch.Metadata.UID = rs.UID
	body, err := json.Marshal(patch)
	if err != nil {
		return nil, err
	}
	return c.client.AppsV1().ReplicaSets(rs.Namespace).Patch(ctx, rs.Name, types.StrategicMergePatchType, body, metav1.PatchOptions{})
}

// claim returns the ReplicaSets d controls: those it already controls that
// its selector matches, and matching orphans it adopts. Controlled ones
// that no longer match are released. A Deployment being deleted adopts and
// releases nothing.
func (c *Controller) claim(ctx context.Context, d *appsv1.Deployment, sel labels.Selector) ([]*appsv1.ReplicaSet, error) {
	all, err := c.sets.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []*appsv1.ReplicaSet
	for _, rs := range all {
		matches := sel.Matches(labels.Set(rs.Labels))
		ref := metav1.GetControllerOfNoCopy(rs)
		switch {
		case ref != nil && ref.UID == d.UID && matches:
			out = append(out, rs)
		case ref != nil && ref.UID == d.UID && d.DeletionTimestamp == nil:
			release := map[string]any{"$patch": "delete", "uid": d.UID}
			if _, err := c.patchOwners(ctx, rs, release); err != nil && !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("releasing ReplicaSet %s: %w", rs.Name, err)
			}
		case ref == nil && matches && d.DeletionTimestamp == nil && rs.DeletionTimestamp == nil:
			adopted, err := c.patchOwners(ctx, rs, metav1.NewControllerRef(d, deploymentKind))
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("adopting ReplicaSet %s: %w", rs.Name, err)
			}
			out = append(out, adopted)
		}
	}
	return out, nil
}

// newSet finds d's new ReplicaSet among sets and brings its revision and
// annotations up to date, or, with create, creates it. It returns the new
// ReplicaSet (nil when there is none and create is false), the old ones,
// and d as last written.
func (c *Controller) newSet(ctx context.Context, d *appsv1.Deployment, sets []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, *appsv1.Deployment, error) {
	found, old := splitSets(d, sets)
	rev := maxRevision(old) + 1
	now := c.clock.Now()
	if found != nil {
		rs := found.DeepCopy()
		if setNewAnnotations(d, rs, rev, false) || rs.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			rs.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			updated, err := c.client.AppsV1().ReplicaSets(d.Namespace).Update(ctx, rs, metav1.UpdateOptions{})
			if err != nil {
				return nil, nil, nil, fmt.Errorf("updating ReplicaSet %s: %w", rs.Name, err)
			}
			rs = updated
		}
		d, err := c.recordRevision(ctx, d, rs, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonFoundNewRS,
			fmt.Sprintf("Found new replica set %q", rs.Name), now), false)
		return rs, old, d, err
	}
	if !create {
		return nil, old, d, nil
	}
	hash := computeHash(&d.Spec.Template, d.Status.CollisionCount)
	tmpl := d.Spec.Template.DeepCopy()
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels[hashLabel] = hash
	sel := d.Spec.Selector.DeepCopy()
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[hashLabel] = hash
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			Labels:          tmpl.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, deploymentKind)},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        new(int32),
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        sel,
			Template:        *tmpl,
		},
	}
	n, err := newReplicaSetReplicas(d, append(slices.Clone(old), rs), rs)
	if err != nil {
		return nil, nil, nil, err
	}
	rs.Spec.Replicas = &n
	setNewAnnotations(d, rs, rev, true)
	created, err := c.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		existing, getErr := c.client.AppsV1().ReplicaSets(d.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		if getErr != nil {
			return nil, nil, nil, fmt.Errorf("reading ReplicaSet %s: %w", rs.Name, getErr)
		}
		if ref := metav1.GetControllerOfNoCopy(existing); ref != nil && ref.UID == d.UID && equalIgnoreHash(&existing.Spec.Template, &d.Spec.Template) {
			// Our own creation the cache has not seen yet.
			return existing, old, d, nil
		}
		// A hash collision: the next hash is salted with a higher count.
		count := int32(0)
		if d.Status.CollisionCount != nil {
			count = *d.Status.CollisionCount
		}
		count++
		d.Status.CollisionCount = &count
		if _, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
			return nil, nil, nil, wrapStatus(err)
		}
		return nil, nil, nil, fmt.Errorf("ReplicaSet %s exists with another template; collision count now %d", rs.Name, count)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("creating ReplicaSet %s: %w", rs.Name, err)
	}
	c.log.Info("created ReplicaSet", "namespace", d.Namespace, "deployment", d.Name, "replicaset", created.Name, "replicas", n)
	d, err = c.recordRevision(ctx, d, created, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSCreated,
		fmt.Sprintf("Created new replica set %q", created.Name), now), true)
	return created, old, d, err
}

// recordRevision writes the new ReplicaSet's revision to d's annotation and
// cond as d's Progressing condition, when d has a progress deadline and
// either force is set or there is no Progressing condition yet.
func (c *Controller) recordRevision(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, cond appsv1.DeploymentCondition, force bool) (*appsv1.Deployment, error) {
	rev := rs.Annotations[revisionAnnotation]
	if d.Annotations[revisionAnnotation] != rev {
		d = d.DeepCopy()
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		d.Annotations[revisionAnnotation] = rev
		updated, err := c.client.AppsV1().Deployments(d.Namespace).Update(ctx, d, metav1.UpdateOptions{})
		if err != nil {
			return nil, fmt.Errorf("writing revision %s: %w", rev, err)
		}
		d = updated
	}
	if !hasProgressDeadline(d) || (!force && condition(d.Status, appsv1.DeploymentProgressing) != nil) {
		return d, nil
	}
	d = d.DeepCopy()
	removeCondition(&d.Status, appsv1.DeploymentProgressing)
	d.Status.Conditions = append(d.Status.Conditions, cond)
	updated, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	return updated, wrapStatus(err)
}

// scaleSet sets rs's replicas to n and its replicas annotations to d's,
// writing only if something changed.
func (c *Controller) scaleSet(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, n int32) (*appsv1.ReplicaSet, error) {
	cp := rs.DeepCopy()
	annotations := setReplicasAnnotations(cp, desired(d), desired(d)+maxSurge(d))
	if replicas(rs) == n && !annotations {
		return rs, nil
	}
	cp.Spec.Replicas = &n
	updated, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("scaling ReplicaSet %s to %d: %w", rs.Name, n, err)
	}
	if replicas(rs) != n {
		c.log.Info("scaled ReplicaSet", "namespace", rs.Namespace, "replicaset", rs.Name, "from", replicas(rs), "to", n)
	}
	return updated, nil
}

// applySizes scales the ReplicaSets named in sizes, returning sets with the
// written objects in place.
func (c *Controller) applySizes(ctx context.Context, d *appsv1.Deployment, sets []*appsv1.ReplicaSet, sizes map[string]int32) ([]*appsv1.ReplicaSet, error) {
	out := slices.Clone(sets)
	for i, rs := range out {
		n, ok := sizes[rs.Name]
		if !ok {
			continue
		}
		updated, err := c.scaleSet(ctx, d, rs, n)
		if err != nil {
			return nil, err
		}
		out[i] = updated
	}
	return out, nil
}

// scale handles a paused Deployment or a change of its replicas: the
// active ReplicaSets are resized as scalePlan says, without rolling out.
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, sets []*appsv1.ReplicaSet) error {
	newRS, old, d, err := c.newSet(ctx, d, sets, false)
	if err != nil {
		return err
	}
	all := withNew(newRS, old)
	all, err = c.applySizes(ctx, d, all, scalePlan(d, newRS, old))
	if err != nil {
		return err
	}
	newRS, old = splitNew(newRS, all)
	if d.Spec.Paused {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.writeStatus(ctx, d, computeStatus(d, newRS, all, c.clock.Now()))
}

func withNew(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	if newRS == nil {
		return slices.Clone(old)
	}
	return append([]*appsv1.ReplicaSet{newRS}, old...)
}

// splitNew splits all, built by withNew, back into the new and old sets.
func splitNew(newRS *appsv1.ReplicaSet, all []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
	if newRS == nil {
		return nil, all
	}
	return all[0], all[1:]
}

// rolling takes one RollingUpdate step: grow the new ReplicaSet within the
// surge, else shrink the old ones within the availability budget, else,
// when complete, clean up history.
func (c *Controller) rolling(ctx context.Context, d *appsv1.Deployment, sets []*appsv1.ReplicaSet) error {
	newRS, old, d, err := c.newSet(ctx, d, sets, true)
	if err != nil {
		return err
	}
	all := withNew(newRS, old)
	if n := replicas(newRS); n != desired(d) {
		target := desired(d)
		if n < target {
			if target, err = newReplicaSetReplicas(d, all, newRS); err != nil {
				return err
			}
		}
		if target != n {
			if all[0], err = c.scaleSet(ctx, d, newRS, target); err != nil {
				return err
			}
			return c.writeRolloutStatus(ctx, d, all[0], all)
		}
	}
	if sizes := scaleDownOld(d, newRS, old); len(sizes) > 0 {
		if all, err = c.applySizes(ctx, d, all, sizes); err != nil {
			return err
		}
		return c.writeRolloutStatus(ctx, d, all[0], all)
	}
	if complete(d, &d.Status) {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.writeRolloutStatus(ctx, d, newRS, all)
}

// recreate takes one Recreate step: scale every old ReplicaSet to zero,
// wait until their pods are gone, then create or grow the new one.
func (c *Controller) recreate(ctx context.Context, d *appsv1.Deployment, sets []*appsv1.ReplicaSet) error {
	newRS, old, d, err := c.newSet(ctx, d, sets, false)
	if err != nil {
		return err
	}
	all := withNew(newRS, old)
	if act := active(old); len(act) > 0 {
		sizes := map[string]int32{}
		for _, rs := range act {
			sizes[rs.Name] = 0
		}
		if all, err = c.applySizes(ctx, d, all, sizes); err != nil {
			return err
		}
		newRS, _ = splitNew(newRS, all)
		return c.writeRolloutStatus(ctx, d, newRS, all)
	}
	if running, err := c.oldPodsRunning(old); err != nil || running {
		if err != nil {
			return err
		}
		return c.writeRolloutStatus(ctx, d, newRS, all)
	}
	if newRS == nil {
		if newRS, old, d, err = c.newSet(ctx, d, sets, true); err != nil {
			return err
		}
	}
	if newRS, err = c.scaleSet(ctx, d, newRS, desired(d)); err != nil {
		return err
	}
	all = withNew(newRS, old)
	if complete(d, &d.Status) {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.writeRolloutStatus(ctx, d, newRS, all)
}

// oldPodsRunning reports whether a pod of the old ReplicaSets still exists,
// as far as their status or the pod cache tell.
func (c *Controller) oldPodsRunning(old []*appsv1.ReplicaSet) (bool, error) {
	if len(old) == 0 {
		return false, nil
	}
	pods, err := c.pods.Pods(old[0].Namespace).List(labels.Everything())
	if err != nil {
		return false, err
	}
	return podsRunning(old, pods), nil
}

// cleanup deletes old ReplicaSets beyond revisionHistoryLimit.
func (c *Controller) cleanup(ctx context.Context, d *appsv1.Deployment, old []*appsv1.ReplicaSet) error {
	for _, rs := range historyToDelete(d, old) {
		err := c.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &rs.UID, ResourceVersion: &rs.ResourceVersion},
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting old ReplicaSet %s: %w", rs.Name, err)
		}
		c.log.Info("deleted old ReplicaSet", "namespace", rs.Namespace, "replicaset", rs.Name, "revision", strconv.FormatInt(revision(rs), 10))
	}
	return nil
}

// writeRolloutStatus writes the rollout status and, while the rollout is
// under way, checks the progress deadline again when it would pass.
func (c *Controller) writeRolloutStatus(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, all []*appsv1.ReplicaSet) error {
	now := c.clock.Now()
	st := rolloutStatus(d, newRS, all, now)
	if err := c.writeStatus(ctx, d, st); err != nil {
		return err
	}
	if after, ok := progressRecheck(d, st, now); ok {
		c.queue.AddAfter(d.Namespace+"/"+d.Name, after)
	}
	return nil
}

// writeStatus writes st as d's status unless it is already d's.
func (c *Controller) writeStatus(ctx context.Context, d *appsv1.Deployment, st appsv1.DeploymentStatus) error {
	if apiequality.Semantic.DeepEqual(d.Status, st) {
		return nil
	}
	cp := d.DeepCopy()
	cp.Status = st
	_, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	return wrapStatus(err)
}
