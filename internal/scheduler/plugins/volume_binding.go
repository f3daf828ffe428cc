package plugins

import (
	"context"
	"fmt"
	"slices"

	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"

	"berth.dev/berth/internal/scheduler/framework"
)

// The reasons VolumeBinding gives, as upstream.
const (
	ReasonVolumeNodeConflict     = "node(s) had volume node affinity conflict"
	ReasonVolumeBindConflict     = "node(s) didn't find available persistent volumes to bind"
	ReasonUnboundImmediateClaims = "pod has unbound immediate PersistentVolumeClaims"
)

// AnnSelectedNode is the annotation the scheduler sets on an unbound claim
// of a WaitForFirstConsumer class to ask for a volume on that node.
const AnnSelectedNode = "volume.kubernetes.io/selected-node"

// noProvisioner is the provisioner of classes that only bind existing
// volumes.
const noProvisioner = "kubernetes.io/no-provisioner"

// VolumeBinding places pods with PersistentVolumeClaims, as upstream's
// plugin of the same name without storage capacity: a bound claim's volume
// must allow the node (its nodeAffinity); an unbound claim of a
// WaitForFirstConsumer class needs, on the node, an available matching
// volume or a provisioner whose class allows the node's topology; unbound
// claims of other classes keep the pod waiting. The writes (pre-binding a
// volume, selecting the node for provisioning) are the scheduler's, from
// Decide.
type VolumeBinding struct {
	Claims         corelisters.PersistentVolumeClaimLister
	Volumes        corelisters.PersistentVolumeLister
	StorageClasses storagelisters.StorageClassLister
}

var (
	_ framework.PreFilterPlugin = (*VolumeBinding)(nil)
	_ framework.FilterPlugin    = (*VolumeBinding)(nil)
)

const volumeBindingKey = "berth.dev/VolumeBinding"

// Name returns "VolumeBinding".
func (*VolumeBinding) Name() string { return "VolumeBinding" }

// podClaims are a pod's claims, sorted by state.
type podClaims struct {
	bound []*v1.PersistentVolume
	// delayed are the unbound claims of WaitForFirstConsumer classes.
	delayed []*v1.PersistentVolumeClaim
}

// ClaimNames returns the names of the claims pod uses: its
// persistentVolumeClaim volumes and the claims of its generic ephemeral
// volumes (<pod>-<volume>).
func ClaimNames(pod *v1.Pod) []string {
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

// claims reads pod's claims; a status explains a claim that keeps the pod
// off every node.
func (p *VolumeBinding) claims(pod *v1.Pod) (*podClaims, *framework.Status) {
	pc := &podClaims{}
	for _, name := range ClaimNames(pod) {
		claim, err := p.Claims.PersistentVolumeClaims(pod.Namespace).Get(name)
		if apierrors.IsNotFound(err) {
			return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, fmt.Sprintf("persistentvolumeclaim %q not found", name))
		}
		if err != nil {
			return nil, framework.NewStatus(framework.Error, err.Error())
		}
		if claim.DeletionTimestamp != nil {
			return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, fmt.Sprintf("persistentvolumeclaim %q is being deleted", name))
		}
		if claim.Spec.VolumeName != "" {
			pv, err := p.Volumes.Get(claim.Spec.VolumeName)
			if err != nil {
				return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable,
					fmt.Sprintf("persistentvolumeclaim %q bound to non-existent persistentvolume %q", name, claim.Spec.VolumeName))
			}
			pc.bound = append(pc.bound, pv)
			continue
		}
		class := claimClass(claim)
		sc, err := p.StorageClasses.Get(class)
		if err != nil || sc.VolumeBindingMode == nil || *sc.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
			return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonUnboundImmediateClaims)
		}
		pc.delayed = append(pc.delayed, claim)
	}
	return pc, nil
}

func claimClass(claim *v1.PersistentVolumeClaim) string {
	if claim.Spec.StorageClassName != nil {
		return *claim.Spec.StorageClassName
	}
	return claim.Annotations[v1.BetaStorageClassAnnotation]
}

// PreFilter reads the pod's claims once for the cycle.
func (p *VolumeBinding) PreFilter(_ context.Context, state *framework.CycleState, pod *v1.Pod, _ *framework.Snapshot) *framework.Status {
	if len(ClaimNames(pod)) == 0 {
		state.Write(volumeBindingKey, &podClaims{})
		return nil
	}
	pc, st := p.claims(pod)
	if st != nil {
		return st
	}
	state.Write(volumeBindingKey, pc)
	return nil
}

// Filter implements framework.FilterPlugin.
func (p *VolumeBinding) Filter(_ context.Context, state *framework.CycleState, pod *v1.Pod, n *framework.NodeInfo) *framework.Status {
	var pc *podClaims
	if v, ok := state.Read(volumeBindingKey); ok {
		pc = v.(*podClaims)
	} else if len(ClaimNames(pod)) > 0 {
		var st *framework.Status
		if pc, st = p.claims(pod); st != nil {
			return st
		}
	} else {
		return nil
	}
	if n.Node == nil {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonNodeUnknown)
	}
	for _, pv := range pc.bound {
		if !VolumeAllowsNode(pv, n.Node) {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonVolumeNodeConflict)
		}
	}
	if len(pc.delayed) == 0 {
		return nil
	}
	if _, err := p.decide(pc.delayed, n.Node); err != nil {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonVolumeBindConflict)
	}
	return nil
}

// VolumeAllowsNode reports whether pv's node affinity admits node (a
// volume without one admits every node).
func VolumeAllowsNode(pv *v1.PersistentVolume, node *v1.Node) bool {
	na := pv.Spec.NodeAffinity
	if na == nil || na.Required == nil {
		return true
	}
	for i := range na.Required.NodeSelectorTerms {
		if termMatches(&na.Required.NodeSelectorTerms[i], node) {
			return true
		}
	}
	return false
}

// classAllowsNode reports whether sc's allowedTopologies admit node.
func classAllowsNode(sc *storagev1.StorageClass, node *v1.Node) bool {
	if len(sc.AllowedTopologies) == 0 {
		return true
	}
	for _, term := range sc.AllowedTopologies {
		all := true
		for _, e := range term.MatchLabelExpressions {
			val, ok := node.Labels[e.Key]
			if !ok || !slices.Contains(e.Values, val) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// VolumeDecision is what placing a pod on a node takes for its unbound
// claims: volumes to pre-bind to claims (the PV's claimRef) and claims
// to provision for the node (the selected-node annotation).
type VolumeDecision struct {
	Bind      map[*v1.PersistentVolumeClaim]*v1.PersistentVolume
	Provision []*v1.PersistentVolumeClaim
}

// Decide returns what binding pod's unbound WaitForFirstConsumer claims on
// node takes, or an error when they cannot be satisfied there.
func (p *VolumeBinding) Decide(pod *v1.Pod, node *v1.Node) (VolumeDecision, error) {
	pc, st := p.claims(pod)
	if st != nil {
		return VolumeDecision{}, fmt.Errorf("%s", st.Message())
	}
	return p.decide(pc.delayed, node)
}

// decide matches each claim with an available volume on node (the
// smallest that fits), else with provisioning: a claim already selected
// for another node, or whose class cannot provision for node, fails.
func (p *VolumeBinding) decide(claims []*v1.PersistentVolumeClaim, node *v1.Node) (VolumeDecision, error) {
	d := VolumeDecision{Bind: map[*v1.PersistentVolumeClaim]*v1.PersistentVolume{}}
	if len(claims) == 0 {
		return d, nil
	}
	pvs, err := p.Volumes.List(labels.Everything())
	if err != nil {
		return d, err
	}
	taken := map[string]bool{}
	for _, claim := range claims {
		if sel, ok := claim.Annotations[AnnSelectedNode]; ok {
			if sel != node.Name {
				return d, fmt.Errorf("claim %q is selected for node %q", claim.Name, sel)
			}
		} else if pv := bestVolume(claim, pvs, node, taken); pv != nil {
			taken[pv.Name] = true
			d.Bind[claim] = pv
			continue
		}
		sc, err := p.StorageClasses.Get(claimClass(claim))
		if err != nil {
			return d, err
		}
		if sc.Provisioner == "" || sc.Provisioner == noProvisioner || !classAllowsNode(sc, node) {
			return d, fmt.Errorf("no volume for claim %q on node %q", claim.Name, node.Name)
		}
		d.Provision = append(d.Provision, claim)
	}
	return d, nil
}

// bestVolume returns the volume on node already pre-bound to claim, or
// else the smallest Available one of claim's class that its selector
// selects and that satisfies its request, access modes and volume mode.
func bestVolume(claim *v1.PersistentVolumeClaim, pvs []*v1.PersistentVolume, node *v1.Node, taken map[string]bool) *v1.PersistentVolume {
	var best *v1.PersistentVolume
	want := claim.Spec.Resources.Requests[v1.ResourceStorage]
	for _, pv := range pvs {
		if taken[pv.Name] || pv.DeletionTimestamp != nil || !VolumeAllowsNode(pv, node) {
			continue
		}
		if ref := pv.Spec.ClaimRef; ref != nil && ref.Namespace == claim.Namespace && ref.Name == claim.Name && (ref.UID == "" || ref.UID == claim.UID) {
			return pv
		}
		// As upstream, only Available volumes are taken: others are about to
		// change, and binding them would meet conflicts.
		if pv.Spec.ClaimRef != nil || pv.Status.Phase != v1.VolumeAvailable || pv.Spec.StorageClassName != claimClass(claim) ||
			!volumeModeMatches(pv, claim) || !hasAccessModes(pv, claim) || !claimSelects(claim, pv) {
			continue
		}
		size := pv.Spec.Capacity[v1.ResourceStorage]
		if size.Cmp(want) < 0 {
			continue
		}
		if best == nil {
			best = pv
		} else if bs := best.Spec.Capacity[v1.ResourceStorage]; size.Cmp(bs) < 0 {
			best = pv
		}
	}
	return best
}

// claimSelects reports whether claim's selector (none selects all)
// selects pv's labels.
func claimSelects(claim *v1.PersistentVolumeClaim, pv *v1.PersistentVolume) bool {
	if claim.Spec.Selector == nil {
		return true
	}
	sel, err := metav1.LabelSelectorAsSelector(claim.Spec.Selector)
	return err == nil && sel.Matches(labels.Set(pv.Labels))
}

func volumeModeMatches(pv *v1.PersistentVolume, claim *v1.PersistentVolumeClaim) bool {
	mode := func(m *v1.PersistentVolumeMode) v1.PersistentVolumeMode {
		if m == nil {
			return v1.PersistentVolumeFilesystem
		}
		return *m
	}
	return mode(pv.Spec.VolumeMode) == mode(claim.Spec.VolumeMode)
}

func hasAccessModes(pv *v1.PersistentVolume, claim *v1.PersistentVolumeClaim) bool {
	for _, m := range claim.Spec.AccessModes {
		if !slices.Contains(pv.Spec.AccessModes, m) {
			return false
		}
	}
	return true
}
