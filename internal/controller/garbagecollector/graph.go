package garbagecollector

import (
	"reflect"
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// objectID says where an observed object lives.
type objectID struct {
	Resource  schema.GroupVersionResource
	Namespace string
	Name      string
	UID       types.UID
}

// node is an observed object as the graph sees it. Nodes are values; their
// Owners and Finalizers slices are never modified after a node is built.
type node struct {
	ID         objectID
	Owners     []metav1.OwnerReference
	Deleting   bool // deletionTimestamp is set
	Finalizers []string
}

// deletingForeground reports whether n waits for its dependents to go.
func (n node) deletingForeground() bool {
	return n.Deleting && slices.Contains(n.Finalizers, metav1.FinalizerDeleteDependents)
}

// deletingOrphan reports whether n waits for its dependents to be orphaned.
func (n node) deletingOrphan() bool {
	return n.Deleting && slices.Contains(n.Finalizers, metav1.FinalizerOrphanDependents)
}

// ownerRef returns n's reference to the owner with the given UID.
func (n node) ownerRef(uid types.UID) (metav1.OwnerReference, bool) {
	for _, r := range n.Owners {
		if r.UID == uid {
			return r, true
		}
	}
	return metav1.OwnerReference{}, false
}

// graph is the owner → dependents graph of every observed object. It is safe
// for concurrent use. Its update methods return the UIDs whose objects need a
// look from the workers after the change.
type graph struct {
	mu sync.Mutex
	// nodes holds every observed object by UID; guarded by mu.
	nodes map[types.UID]node
	// dependents maps an owner UID to the UIDs of the observed objects that
	// reference it, whether or not the owner itself is observed; guarded by mu.
	dependents map[types.UID]map[types.UID]struct{}
}

func newGraph() *graph {
	return &graph{nodes: map[types.UID]node{}, dependents: map[types.UID]map[types.UID]struct{}{}}
}

// observe records the current state of an object, added or updated.
func (g *graph) observe(n node) []types.UID {
	g.mu.Lock()
	defer g.mu.Unlock()
	old, existed := g.nodes[n.ID.UID]
	g.nodes[n.ID.UID] = n
	for _, r := range old.Owners {
		if _, still := n.ownerRef(r.UID); !still {
			g.unlinkLocked(r.UID, n.ID.UID)
		}
	}
	for _, r := range n.Owners {
		if g.dependents[r.UID] == nil {
			g.dependents[r.UID] = map[types.UID]struct{}{}
		}
		g.dependents[r.UID][n.ID.UID] = struct{}{}
	}

	var out []types.UID
	if n.deletingForeground() || n.deletingOrphan() || (!n.Deleting && g.ownerInDoubtLocked(n)) {
		out = append(out, n.ID.UID)
	}
	changed := !existed || old.Deleting != n.Deleting ||
		!reflect.DeepEqual(old.Owners, n.Owners) || !slices.Equal(old.Finalizers, n.Finalizers)
	if changed {
		out = append(out, g.waitingOwnersLocked(old.Owners, n.Owners)...)
	}
	return out
}

// forget removes a deleted object.
func (g *graph) forget(uid types.UID) []types.UID {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.forgetLocked(uid)
}

// forgetResource removes every object observed through the resource, for
// when it is no longer watched.
func (g *graph) forgetResource(gvr schema.GroupVersionResource) []types.UID {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []types.UID
	for uid, n := range g.nodes {
		if n.ID.Resource == gvr {
			out = append(out, g.forgetLocked(uid)...)
		}
	}
	return out
}

func (g *graph) forgetLocked(uid types.UID) []types.UID {
	n, ok := g.nodes[uid]
	if !ok {
		return nil
	}
	delete(g.nodes, uid)
	for _, r := range n.Owners {
		g.unlinkLocked(r.UID, uid)
	}
	out := g.waitingOwnersLocked(n.Owners)
	for dep := range g.dependents[uid] {
		out = append(out, dep)
	}
	return out
}

func (g *graph) unlinkLocked(owner, dependent types.UID) {
	delete(g.dependents[owner], dependent)
	if len(g.dependents[owner]) == 0 {
		delete(g.dependents, owner)
	}
}

// ownerInDoubtLocked reports whether one of n's owners is not observed where
// n's reference points, or is being deleted in the foreground: n may have to
// lose that reference or go.
func (g *graph) ownerInDoubtLocked(n node) bool {
	for _, r := range n.Owners {
		o, ok := g.nodes[r.UID]
		if !ok || o.deletingForeground() || (o.ID.Namespace != "" && o.ID.Namespace != n.ID.Namespace) {
			return true
		}
	}
	return false
}

// waitingOwnersLocked returns the owners among refs being deleted in the
// foreground: a change in their dependents may let them go.
func (g *graph) waitingOwnersLocked(refs ...[]metav1.OwnerReference) []types.UID {
	var out []types.UID
	for _, rs := range refs {
		for _, r := range rs {
			if o, ok := g.nodes[r.UID]; ok && o.deletingForeground() && !slices.Contains(out, r.UID) {
				out = append(out, r.UID)
			}
		}
	}
	return out
}

// node returns the observed object with the UID.
func (g *graph) node(uid types.UID) (node, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n, ok := g.nodes[uid]
	return n, ok
}

// dependentsOf returns the observed objects that reference uid as an owner,
// in no particular order.
func (g *graph) dependentsOf(uid types.UID) []node {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]node, 0, len(g.dependents[uid]))
	for dep := range g.dependents[uid] {
		out = append(out, g.nodes[dep])
	}
	return out
}

// hasDependents reports whether an observed object references uid as an owner.
func (g *graph) hasDependents(uid types.UID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.dependents[uid]) > 0
}
