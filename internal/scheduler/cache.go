package scheduler

import (
	"fmt"
	"slices"
	"sort"
	"sync"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"berth.dev/berth/internal/scheduler/framework"
)

// cache is the scheduler's view of nodes and the pods assigned to them:
// those the informer reports, plus pods the scheduler assumed (decided
// and is binding) but the informer has not shown bound yet, so that a
// burst of pods does not overfill a node.
//
// NodeInfos are copy-on-write: a change replaces a node's NodeInfo with an
// updated clone, so a Snapshot taken earlier stays valid and unlocked.
type cache struct {
	mu sync.Mutex // guards the fields below
	// nodes by name; a NodeInfo with a nil Node holds pods of a node the
	// informer has not reported (or has deleted).
	nodes map[string]*framework.NodeInfo
	// pods by UID: the node each known pod is on and whether it is only
	// assumed.
	pods map[types.UID]cachedPod
	// snap is the current snapshot, nil when the set of nodes changed;
	// snapIndex maps node names to their positions in it.
	snap      *framework.Snapshot
	snapIndex map[string]int
}

type cachedPod struct {
	pod     *v1.Pod
	assumed bool
}

func newCache() *cache {
	return &cache{nodes: map[string]*framework.NodeInfo{}, pods: map[types.UID]cachedPod{}}
}

// editLocked replaces node name's NodeInfo by a clone changed by f, and
// drops it if it ends with neither node nor pods.
func (c *cache) editLocked(name string, f func(*framework.NodeInfo)) {
	var n *framework.NodeInfo
	if old, ok := c.nodes[name]; ok {
		n = old.Clone()
	} else {
		n = framework.NewNodeInfo(nil)
	}
	hadNode := c.nodes[name] != nil && c.nodes[name].Node != nil
	f(n)
	if n.Node == nil && len(n.Pods) == 0 {
		delete(c.nodes, name)
	} else {
		c.nodes[name] = n
	}
	switch {
	case c.snap == nil:
	case hadNode && n.Node != nil:
		// Same nodes: a new snapshot differing in one entry, in O(nodes)
		// rather than a sort.
		nodes := slices.Clone(c.snap.Nodes)
		nodes[c.snapIndex[name]] = n
		c.snap = &framework.Snapshot{Nodes: nodes}
	case hadNode || n.Node != nil:
		c.snap = nil
	}
}

// SetNode adds or updates a node.
func (c *cache) SetNode(node *v1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.editLocked(node.Name, func(n *framework.NodeInfo) { n.SetNode(node) })
}

// DeleteNode removes a node; its pods stay known until they are deleted.
func (c *cache) DeleteNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.editLocked(name, func(n *framework.NodeInfo) { n.SetNode(nil) })
}

// removePodLocked forgets the pod with uid and reports whether it was known.
func (c *cache) removePodLocked(uid types.UID) bool {
	cp, ok := c.pods[uid]
	if !ok {
		return false
	}
	delete(c.pods, uid)
	c.editLocked(cp.pod.Spec.NodeName, func(n *framework.NodeInfo) { n.RemovePod(string(uid)) })
	return true
}

// addPodLocked records pod on its node.
func (c *cache) addPodLocked(pod *v1.Pod, assumed bool) {
	c.pods[pod.UID] = cachedPod{pod: pod, assumed: assumed}
	c.editLocked(pod.Spec.NodeName, func(n *framework.NodeInfo) { n.AddPod(framework.NewPodInfo(pod)) })
}

// SetPod records an assigned pod reported by the informer, confirming it
// if it was assumed, and reports whether it was not confirmed before.
func (c *cache) SetPod(pod *v1.Pod) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, known := c.pods[pod.UID]
	c.removePodLocked(pod.UID)
	c.addPodLocked(pod, false)
	return !known || old.assumed
}

// DeletePod forgets a pod that was deleted or has finished, assumed or
// not, and reports whether it was known.
func (c *cache) DeletePod(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.removePodLocked(uid)
}

// Assume records pod, with spec.nodeName set, as placed before the
// binding is confirmed.
func (c *cache) Assume(pod *v1.Pod) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pods[pod.UID]; ok {
		return fmt.Errorf("pod %s/%s (%s) is already in the cache", pod.Namespace, pod.Name, pod.UID)
	}
	c.addPodLocked(pod, true)
	return nil
}

// Forget drops an assumed pod whose binding failed; a pod the informer
// has confirmed meanwhile stays.
func (c *cache) Forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp, ok := c.pods[uid]; ok && cp.assumed {
		c.removePodLocked(uid)
	}
}

// Has reports whether the pod with uid is known to be placed,
// assumed or confirmed.
func (c *cache) Has(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.pods[uid]
	return ok
}

// Snapshot returns the known nodes sorted by name. The result is shared
// and must not be modified.
func (c *cache) Snapshot() *framework.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snap == nil {
		snap := &framework.Snapshot{Nodes: make([]*framework.NodeInfo, 0, len(c.nodes))}
		for _, n := range c.nodes {
			if n.Node != nil {
				snap.Nodes = append(snap.Nodes, n)
			}
		}
		sort.Slice(snap.Nodes, func(i, j int) bool { return snap.Nodes[i].Name() < snap.Nodes[j].Name() })
		c.snapIndex = make(map[string]int, len(snap.Nodes))
		for i, n := range snap.Nodes {
			c.snapIndex[n.Name()] = i
		}
		c.snap = snap
	}
	return c.snap
}
