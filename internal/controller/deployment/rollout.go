package deployment

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/dump"
)

// Annotations and the label the controller maintains, as upstream names them.
const (
	revisionAnnotation        = "deployment.kubernetes.io/revision"
	desiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	maxReplicasAnnotation     = "deployment.kubernetes.io/max-replicas"
	revisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	lastAppliedAnnotation     = "kubectl.kubernetes.io/last-applied-configuration"
	rollbackToAnnotation      = "deprecated.deployment.rollback.to"
	hashLabel                 = appsv1.DefaultDeploymentUniqueLabelKey
)

// computeHash returns the pod-template-hash of a template: the FNV-32a of
// its deep dump, salted with the collision count when there is one, encoded
// like upstream so ReplicaSet names match a real cluster's.
func computeHash(t *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", dump.ForHash(*t))
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// equalIgnoreHash reports whether two templates are equal once the
// pod-template-hash label is removed from both.
func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, hashLabel)
	delete(b.Labels, hashLabel)
	if len(a.Labels) == 0 {
		a.Labels = nil
	}
	if len(b.Labels) == 0 {
		b.Labels = nil
	}
	return apiequality.Semantic.DeepEqual(a, b)
}

// replicas returns spec.replicas of a ReplicaSet, nil meaning 0 here
// because the API server defaults it.
func replicas(rs *appsv1.ReplicaSet) int32 {
	if rs == nil || rs.Spec.Replicas == nil {
		return 0
	}
	return *rs.Spec.Replicas
}

func desired(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func isRolling(d *appsv1.Deployment) bool {
	return d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType
}

// fenceposts returns the surge and unavailability allowances of a rolling
// update for n desired replicas: surge rounds up, unavailability down, and
// both zero becomes one unavailable so the rollout can move.
func fenceposts(maxSurge, maxUnavailable *intstr.IntOrString, n int32) (surge, unavailable int32, err error) {
	def := intstr.FromString("25%")
	if maxSurge == nil {
		maxSurge = &def
	}
	if maxUnavailable == nil {
		maxUnavailable = &def
	}
	s, err := intstr.GetScaledValueFromIntOrPercent(maxSurge, int(n), true)
	if err != nil {
		return 0, 0, fmt.Errorf("maxSurge: %w", err)
	}
	u, err := intstr.GetScaledValueFromIntOrPercent(maxUnavailable, int(n), false)
	if err != nil {
		return 0, 0, fmt.Errorf("maxUnavailable: %w", err)
	}
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(u), nil
}

func rollingParams(d *appsv1.Deployment) (surge, unavailable *intstr.IntOrString) {
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		return ru.MaxSurge, ru.MaxUnavailable
	}
	return nil, nil
}

// maxSurge is the surge allowance of d; 0 for Recreate or invalid values.
func maxSurge(d *appsv1.Deployment) int32 {
	if !isRolling(d) {
		return 0
	}
	s, u := rollingParams(d)
	surge, _, err := fenceposts(s, u, desired(d))
	if err != nil {
		return 0
	}
	return surge
}

// maxUnavailable is the unavailability allowance of d, at most its replicas;
// 0 for Recreate, zero replicas or invalid values.
func maxUnavailable(d *appsv1.Deployment) int32 {
	n := desired(d)
	if !isRolling(d) || n == 0 {
		return 0
	}
	s, u := rollingParams(d)
	_, unavailable, err := fenceposts(s, u, n)
	if err != nil {
		return 0
	}
	return min(unavailable, n)
}

func sumReplicas(sets []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range sets {
		n += replicas(rs)
	}
	return n
}

func sumAvailable(sets []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range sets {
		if rs != nil {
			n += rs.Status.AvailableReplicas
		}
	}
	return n
}

// newReplicaSetReplicas returns the size the new ReplicaSet should have
// after this step: all replicas for Recreate; for RollingUpdate as many as
// fit under replicas+maxSurge across all ReplicaSets, at most replicas.
func newReplicaSetReplicas(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (int32, error) {
	n := desired(d)
	if !isRolling(d) {
		return n, nil
	}
	s, u := rollingParams(d)
	surge, _, err := fenceposts(s, u, n)
	if err != nil {
		return 0, err
	}
	current := sumReplicas(all)
	if current >= n+surge {
		return replicas(newRS), nil
	}
	up := min(n+surge-current, n-replicas(newRS))
	return replicas(newRS) + up, nil
}

// scaleDownOld plans the rolling scale-down of the old ReplicaSets, oldest
// first as upstream: first unhealthy replicas (spec minus available) within
// what the availability budget allows, then available ones down to
// replicas-maxUnavailable available pods overall. It returns the new size of
// every old ReplicaSet, by name, that changes.
func scaleDownOld(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) map[string]int32 {
	oldSorted := slices.Clone(old)
	slices.SortStableFunc(oldSorted, byCreation)
	size := map[string]int32{}
	for _, rs := range oldSorted {
		size[rs.Name] = replicas(rs)
	}
	if sumReplicas(old) == 0 {
		return nil
	}
	all := append(slices.Clone(old), newRS)
	minAvailable := desired(d) - maxUnavailable(d)
	newUnavailable := replicas(newRS)
	if newRS != nil {
		newUnavailable -= newRS.Status.AvailableReplicas
	}
	budget := sumReplicas(all) - minAvailable - newUnavailable
	if budget <= 0 {
		return nil
	}
	// Unhealthy replicas first: removing them costs no availability.
	var cleaned int32
	for _, rs := range oldSorted {
		if cleaned >= budget {
			break
		}
		unhealthy := size[rs.Name] - rs.Status.AvailableReplicas
		if size[rs.Name] == 0 || unhealthy <= 0 {
			continue
		}
		down := min(budget-cleaned, unhealthy)
		size[rs.Name] -= down
		cleaned += down
	}
	// Then available ones, keeping minAvailable.
	available := sumAvailable(all)
	if available > minAvailable {
		total := available - minAvailable
		var done int32
		for _, rs := range oldSorted {
			if done >= total {
				break
			}
			if size[rs.Name] == 0 {
				continue
			}
			down := min(size[rs.Name], total-done)
			size[rs.Name] -= down
			done += down
		}
	}
	changes := map[string]int32{}
	for _, rs := range old {
		if size[rs.Name] != replicas(rs) {
			changes[rs.Name] = size[rs.Name]
		}
	}
	return changes
}

// byCreation orders ReplicaSets oldest first, then by name.
func byCreation(a, b *appsv1.ReplicaSet) int {
	if a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return cmpString(a.Name, b.Name)
	}
	if a.CreationTimestamp.Before(&b.CreationTimestamp) {
		return -1
	}
	return 1
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func active(sets []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range sets {
		if replicas(rs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// saturated reports whether the new ReplicaSet runs all of d's replicas,
// available, at d's current size.
func saturated(d *appsv1.Deployment, newRS *appsv1.ReplicaSet) bool {
	if newRS == nil {
		return false
	}
	want, ok := intAnnotation(newRS, desiredReplicasAnnotation)
	return ok && want == desired(d) && replicas(newRS) == desired(d) && newRS.Status.AvailableReplicas == desired(d)
}

func intAnnotation(rs *appsv1.ReplicaSet, name string) (int32, bool) {
	v, ok := rs.Annotations[name]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// scalePlan returns the size of every ReplicaSet, by name, for a scaling
// event (or a paused Deployment) as upstream: a single active (or the
// newest) ReplicaSet takes all replicas; a saturated new ReplicaSet leaves
// the old ones at zero; during a rolling update the difference to
// replicas+maxSurge is spread proportionally to each active ReplicaSet's
// share of its max-replicas annotation, the rounding leftover going to the
// largest; then every active ReplicaSet is in the result, so that its
// replicas annotations follow. Sets not in the result keep their size.
func scalePlan(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) map[string]int32 {
	n := desired(d)
	newestOld := slices.Clone(old)
	slices.SortStableFunc(newestOld, func(a, b *appsv1.ReplicaSet) int { return byCreation(b, a) })
	var all []*appsv1.ReplicaSet
	if newRS != nil {
		all = append(all, newRS)
	}
	all = append(all, newestOld...)
	act := active(all)
	var only *appsv1.ReplicaSet
	switch {
	case len(act) == 1:
		only = act[0]
	case len(act) == 0 && len(all) > 0:
		only = all[0]
	}
	if only != nil {
		if replicas(only) == n {
			return nil
		}
		return map[string]int32{only.Name: n}
	}
	if saturated(d, newRS) {
		plan := map[string]int32{}
		for _, rs := range active(old) {
			plan[rs.Name] = 0
		}
		return plan
	}
	if !isRolling(d) {
		return nil
	}
	allowed := int32(0)
	if n > 0 {
		allowed = n + maxSurge(d)
	}
	toAdd := allowed - sumReplicas(act)
	// Larger first; ties go to the newer when growing, the older when shrinking.
	slices.SortStableFunc(act, func(a, b *appsv1.ReplicaSet) int {
		if replicas(a) != replicas(b) {
			return int(replicas(b) - replicas(a))
		}
		if toAdd > 0 {
			return byCreation(b, a)
		}
		return byCreation(a, b)
	})
	plan := map[string]int32{}
	var added int32
	for _, rs := range act {
		p := proportion(rs, d, toAdd, added)
		plan[rs.Name] = replicas(rs) + p
		added += p
	}
	if toAdd != 0 {
		first := act[0].Name
		plan[first] = max(plan[first]+toAdd-added, 0)
	}
	return plan
}

// proportion is how many replicas rs gains (or loses) of toAdd, given that
// added were already handed out.
func proportion(rs *appsv1.ReplicaSet, d *appsv1.Deployment, toAdd, added int32) int32 {
	if replicas(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	f := fraction(rs, d)
	left := toAdd - added
	if left > 0 {
		return min(f, left)
	}
	return max(f, left)
}

func fraction(rs *appsv1.ReplicaSet, d *appsv1.Deployment) int32 {
	if desired(d) == 0 {
		return -replicas(rs)
	}
	total := desired(d) + maxSurge(d)
	annotated, ok := intAnnotation(rs, maxReplicasAnnotation)
	if !ok || annotated == 0 {
		annotated = d.Status.Replicas
	}
	if annotated == 0 {
		return 0
	}
	size := float64(replicas(rs)*total) / float64(annotated)
	return int32(math.Round(size)) - replicas(rs)
}

// revision returns a ReplicaSet's revision annotation; 0 when absent or
// malformed.
func revision(rs *appsv1.ReplicaSet) int64 {
	v, err := strconv.ParseInt(rs.Annotations[revisionAnnotation], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

func maxRevision(sets []*appsv1.ReplicaSet) int64 {
	var m int64
	for _, rs := range sets {
		m = max(m, revision(rs))
	}
	return m
}

// skipCopy reports annotations of a Deployment that are not copied to its
// ReplicaSets.
func skipCopy(name string) bool {
	switch name {
	case lastAppliedAnnotation, revisionAnnotation, revisionHistoryAnnotation,
		desiredReplicasAnnotation, maxReplicasAnnotation, rollbackToAnnotation:
		return true
	}
	return false
}

// setNewAnnotations updates rs (a copy) to be d's new ReplicaSet at
// revision rev: d's annotations copied, the revision raised to rev when it
// is lower (recording the old one in revision-history, as when a rollback
// brings an old template back), and for a ReplicaSet being created the
// replicas annotations. It reports whether anything changed.
func setNewAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet, rev int64, creating bool) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	changed := false
	for k, v := range d.Annotations {
		if skipCopy(k) {
			continue
		}
		if cur, ok := rs.Annotations[k]; !ok || cur != v {
			rs.Annotations[k] = v
			changed = true
		}
	}
	oldRev, hasOld := rs.Annotations[revisionAnnotation]
	if cur := revision(rs); cur < rev || !hasOld {
		if hasOld && cur > 0 {
			if h := rs.Annotations[revisionHistoryAnnotation]; h != "" {
				rs.Annotations[revisionHistoryAnnotation] = h + "," + oldRev
			} else {
				rs.Annotations[revisionHistoryAnnotation] = oldRev
			}
		}
		rs.Annotations[revisionAnnotation] = strconv.FormatInt(rev, 10)
		changed = true
	}
	if creating && setReplicasAnnotations(rs, desired(d), desired(d)+maxSurge(d)) {
		changed = true
	}
	return changed
}

// setReplicasAnnotations sets the desired-replicas and max-replicas
// annotations of rs (a copy), reporting whether they changed.
func setReplicasAnnotations(rs *appsv1.ReplicaSet, want, most int32) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	changed := false
	for k, v := range map[string]string{
		desiredReplicasAnnotation: strconv.Itoa(int(want)),
		maxReplicasAnnotation:     strconv.Itoa(int(most)),
	} {
		if rs.Annotations[k] != v {
			rs.Annotations[k] = v
			changed = true
		}
	}
	return changed
}

// historyToDelete returns the old ReplicaSets beyond revisionHistoryLimit
// that may be deleted, lowest revision first: only those scaled to zero,
// with no pods and observed by the ReplicaSet controller.
func historyToDelete(d *appsv1.Deployment, old []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	if d.Spec.RevisionHistoryLimit == nil {
		return nil
	}
	var live []*appsv1.ReplicaSet
	for _, rs := range old {
		if rs.DeletionTimestamp == nil {
			live = append(live, rs)
		}
	}
	extra := len(live) - int(*d.Spec.RevisionHistoryLimit)
	if extra <= 0 {
		return nil
	}
	slices.SortStableFunc(live, func(a, b *appsv1.ReplicaSet) int {
		if ra, rb := revision(a), revision(b); ra != rb {
			if ra < rb {
				return -1
			}
			return 1
		}
		return byCreation(a, b)
	})
	var out []*appsv1.ReplicaSet
	for _, rs := range live[:extra] {
		if rs.Status.Replicas != 0 || replicas(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		out = append(out, rs)
	}
	return out
}

// scalingEvent reports whether an active ReplicaSet was sized for a
// different replica count than d's, so d is being scaled, not rolled out.
func scalingEvent(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) bool {
	for _, rs := range active(append([]*appsv1.ReplicaSet{newRS}, old...)) {
		if want, ok := intAnnotation(rs, desiredReplicasAnnotation); ok && want != desired(d) {
			return true
		}
	}
	return false
}

// podsRunning reports whether the old ReplicaSets report replicas or any
// of pods they control has not finished; terminating pods still count, so
// Recreate never overlaps old and new pods.
func podsRunning(old []*appsv1.ReplicaSet, pods []*corev1.Pod) bool {
	uids := map[types.UID]bool{}
	for _, rs := range old {
		if rs.Status.Replicas > 0 {
			return true
		}
		uids[rs.UID] = true
	}
	for _, p := range pods {
		ref := metav1.GetControllerOfNoCopy(p)
		if ref == nil || !uids[ref.UID] {
			continue
		}
		if p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
			return true
		}
	}
	return false
}
