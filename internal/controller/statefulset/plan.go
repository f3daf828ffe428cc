package statefulset

import (
	"cmp"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// actionKind is what one step of a sync does to one pod.
type actionKind int

const (
	// create creates the pod's missing claims, then the pod.
	create actionKind = iota
	// remove deletes the pod: finished, scaled away, or replaced by an update.
	remove
	// fix gives the pod its identity labels and its claims their missing
	// parts (created, or owner references per the retention policy).
	fix
)

func (k actionKind) String() string {
	return [...]string{"create", "remove", "fix"}[k]
}

// action is one write a sync makes, on the pod named by pod.
type action struct {
	kind actionKind
	pod  *corev1.Pod
}

// revisions are the current and update revisions of a set: the set with
// each revision's template applied, and the revision names.
type revisions struct {
	current, update         *appsv1.StatefulSet
	currentName, updateName string
}

// plan returns the writes that bring set one step closer to its spec, in
// the order they must be made (a failed write ends the sync), following
// upstream's StatefulSet control loop: replace finished pods and create
// missing ones (with OrderedReady one at a time, each after its
// predecessors are Running, Ready and available), fix identities and
// claims, delete pods beyond the ordinal range (with OrderedReady the
// highest first, one at a time, only while the others are healthy), then,
// with RollingUpdate, delete pods at an old revision from the highest
// ordinal down to the partition within maxUnavailable. pods are the set's
// claimed pods; claims its PersistentVolumeClaims by name. It also
// returns the number of pods at the current revision the deletions take
// away, for the status.
func plan(set *appsv1.StatefulSet, revs revisions, pods []*corev1.Pod, claims map[string]*corev1.PersistentVolumeClaim, now time.Time) (acts []action, rolled int32) {
	n, start := replicasOf(set), startOrdinal(set)
	replicas := make([]*corev1.Pod, n)
	var condemned []*corev1.Pod
	for _, p := range pods {
		ord := ordinalOf(p)
		switch {
		case inRange(set, ord):
			replicas[ord-start] = p
		case ord >= 0:
			condemned = append(condemned, p)
		}
	}
	for i := range replicas {
		if replicas[i] == nil {
			replicas[i] = versionedPod(set, revs, start+i)
		}
	}
	slices.SortFunc(condemned, func(a, b *corev1.Pod) int { return cmp.Compare(ordinalOf(b), ordinalOf(a)) })
	minReady := set.Spec.MinReadySeconds
	var firstUnavailable *corev1.Pod
	for _, p := range replicas {
		if isUnavailable(p, minReady, now) {
			firstUnavailable = p
			break
		}
	}
	for i := len(condemned) - 1; i >= 0 && firstUnavailable == nil; i-- {
		if isUnavailable(condemned[i], minReady, now) {
			firstUnavailable = condemned[i]
		}
	}
	if set.DeletionTimestamp != nil {
		return nil, 0
	}
	ordered := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement

	for _, p := range replicas {
		if isFinished(p) {
			if p.DeletionTimestamp == nil {
				acts = append(acts, action{remove, p})
			}
			if ordered {
				return acts, 0
			}
			continue
		}
		if !isCreated(p) {
			acts = append(acts, action{create, p})
			if ordered {
				return acts, 0
			}
			continue
		}
		pendingFix := isPending(p) && missingClaims(revs.update, p, claims)
		if pendingFix {
			acts = append(acts, action{fix, p})
		}
		if ordered && (isTerminating(p) || !isAvailable(p, minReady, now)) {
			return acts, 0
		}
		if !pendingFix && (!identityMatches(set, p) || !claimsMatch(revs.update, p, claims)) {
			acts = append(acts, action{fix, p})
		}
	}
	for _, p := range condemned {
		if !claimsMatch(revs.update, p, claims) {
			acts = append(acts, action{fix, p})
		}
	}
	for _, p := range condemned {
		if isTerminating(p) {
			if ordered {
				return acts, 0
			}
			continue
		}
		if ordered && p != firstUnavailable && !isAvailable(p, minReady, now) {
			return acts, 0
		}
		acts = append(acts, action{remove, p})
		if ordered {
			return acts, 0
		}
	}
	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return acts, 0
	}
	partition, budget := 0, maxUnavailable(set)
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		partition = int(*ru.Partition)
	}
	for _, p := range replicas {
		if isUnavailable(p, minReady, now) {
			budget--
		}
	}
	for i := len(replicas) - 1; i >= partition && budget > 0; i-- {
		p := replicas[i]
		if p.Labels[revisionLabel] != revs.updateName && !isTerminating(p) {
			acts = append(acts, action{remove, p})
			budget--
			rolled++
		}
	}
	return acts, rolled
}

// versionedPod returns the missing pod with ordinal ord: at the current
// revision when a RollingUpdate keeps it there (below the partition),
// else at the update revision.
func versionedPod(set *appsv1.StatefulSet, revs revisions, ord int) *corev1.Pod {
	if s := set.Spec.UpdateStrategy; s.Type == appsv1.RollingUpdateStatefulSetStrategyType {
		keep := ord < startOrdinal(set)+int(set.Status.CurrentReplicas)
		if s.RollingUpdate != nil && s.RollingUpdate.Partition != nil {
			keep = ord < startOrdinal(set)+int(*s.RollingUpdate.Partition)
		}
		if keep {
			return newPod(revs.current, ord, revs.currentName)
		}
	}
	return newPod(revs.update, ord, revs.updateName)
}

// maxUnavailable is how many pods a rolling update may have unavailable:
// rollingUpdate.maxUnavailable of the replicas (a percentage rounded up),
// at least 1.
func maxUnavailable(set *appsv1.StatefulSet) int {
	v := intstr.FromInt32(1)
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.MaxUnavailable != nil {
		v = *ru.MaxUnavailable
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(&v, replicasOf(set), true)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// claimsMatch reports whether every existing claim of p has the owner
// references its retention policy asks for. Missing claims match here:
// they are created for pending pods (missingClaims), as upstream.
func claimsMatch(set *appsv1.StatefulSet, p *corev1.Pod, claims map[string]*corev1.PersistentVolumeClaim) bool {
	ord := ordinalOf(p)
	for i := range set.Spec.VolumeClaimTemplates {
		c, ok := claims[claimName(set, &set.Spec.VolumeClaimTemplates[i], ord)]
		if !ok {
			continue
		}
		if _, changed := claimOwners(set, p, c); changed {
			return false
		}
	}
	return true
}

// missingClaims reports whether a claim of p does not exist.
func missingClaims(set *appsv1.StatefulSet, p *corev1.Pod, claims map[string]*corev1.PersistentVolumeClaim) bool {
	ord := ordinalOf(p)
	for i := range set.Spec.VolumeClaimTemplates {
		if _, ok := claims[claimName(set, &set.Spec.VolumeClaimTemplates[i], ord)]; !ok {
			return true
		}
	}
	return false
}

// computeStatus counts set's pods as upstream: every created pod is a
// replica; ready and available ones (minReadySeconds) are counted among
// them; pods not being deleted count as current or updated by their
// revision label. A RollingUpdate whose pods are all updated and ready is
// complete: the update revision becomes the current one.
func computeStatus(set *appsv1.StatefulSet, revs revisions, pods []*corev1.Pod, collisionCount int32, rolled int32, now time.Time) appsv1.StatefulSetStatus {
	st := appsv1.StatefulSetStatus{
		ObservedGeneration: set.Generation,
		CurrentRevision:    revs.currentName,
		UpdateRevision:     revs.updateName,
		CollisionCount:     &collisionCount,
	}
	for _, p := range pods {
		if isCreated(p) {
			st.Replicas++
		}
		if isRunningAndReady(p) {
			st.ReadyReplicas++
			if isAvailable(p, set.Spec.MinReadySeconds, now) {
				st.AvailableReplicas++
			}
		}
		if isCreated(p) && !isTerminating(p) {
			if p.Labels[revisionLabel] == revs.currentName {
				st.CurrentReplicas++
			}
			if p.Labels[revisionLabel] == revs.updateName {
				st.UpdatedReplicas++
			}
		}
	}
	st.CurrentReplicas -= rolled
	if set.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType &&
		st.UpdatedReplicas == st.Replicas && st.ReadyReplicas == st.Replicas {
		st.CurrentReplicas = st.UpdatedReplicas
		st.CurrentRevision = st.UpdateRevision
	}
	return st
}
