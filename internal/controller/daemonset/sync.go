package daemonset

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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"berth.dev/berth/internal/controller/claim"
	"berth.dev/berth/internal/controller/history"
)

// sync brings the DaemonSet named by key one step closer to its spec.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.sets.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	ds := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || sel.Empty() || ds.DeletionTimestamp != nil {
		// Selecting every pod (or none) is refused, and a DaemonSet being
		// deleted is left to the garbage collector, as upstream.
		return nil
	}
	// Expectations are checked before the pods are read: an event that
	// satisfies them has already put its pod in the cache.
	satisfied := c.exp.Satisfied(key)
	nodes, err := c.nodeList()
	if err != nil {
		return err
	}
	pods, err := c.claimPods(ctx, ds, sel)
	if err != nil {
		return err
	}
	cur, old, collisions, err := c.revisions(ctx, ds, sel, pods)
	if err != nil {
		return err
	}
	hash := cur.Labels[hashLabel]
	pl := newPlacement(ds)
	byNode := podsByNode(pods)
	status := func() appsv1.DaemonSetStatus {
		st := computeStatus(ds, pl, nodes, byNode, hash, c.clock.Now())
		st.CollisionCount = collisions
		return st
	}
	if !satisfied {
		// Only the status: the cache lags behind this controller's writes.
		return c.writeStatus(ctx, ds, key, status(), false)
	}
	runErr := c.update(ctx, ds, key, pl, nodes, byNode, hash)
	if runErr == nil {
		runErr = c.cleanupHistory(ctx, ds, pods, old)
	}
	return errors.Join(runErr, c.writeStatus(ctx, ds, key, status(), true))
}

// claimPods returns the pods ds controls, adopting orphans its selector
// matches after a live read confirms ds exists and is not being deleted.
func (c *Controller) claimPods(ctx context.Context, ds *appsv1.DaemonSet, sel labels.Selector) ([]*corev1.Pod, error) {
	all, err := c.pods.Pods(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	cl := claim.Claimer[*corev1.Pod]{
		Owner:    ds,
		Kind:     dsKind,
		Match:    func(p *corev1.Pod) bool { return sel.Matches(labels.Set(p.Labels)) },
		CanAdopt: claim.Recheck(ds, dsKind.Kind, c.client.AppsV1().DaemonSets(ds.Namespace).Get),
		Patch:    claim.PodPatcher(c.client.CoreV1()),
	}
	return cl.Claim(ctx, all)
}

// revisions returns the revision of ds's template, created or renumbered
// to the highest revision as needed, and the older revisions. Several
// revisions of the current template (left by a collision) are merged into
// the newest: pods labelled with the others are relabelled, the others
// deleted. A name collision with another template raises the collision
// count, which is returned for the status.
func (c *Controller) revisions(ctx context.Context, ds *appsv1.DaemonSet, sel labels.Selector, pods []*corev1.Pod) (cur *appsv1.ControllerRevision, old []*appsv1.ControllerRevision, collisions *int32, err error) {
	collisions = ds.Status.CollisionCount
	revs, err := c.history.Claim(ctx, ds, dsKind, sel)
	if err != nil {
		return nil, nil, nil, err
	}
	history.Sort(revs)
	var count int32
	if ds.Status.CollisionCount != nil {
		count = *ds.Status.CollisionCount
	}
	cand, err := history.New(ds, dsKind, &ds.Spec.Template, ds.Annotations, 0, &count, hashLabel)
	if err != nil {
		return nil, nil, nil, err
	}
	var same []*appsv1.ControllerRevision
	for _, r := range revs {
		if history.Equal(r, cand) {
			same = append(same, r)
		} else {
			old = append(old, r)
		}
	}
	next := history.Next(old)
	if len(same) == 0 {
		cand.Revision = next
		before := count
		cur, err = c.history.Create(ctx, cand, &count)
		if count != before {
			collisions = &count
		}
		return cur, old, collisions, err
	}
	cur = same[len(same)-1]
	for _, dup := range same[:len(same)-1] {
		if err := c.relabel(ctx, pods, dup.Labels[hashLabel], cur.Labels[hashLabel]); err != nil {
			return nil, nil, nil, err
		}
		if err := c.history.Delete(ctx, dup); err != nil {
			return nil, nil, nil, err
		}
	}
	if cur.Revision < next {
		cur, err = c.history.SetRevision(ctx, cur, next)
	}
	return cur, old, collisions, err
}

// relabel moves the pods labelled with hash from to hash to.
func (c *Controller) relabel(ctx context.Context, pods []*corev1.Pod, from, to string) error {
	for _, p := range pods {
		if from == "" || p.Labels[hashLabel] != from {
			continue
		}
		patch := fmt.Appendf(nil, `{"metadata":{"labels":{%q:%q}}}`, hashLabel, to)
		if _, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("relabelling pod %s: %w", p.Name, err)
		}
	}
	return nil
}

// update runs manage and, when it had nothing to do and the strategy is
// RollingUpdate, one rolling update step; after writes, the next step
// waits for the next sync, on the cache updated by them.
func (c *Controller) update(ctx context.Context, ds *appsv1.DaemonSet, key string, pl placement, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) error {
	mp := manage(ds, pl, nodes, byNode, hash)
	remove := mp.remove
	now := c.clock.Now()
	for _, p := range mp.failed {
		id := key + "/" + targetNode(p)
		if c.failedBackoff.IsInBackOffSinceUpdate(id, now) {
			c.queue.AddAfter(key, c.failedBackoff.Get(id))
			continue
		}
		c.failedBackoff.Next(id, now)
		c.log.Info("replacing failed pod", "namespace", p.Namespace, "daemonset", ds.Name, "pod", p.Name, "node", targetNode(p))
		remove = append(remove, p)
	}
	if len(mp.create) > 0 || len(remove) > 0 {
		return c.syncNodes(ctx, ds, key, mp.create, remove, hash)
	}
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType {
		return nil
	}
	rp := roll(ds, pl, nodes, byNode, hash, now)
	return c.syncNodes(ctx, ds, key, rp.create, rp.remove, hash)
}

// syncNodes creates a pod on each node of create and deletes the pods of
// remove, at most BurstReplicas of each, recording expectations first.
// Creations go in batches of doubling size, stopping at the first batch
// with a failure, as upstream's slow start.
func (c *Controller) syncNodes(ctx context.Context, ds *appsv1.DaemonSet, key string, create []string, remove []*corev1.Pod, hash string) error {
	create = create[:min(len(create), c.burst)]
	remove = remove[:min(len(remove), c.burst)]
	if len(create) == 0 && len(remove) == 0 {
		return nil
	}
	c.exp.Expect(key, len(create), remove)

	var errs []error
	var mu sync.Mutex // guards errs
	done := 0
	for batch := 1; done < len(create); batch *= 2 {
		n := min(batch, len(create)-done)
		var wg sync.WaitGroup
		failed := false
		for _, node := range create[done : done+n] {
			wg.Go(func() {
				if err := c.createPod(ctx, ds, node, hash); err != nil {
					c.exp.CreationsObserved(key, 1)
					mu.Lock()
					errs, failed = append(errs, err), true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		done += n
		if failed {
			c.exp.CreationsObserved(key, len(create)-done) // never attempted
			break
		}
	}
	for _, p := range remove {
		err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
		if err != nil && !apierrors.IsNotFound(err) {
			c.exp.DeletionObserved(key, p.UID)
			errs = append(errs, fmt.Errorf("deleting pod %s: %w", p.Name, err))
			continue
		}
		c.log.Debug("deleted pod", "namespace", p.Namespace, "daemonset", ds.Name, "pod", p.Name, "node", targetNode(p))
	}
	return errors.Join(errs...)
}

// newPod returns ds's pod for node: the template with the default
// tolerations, the revision hash (and template generation) labels and a
// required node affinity for node alone.
func newPod(ds *appsv1.DaemonSet, node, hash string) *corev1.Pod {
	t := ds.Spec.Template.DeepCopy()
	addDefaultTolerations(&t.Spec)
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	t.Labels[hashLabel] = hash
	if gen := templateGeneration(ds); gen != "" {
		t.Labels[generationLabel] = gen
	}
	t.Spec.Affinity = pinToNode(t.Spec.Affinity, node)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    ds.Name + "-",
			Namespace:       ds.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, dsKind)},
		},
		Spec: t.Spec,
	}
}

func (c *Controller) createPod(ctx context.Context, ds *appsv1.DaemonSet, node, hash string) error {
	p, err := c.client.CoreV1().Pods(ds.Namespace).Create(ctx, newPod(ds, node, hash), metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating pod for node %s: %w", node, err)
	}
	c.log.Debug("created pod", "namespace", p.Namespace, "daemonset", ds.Name, "pod", p.Name, "node", node)
	return nil
}

// cleanupHistory deletes the oldest revisions in old beyond
// revisionHistoryLimit that no pod is labelled with.
func (c *Controller) cleanupHistory(ctx context.Context, ds *appsv1.DaemonSet, pods []*corev1.Pod, old []*appsv1.ControllerRevision) error {
	hashes := map[string]bool{}
	for _, p := range pods {
		hashes[p.Labels[hashLabel]] = true
	}
	live := map[string]bool{}
	for _, r := range old {
		if h := r.Labels[hashLabel]; h != "" && hashes[h] {
			live[r.Name] = true
		}
	}
	limit := int32(10)
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = *ds.Spec.RevisionHistoryLimit
	}
	for _, r := range history.Prune(old, live, limit) {
		if err := c.history.Delete(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// writeStatus writes st, with the generation observed when observe is
// set, unless it is ds's status already. While a pod is ready but not yet
// available, ds is synced again after minReadySeconds.
func (c *Controller) writeStatus(ctx context.Context, ds *appsv1.DaemonSet, key string, st appsv1.DaemonSetStatus, observe bool) error {
	st.ObservedGeneration = ds.Status.ObservedGeneration
	if observe {
		st.ObservedGeneration = ds.Generation
	}
	st.Conditions = ds.Status.Conditions
	if ds.Spec.MinReadySeconds > 0 && st.NumberReady != st.NumberAvailable {
		c.queue.AddAfter(key, time.Duration(ds.Spec.MinReadySeconds)*time.Second)
	}
	if apiequality.Semantic.DeepEqual(ds.Status, st) {
		return nil
	}
	cp := ds.DeepCopy()
	cp.Status = st
	if _, err := c.client.AppsV1().DaemonSets(cp.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	return nil
}
