package framework

import (
	v1 "k8s.io/api/core/v1"
)

// The requests assumed for a container that sets none, used only for
// scoring so that request-less pods still spread (as upstream).
const (
	DefaultMilliCPURequest int64 = 100
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024
)

// Resource is an amount of each schedulable resource: CPU in millicores,
// the rest in their base units. Pods is a count of pods (used for a node's
// allocatable). Scalar holds every other (extended, hugepages) resource.
type Resource struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	Pods             int64
	Scalar           map[v1.ResourceName]int64
}

// NewResource returns the sum of rl.
func NewResource(rl v1.ResourceList) Resource {
	var r Resource
	r.Add(rl)
	return r
}

// Add adds rl to r.
func (r *Resource) Add(rl v1.ResourceList) {
	for name, q := range rl {
		switch name {
		case v1.ResourceCPU:
			r.MilliCPU += q.MilliValue()
		case v1.ResourceMemory:
			r.Memory += q.Value()
		case v1.ResourceEphemeralStorage:
			r.EphemeralStorage += q.Value()
		case v1.ResourcePods:
			r.Pods += q.Value()
		default:
			r.setScalar(name, r.Scalar[name]+q.Value())
		}
	}
}

// AddResource adds o to r.
func (r *Resource) AddResource(o Resource) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	r.Pods += o.Pods
	for name, v := range o.Scalar {
		r.setScalar(name, r.Scalar[name]+v)
	}
}

// SubResource subtracts o from r.
func (r *Resource) SubResource(o Resource) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	r.Pods -= o.Pods
	for name, v := range o.Scalar {
		r.setScalar(name, r.Scalar[name]-v)
	}
}

// maxResource raises each amount in r to at least the one in o.
func (r *Resource) maxResource(o Resource) {
	r.MilliCPU = max(r.MilliCPU, o.MilliCPU)
	r.Memory = max(r.Memory, o.Memory)
	r.EphemeralStorage = max(r.EphemeralStorage, o.EphemeralStorage)
	r.Pods = max(r.Pods, o.Pods)
	for name, v := range o.Scalar {
		r.setScalar(name, max(r.Scalar[name], v))
	}
}

func (r *Resource) setScalar(name v1.ResourceName, v int64) {
	if r.Scalar == nil {
		r.Scalar = map[v1.ResourceName]int64{}
	}
	r.Scalar[name] = v
}

// Clone returns a deep copy of r.
func (r Resource) Clone() Resource {
	c := r
	c.Scalar = nil
	for name, v := range r.Scalar {
		c.setScalar(name, v)
	}
	return c
}

// PodRequests returns what pod asks a node for, computed as upstream's
// resource helper does: the sum of the app containers and restartable
// (sidecar) init containers, raised to the largest regular init container
// plus the sidecars started before it, then pod-level requests for cpu and
// memory where set, plus the pod overhead. With nonZero, a container that
// requests no cpu or memory counts as DefaultMilliCPURequest and
// DefaultMemoryRequest (for scoring).
func PodRequests(pod *v1.Pod, nonZero bool) Resource {
	podLevel := pod.Spec.Resources != nil && len(pod.Spec.Resources.Requests) > 0
	containerReqs := func(c *v1.Container) Resource {
		r := NewResource(c.Resources.Requests)
		if nonZero && !podLevel {
			if _, ok := c.Resources.Requests[v1.ResourceCPU]; !ok {
				r.MilliCPU = DefaultMilliCPURequest
			}
			if _, ok := c.Resources.Requests[v1.ResourceMemory]; !ok {
				r.Memory = DefaultMemoryRequest
			}
		}
		return r
	}
	var reqs Resource
	for i := range pod.Spec.Containers {
		reqs.AddResource(containerReqs(&pod.Spec.Containers[i]))
	}
	var sidecars, initMax Resource
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		r := containerReqs(c)
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			reqs.AddResource(r)
			sidecars.AddResource(r)
			r = sidecars.Clone()
		} else {
			r.AddResource(sidecars)
		}
		initMax.maxResource(r)
	}
	reqs.maxResource(initMax)
	if podLevel {
		for _, name := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory} {
			q, ok := pod.Spec.Resources.Requests[name]
			switch {
			case ok && name == v1.ResourceCPU:
				reqs.MilliCPU = q.MilliValue()
			case ok:
				reqs.Memory = q.Value()
			case nonZero && name == v1.ResourceCPU:
				reqs.MilliCPU = DefaultMilliCPURequest
			case nonZero:
				reqs.Memory = DefaultMemoryRequest
			}
		}
	}
	reqs.Add(pod.Spec.Overhead)
	return reqs
}
