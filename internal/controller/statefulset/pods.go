package statefulset

import (
	"maps"
	"regexp"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// revisionLabel on a pod names the ControllerRevision it was made from.
const revisionLabel = appsv1.ControllerRevisionHashLabelKey

var (
	setKind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")
	podKind = corev1.SchemeGroupVersion.WithKind("Pod")
)

// podNameRE splits a pod name into its set's name and its ordinal.
var podNameRE = regexp.MustCompile(`^(.*)-([0-9]+)$`)

// parentAndOrdinal returns the set name and ordinal in a pod's name; the
// ordinal is -1 when the name has none.
func parentAndOrdinal(p *corev1.Pod) (string, int) {
	m := podNameRE.FindStringSubmatch(p.Name)
	if m == nil {
		return "", -1
	}
	n, err := strconv.ParseInt(m[2], 10, 32)
	if err != nil {
		return "", -1
	}
	return m[1], int(n)
}

func ordinalOf(p *corev1.Pod) int {
	_, ord := parentAndOrdinal(p)
	return ord
}

// isMember reports whether p's name makes it one of set's pods.
func isMember(set *appsv1.StatefulSet, p *corev1.Pod) bool {
	parent, ord := parentAndOrdinal(p)
	return ord >= 0 && parent == set.Name
}

func replicasOf(set *appsv1.StatefulSet) int {
	if set.Spec.Replicas == nil {
		return 1
	}
	return int(*set.Spec.Replicas)
}

// startOrdinal is the first ordinal: spec.ordinals.start, or 0.
func startOrdinal(set *appsv1.StatefulSet) int {
	if set.Spec.Ordinals != nil {
		return int(set.Spec.Ordinals.Start)
	}
	return 0
}

// inRange reports whether ord is one of the ordinals set wants.
func inRange(set *appsv1.StatefulSet, ord int) bool {
	start := startOrdinal(set)
	return ord >= start && ord < start+replicasOf(set)
}

func podName(set *appsv1.StatefulSet, ord int) string {
	return set.Name + "-" + strconv.Itoa(ord)
}

func claimName(set *appsv1.StatefulSet, claim *corev1.PersistentVolumeClaim, ord int) string {
	return claim.Name + "-" + set.Name + "-" + strconv.Itoa(ord)
}

// newPod returns set's pod with ordinal ord made from set's template and
// labelled with revision.
func newPod(set *appsv1.StatefulSet, ord int, revision string) *corev1.Pod {
	t := set.Spec.Template.DeepCopy()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            podName(set, ord),
			Namespace:       set.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(set, setKind)},
		},
		Spec: t.Spec,
	}
	setIdentity(set, p)
	setStorage(set, p)
	p.Labels[revisionLabel] = revision
	return p
}

// setIdentity gives the pod named for its ordinal its stable network
// identity and identity labels.
func setIdentity(set *appsv1.StatefulSet, p *corev1.Pod) {
	p.Namespace = set.Namespace
	setIdentityLabels(p)
	p.Spec.Hostname = p.Name
	p.Spec.Subdomain = set.Spec.ServiceName
}

// setIdentityLabels sets the pod-name and pod-index labels.
func setIdentityLabels(p *corev1.Pod) {
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	p.Labels[appsv1.StatefulSetPodNameLabel] = p.Name
	p.Labels[appsv1.PodIndexLabel] = strconv.Itoa(ordinalOf(p))
}

// identityMatches reports whether p carries the identity setIdentity gives.
func identityMatches(set *appsv1.StatefulSet, p *corev1.Pod) bool {
	parent, ord := parentAndOrdinal(p)
	return ord >= 0 && parent == set.Name && p.Namespace == set.Namespace &&
		p.Labels[appsv1.StatefulSetPodNameLabel] == p.Name &&
		p.Labels[appsv1.PodIndexLabel] == strconv.Itoa(ord)
}

// setStorage points the pod's volumes named after claim templates at the
// pod's claims, keeping its other volumes.
func setStorage(set *appsv1.StatefulSet, p *corev1.Pod) {
	ord := ordinalOf(p)
	templates := map[string]bool{}
	var vols []corev1.Volume
	for i := range set.Spec.VolumeClaimTemplates {
		c := &set.Spec.VolumeClaimTemplates[i]
		templates[c.Name] = true
		vols = append(vols, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claimName(set, c, ord)},
		}})
	}
	for _, v := range p.Spec.Volumes {
		if !templates[v.Name] {
			vols = append(vols, v)
		}
	}
	p.Spec.Volumes = vols
}

// storageMatches reports whether p mounts every claim of its ordinal.
func storageMatches(set *appsv1.StatefulSet, p *corev1.Pod) bool {
	ord := ordinalOf(p)
	if ord < 0 {
		return false
	}
	vols := map[string]*corev1.Volume{}
	for i := range p.Spec.Volumes {
		vols[p.Spec.Volumes[i].Name] = &p.Spec.Volumes[i]
	}
	for i := range set.Spec.VolumeClaimTemplates {
		c := &set.Spec.VolumeClaimTemplates[i]
		v := vols[c.Name]
		if v == nil || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != claimName(set, c, ord) {
			return false
		}
	}
	return true
}

// newClaims returns the claims of ordinal ord, labelled with the
// template's labels and the set's selector labels.
func newClaims(set *appsv1.StatefulSet, ord int) []*corev1.PersistentVolumeClaim {
	var out []*corev1.PersistentVolumeClaim
	for i := range set.Spec.VolumeClaimTemplates {
		t := &set.Spec.VolumeClaimTemplates[i]
		c := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{
				Name:        claimName(set, t, ord),
				Namespace:   set.Namespace,
				Labels:      maps.Clone(t.Labels),
				Annotations: maps.Clone(t.Annotations),
			},
			Spec: *t.Spec.DeepCopy(),
		}
		if set.Spec.Selector != nil && len(set.Spec.Selector.MatchLabels) > 0 {
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			maps.Copy(c.Labels, set.Spec.Selector.MatchLabels)
		}
		out = append(out, c)
	}
	return out
}

// retentionPolicy returns set's policy with upstream's defaults (Retain).
func retentionPolicy(set *appsv1.StatefulSet) appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy {
	p := appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
		WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
	}
	if r := set.Spec.PersistentVolumeClaimRetentionPolicy; r != nil {
		if r.WhenDeleted != "" {
			p.WhenDeleted = r.WhenDeleted
		}
		if r.WhenScaled != "" {
			p.WhenScaled = r.WhenScaled
		}
	}
	return p
}

// claimOwners returns the ownerReferences a claim of pod p should have
// under set's retention policy, as upstream: whenScaled=Delete makes a
// pod beyond the range (being scaled away) the owner of its claims, so
// that the garbage collector deletes them with it; otherwise
// whenDeleted=Delete makes the set their owner, so that they go with the
// set. References to anything else are kept. p may be nil for a pod not
// yet created (no pod reference is then wanted or possible). changed
// reports whether refs differ from the claim's.
func claimOwners(set *appsv1.StatefulSet, p *corev1.Pod, claim *corev1.PersistentVolumeClaim) (refs []metav1.OwnerReference, changed bool) {
	policy := retentionPolicy(set)
	scaledDown := p != nil && !inRange(set, ordinalOf(p))
	wantPod := policy.WhenScaled == appsv1.DeletePersistentVolumeClaimRetentionPolicyType && scaledDown
	wantSet := policy.WhenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType && !wantPod
	hasSet, hasPod := false, false
	for _, r := range claim.OwnerReferences {
		switch {
		case r.UID == set.UID:
			hasSet = true
			if wantSet {
				refs = append(refs, r)
			}
		case p != nil && r.UID == p.UID:
			hasPod = true
			if wantPod {
				refs = append(refs, r)
			}
		default:
			refs = append(refs, r)
		}
	}
	if wantSet && !hasSet {
		refs = append(refs, metav1.OwnerReference{APIVersion: setKind.GroupVersion().String(), Kind: setKind.Kind, Name: set.Name, UID: set.UID})
	}
	if wantPod && !hasPod {
		refs = append(refs, metav1.OwnerReference{APIVersion: podKind.GroupVersion().String(), Kind: podKind.Kind, Name: p.Name, UID: p.UID})
	}
	return refs, hasSet != wantSet || hasPod != wantPod
}

// Pod states, as upstream's StatefulSet controller reads them.

func isCreated(p *corev1.Pod) bool     { return p.Status.Phase != "" }
func isTerminating(p *corev1.Pod) bool { return p.DeletionTimestamp != nil }
func isPending(p *corev1.Pod) bool     { return p.Status.Phase == corev1.PodPending }
func isFinished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded
}

func readyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// isRunningAndReady: phase Running with the Ready condition True.
func isRunningAndReady(p *corev1.Pod) bool {
	c := readyCondition(p)
	return p.Status.Phase == corev1.PodRunning && c != nil && c.Status == corev1.ConditionTrue
}

// isAvailable: running and ready for at least minReadySeconds at now.
func isAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	if !isRunningAndReady(p) {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	c := readyCondition(p)
	return !c.LastTransitionTime.IsZero() && !c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).After(now)
}

// isUnavailable: not created, terminating, or not available.
func isUnavailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	return !isCreated(p) || isTerminating(p) || !isAvailable(p, minReadySeconds, now)
}
