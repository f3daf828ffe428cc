package daemonset

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testDS() *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "ns", UID: "ds-uid"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType},
		},
	}
}

func testNode(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
}

func TestPlacementCheck(t *testing.T) {
	taint := func(key string, effect corev1.TaintEffect) corev1.Taint {
		return corev1.Taint{Key: key, Value: "v", Effect: effect}
	}
	tests := []struct {
		name      string
		change    func(*corev1.PodSpec)
		node      *corev1.Node
		run, keep bool
	}{
		{name: "plain node", node: testNode("n", nil), run: true, keep: true},
		{name: "nodeSelector matches", change: func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"role": "edge"} },
			node: testNode("n", map[string]string{"role": "edge"}), run: true, keep: true},
		{name: "nodeSelector misses", change: func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"role": "edge"} },
			node: testNode("n", nil)},
		{name: "required affinity misses", change: func(s *corev1.PodSpec) {
			s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpExists}}}}}}}
		}, node: testNode("n", nil)},
		{name: "nodeName elsewhere", change: func(s *corev1.PodSpec) { s.NodeName = "other" }, node: testNode("n", nil)},
		{name: "untolerated NoSchedule: no new pod, the old one stays", node: testNode("n", nil, taint("x", corev1.TaintEffectNoSchedule)), keep: true},
		{name: "untolerated NoExecute: none", node: testNode("n", nil, taint("x", corev1.TaintEffectNoExecute))},
		{name: "PreferNoSchedule is ignored", node: testNode("n", nil, taint("x", corev1.TaintEffectPreferNoSchedule)), run: true, keep: true},
		{name: "tolerated taints", change: func(s *corev1.PodSpec) {
			s.Tolerations = []corev1.Toleration{{Key: "x", Operator: corev1.TolerationOpEqual, Value: "v"}}
		}, node: testNode("n", nil, taint("x", corev1.TaintEffectNoExecute), taint("x", corev1.TaintEffectNoSchedule)), run: true, keep: true},
		{name: "a toleration with another value does not tolerate", change: func(s *corev1.PodSpec) {
			s.Tolerations = []corev1.Toleration{{Key: "x", Operator: corev1.TolerationOpEqual, Value: "w"}}
		}, node: testNode("n", nil, taint("x", corev1.TaintEffectNoSchedule)), keep: true},
		{name: "default tolerations: not-ready NoExecute", node: testNode("n", nil, taint(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute)), run: true, keep: true},
		{name: "default tolerations: unschedulable", node: testNode("n", nil, taint(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)), run: true, keep: true},
		{name: "default tolerations: not-ready NoSchedule is not among them",
			node: testNode("n", nil, taint(corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule)), keep: true},
		{name: "network-unavailable only for host network", node: testNode("n", nil, taint(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)), keep: true},
		{name: "network-unavailable tolerated on the host network", change: func(s *corev1.PodSpec) { s.HostNetwork = true },
			node: testNode("n", nil, taint(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)), run: true, keep: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := testDS()
			if tt.change != nil {
				tt.change(&ds.Spec.Template.Spec)
			}
			run, keep := newPlacement(ds).check(tt.node)
			if run != tt.run || keep != tt.keep {
				t.Errorf("check = %v, %v; want %v, %v", run, keep, tt.run, tt.keep)
			}
		})
	}
}

func TestAddDefaultTolerations(t *testing.T) {
	spec := corev1.PodSpec{Tolerations: []corev1.Toleration{
		{Key: "mine", Operator: corev1.TolerationOpExists},
		// Same key, operator, value and effect as a default: replaced (the time limit goes).
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(30))},
		// Another effect: kept beside the default.
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	}}
	addDefaultTolerations(&spec)
	want := []corev1.Toleration{
		{Key: "mine", Operator: corev1.TolerationOpExists},
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	}
	if diff := cmp.Diff(want, spec.Tolerations); diff != "" {
		t.Errorf("tolerations (-want +got):\n%s", diff)
	}
	addDefaultTolerations(&spec)
	if diff := cmp.Diff(want, spec.Tolerations); diff != "" {
		t.Errorf("adding twice changed them (-want +got):\n%s", diff)
	}
}

func TestPinToNodeAndTargetNode(t *testing.T) {
	preferred := []corev1.PreferredSchedulingTerm{{Weight: 1, Preference: corev1.NodeSelectorTerm{
		MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "fast", Operator: corev1.NodeSelectorOpExists}}}}}
	orig := &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpExists}}}}},
		PreferredDuringSchedulingIgnoredDuringExecution: preferred,
	}}
	got := pinToNode(orig, "n1")
	want := &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n1"}}}}}},
		PreferredDuringSchedulingIgnoredDuringExecution: preferred,
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pinToNode (-want +got):\n%s", diff)
	}
	if len(orig.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields) != 0 {
		t.Error("pinToNode modified its argument")
	}
	if n := pinToNode(nil, "n2"); targetNode(&corev1.Pod{Spec: corev1.PodSpec{Affinity: n}}) != "n2" {
		t.Errorf("targetNode of a pinned pod: %+v", n)
	}
	if n := targetNode(&corev1.Pod{Spec: corev1.PodSpec{NodeName: "bound", Affinity: pinToNode(nil, "n2")}}); n != "bound" {
		t.Errorf("targetNode of a bound pod = %q, want its nodeName", n)
	}
	if n := targetNode(&corev1.Pod{}); n != "" {
		t.Errorf("targetNode of a free pod = %q", n)
	}
}

func TestNewPod(t *testing.T) {
	ds := testDS()
	ds.Annotations = map[string]string{generationAnnotation: "4"}
	p := newPod(ds, "n1", "abc")
	if p.GenerateName != "agent-" || p.Namespace != "ns" || p.Name != "" {
		t.Errorf("names: %q %q %q", p.GenerateName, p.Namespace, p.Name)
	}
	if diff := cmp.Diff(map[string]string{"app": "agent", hashLabel: "abc", generationLabel: "4"}, p.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if targetNode(p) != "n1" || p.Spec.NodeName != "" {
		t.Errorf("pod for n1 targets %q, nodeName %q", targetNode(p), p.Spec.NodeName)
	}
	if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != "ds-uid" || ref.Kind != "DaemonSet" {
		t.Errorf("controller %+v", ref)
	}
	if len(ds.Spec.Template.Spec.Tolerations) != 0 || ds.Spec.Template.Labels[hashLabel] != "" {
		t.Error("newPod modified the template")
	}
}
