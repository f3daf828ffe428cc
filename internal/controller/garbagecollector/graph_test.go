package garbagecollector

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

var configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// testNode builds graph nodes: testNode("a").owners("b").obj().
type testNode struct{ n node }

func newNode(uid string) *testNode {
	return &testNode{node{ID: objectID{Resource: configMaps, Namespace: "ns", Name: uid, UID: types.UID(uid)}}}
}

func (b *testNode) owners(uids ...string) *testNode {
	for _, u := range uids {
		b.n.Owners = append(b.n.Owners, metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: u, UID: types.UID(u)})
	}
	return b
}

func (b *testNode) blockingOwner(uid string) *testNode {
	t := true
	b.n.Owners = append(b.n.Owners, metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: uid, UID: types.UID(uid), BlockOwnerDeletion: &t})
	return b
}

func (b *testNode) namespace(ns string) *testNode {
	b.n.ID.Namespace = ns
	return b
}

func (b *testNode) deleting(finalizers ...string) *testNode {
	b.n.Deleting, b.n.Finalizers = true, finalizers
	return b
}

func (b *testNode) obj() node { return b.n }

// step is one graph update: observe obj, or forget the UID.
type step struct {
	observe *node
	forget  types.UID
	want    []types.UID
}

func observed(n node, want ...types.UID) step { return step{observe: &n, want: want} }
func forgotten(uid types.UID, want ...types.UID) step {
	return step{forget: uid, want: want}
}

func TestGraphUpdates(t *testing.T) {
	fg, orphan := metav1.FinalizerDeleteDependents, metav1.FinalizerOrphanDependents
	tests := []struct {
		name  string
		steps []step
	}{{
		name: "an object whose owner is not observed needs a look",
		steps: []step{
			observed(newNode("dep").owners("owner").obj(), "dep"),
		},
	}, {
		name: "an object whose owners are observed does not",
		steps: []step{
			observed(newNode("owner").obj()),
			observed(newNode("other").obj()),
			observed(newNode("dep").owners("owner", "other").obj()),
			observed(newNode("dep").owners("owner", "other").obj()),
		},
	}, {
		name: "an owner in another namespace is in doubt; a cluster-scoped one is not",
		steps: []step{
			observed(newNode("owner").namespace("elsewhere").obj()),
			observed(newNode("node").namespace("").obj()),
			observed(newNode("dep").owners("owner").obj(), "dep"),
			observed(newNode("dep2").owners("node").obj()),
		},
	}, {
		name: "a deleted owner's dependents need a look",
		steps: []step{
			observed(newNode("owner").obj()),
			observed(newNode("a").owners("owner").obj()),
			observed(newNode("b").owners("owner").obj()),
			forgotten("owner", "a", "b"),
			forgotten("owner"),
		},
	}, {
		name: "owners deleting in the foreground or orphaning need a look, plain deletion does not",
		steps: []step{
			observed(newNode("fg").deleting(fg).obj(), "fg"),
			observed(newNode("orphan").deleting(orphan).obj(), "orphan"),
			observed(newNode("plain").deleting("example.com/x").obj()),
		},
	}, {
		name: "a change to a dependent of a foreground deletion wakes the owner",
		steps: []step{
			observed(newNode("owner").obj()),
			observed(newNode("dep").blockingOwner("owner").obj()),
			observed(newNode("owner").deleting(fg).obj(), "owner"),
			observed(newNode("dep").blockingOwner("owner").deleting("example.com/hold").obj(), "owner"),
			forgotten("dep", "owner"),
		},
	}, {
		name: "a dependent created under a foreground deletion needs a look",
		steps: []step{
			observed(newNode("owner").deleting(fg).obj(), "owner"),
			observed(newNode("dep").owners("owner").obj(), "dep", "owner"),
		},
	}, {
		name: "dropping a reference wakes the waiting owner and unlinks",
		steps: []step{
			observed(newNode("owner").deleting(fg).obj(), "owner"),
			observed(newNode("other").obj()),
			observed(newNode("dep").owners("owner", "other").obj(), "dep", "owner"),
			observed(newNode("dep").owners("other").obj(), "owner"),
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGraph()
			for i, s := range tt.steps {
				var got []types.UID
				if s.observe != nil {
					got = g.observe(*s.observe)
				} else {
					got = g.forget(s.forget)
				}
				slices.Sort(got)
				if diff := cmp.Diff(s.want, got); diff != "" {
					t.Errorf("step %d: enqueued (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}

func dependentUIDs(g *graph, owner types.UID) []types.UID {
	var out []types.UID
	for _, d := range g.dependentsOf(owner) {
		out = append(out, d.ID.UID)
	}
	slices.Sort(out)
	return out
}

func TestGraphDependents(t *testing.T) {
	g := newGraph()
	g.observe(newNode("a").owners("owner").obj())
	g.observe(newNode("b").owners("owner", "other").obj())
	if diff := cmp.Diff([]types.UID{"a", "b"}, dependentUIDs(g, "owner")); diff != "" {
		t.Errorf("dependents of an unobserved owner (-want +got):\n%s", diff)
	}
	g.observe(newNode("b").owners("other").obj())
	if diff := cmp.Diff([]types.UID{"a"}, dependentUIDs(g, "owner")); diff != "" {
		t.Errorf("after b dropped its reference (-want +got):\n%s", diff)
	}
	g.forget("a")
	if g.hasDependents("owner") {
		t.Errorf("owner still has dependents after a went: %v", dependentUIDs(g, "owner"))
	}
	if !g.hasDependents("other") {
		t.Error("other lost its dependent b")
	}

	cr := schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
	w := newNode("widget").obj()
	w.ID.Resource = cr
	g.observe(w)
	g.observe(newNode("c").owners("widget").obj())
	got := g.forgetResource(cr)
	if diff := cmp.Diff([]types.UID{"c"}, got); diff != "" {
		t.Errorf("forgetResource enqueued (-want +got):\n%s", diff)
	}
	if _, ok := g.node("widget"); ok {
		t.Error("widget still observed after its resource was forgotten")
	}
	if _, ok := g.node("b"); !ok {
		t.Error("b forgotten with another resource")
	}
}
