package daemonset

import (
	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"berth.dev/berth/internal/scheduler/plugins"
)

// defaultTolerations are the tolerations upstream gives every DaemonSet
// pod: it stays through node trouble (NoExecute, without a time limit)
// and is placed on nodes under pressure or cordoned.
var defaultTolerations = []corev1.Toleration{
	{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
}

// hostNetworkToleration is added for pods on the host's network, which
// need no pod network.
var hostNetworkToleration = corev1.Toleration{Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}

// addDefaultTolerations adds the default tolerations to spec, replacing
// a toleration with the same key, operator, value and effect, as
// upstream's AddOrUpdateDaemonPodTolerations.
func addDefaultTolerations(spec *corev1.PodSpec) {
	for _, t := range defaultTolerations {
		addToleration(spec, t)
	}
	if spec.HostNetwork {
		addToleration(spec, hostNetworkToleration)
	}
}

func addToleration(spec *corev1.PodSpec, t corev1.Toleration) {
	for i := range spec.Tolerations {
		if t.MatchToleration(&spec.Tolerations[i]) {
			if !apiequality.Semantic.DeepEqual(t, spec.Tolerations[i]) {
				spec.Tolerations[i] = t
			}
			return
		}
	}
	spec.Tolerations = append(spec.Tolerations, t)
}

// pinToNode returns affinity with its required node affinity replaced by
// one term matching only nodeName by metadata.name, as upstream does for
// DaemonSet pods (the controller has already checked the rest).
func pinToNode(affinity *corev1.Affinity, nodeName string) *corev1.Affinity {
	a := affinity.DeepCopy()
	if a == nil {
		a = &corev1.Affinity{}
	}
	if a.NodeAffinity == nil {
		a.NodeAffinity = &corev1.NodeAffinity{}
	}
	a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{
			{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{nodeName}},
		}}},
	}
	return a
}

// targetNode returns the node a DaemonSet pod is for: its spec.nodeName,
// or the one node its required affinity names by metadata.name; "" if
// neither.
func targetNode(p *corev1.Pod) string {
	if p.Spec.NodeName != "" {
		return p.Spec.NodeName
	}
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range term.MatchFields {
			if f.Key == metav1.ObjectNameField && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}

// placement decides which nodes a DaemonSet's pods belong on.
type placement struct {
	// pod is the DaemonSet's pod as the controller would make it, without a
	// node: its nodeSelector, affinity and tolerations (with the defaults).
	pod *corev1.Pod
}

func newPlacement(ds *appsv1.DaemonSet) placement {
	p := &corev1.Pod{Spec: *ds.Spec.Template.Spec.DeepCopy()}
	addDefaultTolerations(&p.Spec)
	return placement{pod: p}
}

// check reports whether a pod should run on node (run) and whether one
// already there may stay (keep), as upstream's NodeShouldRunDaemonPod: a
// node the template's nodeName, nodeSelector or required node affinity
// excludes gets none; one with a NoSchedule or NoExecute taint the pod
// does not tolerate gets no new pod, and an existing one stays unless a
// NoExecute taint is untolerated.
func (pl placement) check(node *corev1.Node) (run, keep bool) {
	if n := pl.pod.Spec.NodeName; n != "" && n != node.Name {
		return false, false
	}
	if !plugins.RequiredNodeAffinityMatches(pl.pod, node) {
		return false, false
	}
	untolerated := false
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute || pl.tolerates(t) {
			continue
		}
		if t.Effect == corev1.TaintEffectNoExecute {
			return false, false
		}
		untolerated = true
	}
	return !untolerated, true
}

func (pl placement) tolerates(t *corev1.Taint) bool {
	for i := range pl.pod.Spec.Tolerations {
		if pl.pod.Spec.Tolerations[i].ToleratesTaint(logr.Discard(), t, false) {
			return true
		}
	}
	return false
}
