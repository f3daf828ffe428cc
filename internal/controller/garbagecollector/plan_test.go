package garbagecollector

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

func TestPlanDependent(t *testing.T) {
	refs := newNode("dep").owners("a", "b").obj().Owners
	bg, fg := metav1.DeletePropagationBackground, metav1.DeletePropagationForeground
	tests := []struct {
		name          string
		owners        []metav1.OwnerReference
		state         map[types.UID]ownerState
		finalizers    []string
		hasDependents bool
		want          action
	}{{
		name:  "no owners: nothing",
		state: map[types.UID]ownerState{},
		want:  action{},
	}, {
		name:   "all owners solid: nothing",
		owners: refs,
		state:  map[types.UID]ownerState{"a": ownerSolid, "b": ownerSolid},
		want:   action{},
	}, {
		name:   "one owner absent, one solid: drop the absent reference",
		owners: refs,
		state:  map[types.UID]ownerState{"a": ownerAbsent, "b": ownerSolid},
		want:   action{RemoveOwners: []types.UID{"a"}},
	}, {
		name:   "one owner waiting, one solid: drop the waiting reference",
		owners: refs,
		state:  map[types.UID]ownerState{"a": ownerSolid, "b": ownerWaiting},
		want:   action{RemoveOwners: []types.UID{"b"}},
	}, {
		name:          "all owners absent: delete in the background",
		owners:        refs,
		state:         map[types.UID]ownerState{"a": ownerAbsent, "b": ownerAbsent},
		hasDependents: true,
		want:          action{Delete: true, Propagation: bg},
	}, {
		name:   "owners waiting or absent, no dependents: delete in the background",
		owners: refs,
		state:  map[types.UID]ownerState{"a": ownerAbsent, "b": ownerWaiting},
		want:   action{Delete: true, Propagation: bg},
	}, {
		name:          "owner waiting, has dependents: delete in the foreground",
		owners:        refs,
		state:         map[types.UID]ownerState{"a": ownerWaiting, "b": ownerAbsent},
		hasDependents: true,
		want:          action{Delete: true, Propagation: fg},
	}, {
		name:       "owners absent, an orphan finalizer on the object: delete orphaning",
		owners:     refs,
		state:      map[types.UID]ownerState{"a": ownerAbsent, "b": ownerAbsent},
		finalizers: []string{"example.com/x", metav1.FinalizerOrphanDependents},
		want:       action{Delete: true, Propagation: metav1.DeletePropagationOrphan},
	}, {
		name:       "owners absent, a foreground finalizer on the object: delete in the foreground",
		owners:     refs,
		state:      map[types.UID]ownerState{"a": ownerAbsent, "b": ownerAbsent},
		finalizers: []string{metav1.FinalizerDeleteDependents},
		want:       action{Delete: true, Propagation: fg},
	}, {
		name:          "an owner waiting overrides the object's orphan finalizer when it has dependents",
		owners:        refs,
		state:         map[types.UID]ownerState{"a": ownerWaiting, "b": ownerWaiting},
		finalizers:    []string{metav1.FinalizerOrphanDependents},
		hasDependents: true,
		want:          action{Delete: true, Propagation: fg},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planDependent(tt.owners, tt.state, tt.finalizers, tt.hasDependents)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("planDependent (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBlocking(t *testing.T) {
	deps := []node{
		newNode("blocks").blockingOwner("owner").obj(),
		newNode("loose").owners("owner").obj(),
		newNode("blocks-other").owners("owner").blockingOwner("other").obj(),
	}
	var got []types.UID
	for _, d := range blocking(deps, "owner") {
		got = append(got, d.ID.UID)
	}
	if diff := cmp.Diff([]types.UID{"blocks"}, got); diff != "" {
		t.Errorf("blocking (-want +got):\n%s", diff)
	}
}

func TestWithoutOwners(t *testing.T) {
	refs := newNode("dep").owners("a", "b", "c").obj().Owners
	got, changed := withoutOwners(refs, []types.UID{"b", "x"})
	if diff := cmp.Diff([]metav1.OwnerReference{refs[0], refs[2]}, got); diff != "" || !changed {
		t.Errorf("withoutOwners changed=%v (-want +got):\n%s", changed, diff)
	}
	if len(refs) != 3 || refs[1].UID != "b" {
		t.Errorf("withoutOwners modified its input: %v", refs)
	}
	if _, changed := withoutOwners(refs, []types.UID{"x"}); changed {
		t.Error("withoutOwners reported a change for an unknown UID")
	}
}

func TestUnblocked(t *testing.T) {
	refs := newNode("dep").owners("a").blockingOwner("b").obj().Owners
	got, changed := unblocked(refs)
	want := newNode("dep").owners("a", "b").obj().Owners
	if diff := cmp.Diff(want, got); diff != "" || !changed {
		t.Errorf("unblocked changed=%v (-want +got):\n%s", changed, diff)
	}
	if refs[1].BlockOwnerDeletion == nil {
		t.Error("unblocked modified its input")
	}
	if _, changed := unblocked(got); changed {
		t.Error("unblocked reported a change for unblocked references")
	}
}

func TestNewValidates(t *testing.T) {
	// New only builds; these clients are never used.
	rc := &rest.Config{Host: "https://127.0.0.1:1"}
	md, disc := metadata.NewForConfigOrDie(rc), discovery.NewDiscoveryClientForConfigOrDie(rc)
	tests := []struct {
		name  string
		cfg   Config
		valid bool
	}{
		{name: "valid", cfg: Config{Metadata: md, Discovery: disc}, valid: true},
		{name: "no metadata client", cfg: Config{Discovery: disc}},
		{name: "no discovery client", cfg: Config{Metadata: md}},
		{name: "negative workers", cfg: Config{Metadata: md, Discovery: disc, Workers: -1}},
		{name: "negative period", cfg: Config{Metadata: md, Discovery: disc, DiscoveryPeriod: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if (err == nil) != tt.valid {
				t.Errorf("New: %v, want valid=%v", err, tt.valid)
			}
		})
	}
}
