package framework

import (
	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// HostPort is one host port a pod uses. An empty or unspecified IP
// is stored as "0.0.0.0", an empty protocol as TCP.
type HostPort struct {
	IP       string
	Protocol v1.Protocol
	Port     int32
}

const anyIP = "0.0.0.0"

// Conflicts reports whether p and o cannot both be bound on one node: same
// port and protocol, and the same IP or either on every address.
func (p HostPort) Conflicts(o HostPort) bool {
	return p.Port == o.Port && p.Protocol == o.Protocol &&
		(p.IP == o.IP || p.IP == anyIP || o.IP == anyIP)
}

// PodHostPorts returns the host ports pod asks for: those of its containers
// and of its restartable (sidecar) init containers.
func PodHostPorts(pod *v1.Pod) []HostPort {
	var out []HostPort
	add := func(cs []v1.Container, sidecarsOnly bool) {
		for i := range cs {
			c := &cs[i]
			if sidecarsOnly && (c.RestartPolicy == nil || *c.RestartPolicy != v1.ContainerRestartPolicyAlways) {
				continue
			}
			for _, p := range c.Ports {
				if p.HostPort <= 0 {
					continue
				}
				hp := HostPort{IP: p.HostIP, Protocol: p.Protocol, Port: p.HostPort}
				if hp.IP == "" || hp.IP == "::" {
					hp.IP = anyIP
				}
				if hp.Protocol == "" {
					hp.Protocol = v1.ProtocolTCP
				}
				out = append(out, hp)
			}
		}
	}
	add(pod.Spec.InitContainers, true)
	add(pod.Spec.Containers, false)
	return out
}

// PodInfo is a pod with the figures the scheduler derives from it.
type PodInfo struct {
	Pod *v1.Pod
	// Requested is PodRequests(Pod, false); NonZeroRequested with nonZero.
	Requested, NonZeroRequested Resource
	Ports                       []HostPort
	// The pod's parsed pod affinity and anti-affinity terms.
	RequiredAffinity, PreferredAffinity, RequiredAntiAffinity, PreferredAntiAffinity []AffinityTerm
}

// NewPodInfo computes pod's PodInfo.
func NewPodInfo(pod *v1.Pod) *PodInfo {
	pi := &PodInfo{
		Pod:              pod,
		Requested:        PodRequests(pod, false),
		NonZeroRequested: PodRequests(pod, true),
		Ports:            PodHostPorts(pod),
	}
	pi.parseAffinity()
	return pi
}

// NodeInfo is a node with the pods placed on it and their totals. A
// NodeInfo in a Snapshot is never modified; the cache replaces it with an
// updated Clone instead, so snapshots can be read without locks.
type NodeInfo struct {
	Node *v1.Node
	// Pods on the node, in the order they were added.
	Pods []*PodInfo
	// Allocatable is the node's status.allocatable.
	Allocatable Resource
	// Requested sums the pods' requests; NonZeroRequested their non-zero
	// requests, used for scoring.
	Requested, NonZeroRequested Resource
	// UsedPorts are the host ports of the pods.
	UsedPorts []HostPort
	// PodsWithAffinity are the pods with any pod (anti-)affinity term;
	// PodsWithRequiredAntiAffinity those with a required anti-affinity term.
	PodsWithAffinity, PodsWithRequiredAntiAffinity []*PodInfo
}

// NewNodeInfo returns a NodeInfo for node (which may be nil while only its
// pods are known) holding pods.
func NewNodeInfo(node *v1.Node, pods ...*v1.Pod) *NodeInfo {
	n := &NodeInfo{}
	n.SetNode(node)
	for _, p := range pods {
		n.AddPod(NewPodInfo(p))
	}
	return n
}

// SetNode sets the node and its allocatable.
func (n *NodeInfo) SetNode(node *v1.Node) {
	n.Node = node
	n.Allocatable = Resource{}
	if node != nil {
		n.Allocatable = NewResource(node.Status.Allocatable)
	}
}

// Name returns the node's name, or "" when the node is not known.
func (n *NodeInfo) Name() string {
	if n.Node == nil {
		return ""
	}
	return n.Node.Name
}

// AddPod adds a pod and its totals.
func (n *NodeInfo) AddPod(pi *PodInfo) {
	n.Pods = append(n.Pods, pi)
	n.Requested.AddResource(pi.Requested)
	n.NonZeroRequested.AddResource(pi.NonZeroRequested)
	n.UsedPorts = append(n.UsedPorts, pi.Ports...)
	if pi.HasAffinity() {
		n.PodsWithAffinity = append(n.PodsWithAffinity, pi)
	}
	if len(pi.RequiredAntiAffinity) > 0 {
		n.PodsWithRequiredAntiAffinity = append(n.PodsWithRequiredAntiAffinity, pi)
	}
}

// RemovePod removes the pod with uid and reports whether it was there.
func (n *NodeInfo) RemovePod(uid string) bool {
	for i, pi := range n.Pods {
		if string(pi.Pod.UID) != uid {
			continue
		}
		n.Pods = append(n.Pods[:i:i], n.Pods[i+1:]...)
		n.Requested.SubResource(pi.Requested)
		n.NonZeroRequested.SubResource(pi.NonZeroRequested)
		n.UsedPorts = n.UsedPorts[:0:0]
		n.PodsWithAffinity = n.PodsWithAffinity[:0:0]
		n.PodsWithRequiredAntiAffinity = n.PodsWithRequiredAntiAffinity[:0:0]
		for _, p := range n.Pods {
			n.UsedPorts = append(n.UsedPorts, p.Ports...)
			if p.HasAffinity() {
				n.PodsWithAffinity = append(n.PodsWithAffinity, p)
			}
			if len(p.RequiredAntiAffinity) > 0 {
				n.PodsWithRequiredAntiAffinity = append(n.PodsWithRequiredAntiAffinity, p)
			}
		}
		return true
	}
	return false
}

// Clone returns a copy that can be changed without affecting n. Pods are
// shared: they are never modified.
func (n *NodeInfo) Clone() *NodeInfo {
	return &NodeInfo{
		Node:                         n.Node,
		Pods:                         append([]*PodInfo(nil), n.Pods...),
		Allocatable:                  n.Allocatable.Clone(),
		Requested:                    n.Requested.Clone(),
		NonZeroRequested:             n.NonZeroRequested.Clone(),
		UsedPorts:                    append([]HostPort(nil), n.UsedPorts...),
		PodsWithAffinity:             append([]*PodInfo(nil), n.PodsWithAffinity...),
		PodsWithRequiredAntiAffinity: append([]*PodInfo(nil), n.PodsWithRequiredAntiAffinity...),
	}
}

// Snapshot is the state of the cluster one scheduling cycle sees: the
// known nodes, in a stable order (by name). It is read-only.
type Snapshot struct {
	Nodes []*NodeInfo
	// Nominated holds, by node name, the pending pods nominated to run
	// there after preemption; filtering a pod counts those of at least
	// its priority as placed.
	Nominated map[string][]*PodInfo
	// PDBs are the PodDisruptionBudgets preemption tries not to violate.
	PDBs []*policyv1.PodDisruptionBudget
}

// withNominated returns n with the pods nominated to it that pod must
// leave room for (other pods of at least its priority) added, and those
// pods; n itself when there are none.
func (s *Snapshot) withNominated(n *NodeInfo, pod *v1.Pod) (*NodeInfo, []*PodInfo) {
	var added []*PodInfo
	for _, pi := range s.Nominated[n.Name()] {
		if pi.Pod.UID != pod.UID && PodPriority(pi.Pod) >= PodPriority(pod) {
			added = append(added, pi)
		}
	}
	if len(added) == 0 {
		return n, nil
	}
	out := n.Clone()
	for _, pi := range added {
		out.AddPod(pi)
	}
	return out, added
}
