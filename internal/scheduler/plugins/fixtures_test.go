package plugins

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// podBuilder builds test pods: newPod("a").req("cpu", "1").obj().
type podBuilder struct{ p *v1.Pod }

func newPod(name string) *podBuilder {
	return &podBuilder{p: &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c"}}},
	}}
}

func resourceList(kv ...string) v1.ResourceList {
	rl := v1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		rl[v1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return rl
}

// req sets the requests of the first container.
func (b *podBuilder) req(kv ...string) *podBuilder {
	b.p.Spec.Containers[0].Resources.Requests = resourceList(kv...)
	return b
}

func (b *podBuilder) container(kv ...string) *podBuilder {
	b.p.Spec.Containers = append(b.p.Spec.Containers, v1.Container{
		Name: fmt.Sprintf("c%d", len(b.p.Spec.Containers)), Resources: v1.ResourceRequirements{Requests: resourceList(kv...)}})
	return b
}

func (b *podBuilder) initContainer(sidecar bool, kv ...string) *podBuilder {
	c := v1.Container{Name: fmt.Sprintf("i%d", len(b.p.Spec.InitContainers)), Resources: v1.ResourceRequirements{Requests: resourceList(kv...)}}
	if sidecar {
		always := v1.ContainerRestartPolicyAlways
		c.RestartPolicy = &always
	}
	b.p.Spec.InitContainers = append(b.p.Spec.InitContainers, c)
	return b
}

func (b *podBuilder) overhead(kv ...string) *podBuilder {
	b.p.Spec.Overhead = resourceList(kv...)
	return b
}

func (b *podBuilder) hostPort(port int32, proto v1.Protocol, ip string) *podBuilder {
	c := &b.p.Spec.Containers[0]
	c.Ports = append(c.Ports, v1.ContainerPort{ContainerPort: port, HostPort: port, Protocol: proto, HostIP: ip})
	return b
}

func (b *podBuilder) toleration(key string, op v1.TolerationOperator, value string, effect v1.TaintEffect) *podBuilder {
	b.p.Spec.Tolerations = append(b.p.Spec.Tolerations, v1.Toleration{Key: key, Operator: op, Value: value, Effect: effect})
	return b
}

func (b *podBuilder) nodeSelector(kv ...string) *podBuilder {
	b.p.Spec.NodeSelector = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		b.p.Spec.NodeSelector[kv[i]] = kv[i+1]
	}
	return b
}

func (b *podBuilder) nodeAffinity(na *v1.NodeAffinity) *podBuilder {
	b.p.Spec.Affinity = &v1.Affinity{NodeAffinity: na}
	return b
}

func (b *podBuilder) nodeName(n string) *podBuilder {
	b.p.Spec.NodeName = n
	return b
}

func (b *podBuilder) priority(p int32) *podBuilder {
	b.p.Spec.Priority = &p
	return b
}

func (b *podBuilder) preemptNever() *podBuilder {
	never := v1.PreemptNever
	b.p.Spec.PreemptionPolicy = &never
	return b
}

func (b *podBuilder) obj() *v1.Pod { return b.p }

// nodeBuilder builds ready test nodes with 110 pods allocatable:
// newNode("n1").alloc("cpu", "2").obj().
type nodeBuilder struct{ n *v1.Node }

func newNode(name string) *nodeBuilder {
	return &nodeBuilder{n: &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: v1.NodeStatus{
			Allocatable: resourceList("pods", "110"),
			Conditions:  []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
		},
	}}
}

func (b *nodeBuilder) alloc(kv ...string) *nodeBuilder {
	for k, v := range resourceList(kv...) {
		b.n.Status.Allocatable[k] = v
	}
	return b
}

func (b *nodeBuilder) label(k, v string) *nodeBuilder {
	b.n.Labels[k] = v
	return b
}

func (b *nodeBuilder) taint(key, value string, effect v1.TaintEffect) *nodeBuilder {
	b.n.Spec.Taints = append(b.n.Spec.Taints, v1.Taint{Key: key, Value: value, Effect: effect})
	return b
}

func (b *nodeBuilder) unschedulable() *nodeBuilder {
	b.n.Spec.Unschedulable = true
	return b
}

func (b *nodeBuilder) ready(s v1.ConditionStatus) *nodeBuilder {
	if s == "" {
		b.n.Status.Conditions = nil
		return b
	}
	b.n.Status.Conditions[0].Status = s
	return b
}

func (b *nodeBuilder) obj() *v1.Node { return b.n }
