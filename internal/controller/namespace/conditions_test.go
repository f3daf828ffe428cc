package namespace

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// cond is a condition without its transition time.
type cond struct {
	Type    corev1.NamespaceConditionType
	Status  corev1.ConditionStatus
	Reason  string
	Message string
}

func strip(cs []corev1.NamespaceCondition) []cond {
	out := make([]cond, len(cs))
	for i, c := range cs {
		out[i] = cond{c.Type, c.Status, c.Reason, c.Message}
	}
	return out
}

var (
	okDiscovery = cond{corev1.NamespaceDeletionDiscoveryFailure, corev1.ConditionFalse, "ResourcesDiscovered", "All resources successfully discovered"}
	okParsing   = cond{corev1.NamespaceDeletionGVParsingFailure, corev1.ConditionFalse, "ParsedGroupVersions", "All legacy kube types successfully parsed"}
	okContent   = cond{corev1.NamespaceDeletionContentFailure, corev1.ConditionFalse, "ContentDeleted", "All content successfully deleted, may be waiting on finalization"}
	okRemaining = cond{corev1.NamespaceContentRemaining, corev1.ConditionFalse, "ContentRemoved", "All content successfully removed"}
	okFinalizer = cond{corev1.NamespaceFinalizersRemaining, corev1.ConditionFalse, "ContentHasNoFinalizers", "All content-preserving finalizers finished"}
)

func TestConditions(t *testing.T) {
	configmaps := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	widgets := schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
	tests := []struct {
		name   string
		report func(r *contentReport)
		want   []cond
	}{
		{
			name:   "clean pass",
			report: func(*contentReport) {},
			want:   []cond{okDiscovery, okParsing, okContent, okRemaining, okFinalizer},
		},
		{
			name: "content held by finalizers",
			report: func(r *contentReport) {
				r.addRemaining(configmaps, 1, map[string]int{"example.com/f": 1})
				r.addRemaining(widgets, 2, map[string]int{"example.com/f": 2, "b.example.com/g": 1})
			},
			want: []cond{okDiscovery, okParsing, okContent,
				{corev1.NamespaceContentRemaining, corev1.ConditionTrue, "SomeResourcesRemain",
					"Some resources are remaining: configmaps. has 1 resource instances, widgets.example.com has 2 resource instances"},
				{corev1.NamespaceFinalizersRemaining, corev1.ConditionTrue, "SomeFinalizersRemain",
					"Some content in the namespace has finalizers remaining: b.example.com/g in 1 resource instances, example.com/f in 3 resource instances"},
			},
		},
		{
			name: "failures",
			report: func(r *contentReport) {
				r.discoveryErr = &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{
					{Group: "metrics.example.com", Version: "v1"}: errors.New("unavailable"),
				}}
				r.parseErrs = []error{errors.New(`unexpected GroupVersion string: a/b/c`)}
				r.deleteErrs = []error{errors.New("listing pods: boom"), errors.New("deleting all secrets: bang")}
				r.addRemaining(configmaps, 1, nil)
			},
			want: []cond{
				{corev1.NamespaceDeletionDiscoveryFailure, corev1.ConditionTrue, "DiscoveryFailed",
					"Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: metrics.example.com/v1: unavailable"},
				{corev1.NamespaceDeletionGVParsingFailure, corev1.ConditionTrue, "GroupVersionParsingFailed", "unexpected GroupVersion string: a/b/c"},
				{corev1.NamespaceDeletionContentFailure, corev1.ConditionTrue, "ContentDeletionFailed",
					"Failed to delete all resource types, 2 remaining: deleting all secrets: bang, listing pods: boom"},
				{corev1.NamespaceContentRemaining, corev1.ConditionTrue, "SomeResourcesRemain", "Some resources are remaining: configmaps. has 1 resource instances"},
				okFinalizer,
			},
		},
		{
			name:   "discovery failed outright",
			report: func(r *contentReport) { r.discoveryErr = errors.New("connection refused") },
			want: []cond{
				{corev1.NamespaceDeletionDiscoveryFailure, corev1.ConditionTrue, "DiscoveryFailed", "connection refused"},
				okParsing, okContent, okRemaining, okFinalizer,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &contentReport{}
			tt.report(r)
			if diff := cmp.Diff(tt.want, strip(r.conditions(metav1.Now()))); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMergeConditions(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	at := func(c cond, ts metav1.Time) corev1.NamespaceCondition {
		return corev1.NamespaceCondition{Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message, LastTransitionTime: ts}
	}
	remaining := cond{corev1.NamespaceContentRemaining, corev1.ConditionTrue, "SomeResourcesRemain", "Some resources are remaining: configmaps. has 2 resource instances"}
	fewer := remaining
	fewer.Message = "Some resources are remaining: configmaps. has 1 resource instances"
	other := corev1.NamespaceCondition{Type: "Other", Status: corev1.ConditionTrue, LastTransitionTime: t0}
	tests := []struct {
		name        string
		have, want  []corev1.NamespaceCondition
		result      []corev1.NamespaceCondition
		wantChanged bool
	}{
		{
			name:        "added to others",
			have:        []corev1.NamespaceCondition{other},
			want:        []corev1.NamespaceCondition{at(remaining, t1)},
			result:      []corev1.NamespaceCondition{other, at(remaining, t1)},
			wantChanged: true,
		},
		{
			name:   "unchanged keeps time",
			have:   []corev1.NamespaceCondition{at(remaining, t0)},
			want:   []corev1.NamespaceCondition{at(remaining, t1)},
			result: []corev1.NamespaceCondition{at(remaining, t0)},
		},
		{
			name:        "new message, same status, keeps time",
			have:        []corev1.NamespaceCondition{at(remaining, t0)},
			want:        []corev1.NamespaceCondition{at(fewer, t1)},
			result:      []corev1.NamespaceCondition{at(fewer, t0)},
			wantChanged: true,
		},
		{
			name:        "status change moves time",
			have:        []corev1.NamespaceCondition{at(remaining, t0), other},
			want:        []corev1.NamespaceCondition{at(okRemaining, t1)},
			result:      []corev1.NamespaceCondition{at(okRemaining, t1), other},
			wantChanged: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status := corev1.NamespaceStatus{Conditions: tt.have}
			changed := mergeConditions(&status, tt.want)
			if changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if diff := cmp.Diff(tt.result, status.Conditions); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLeftoverOf(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	item := func(deleteAt time.Duration, finalizers ...string) metav1.PartialObjectMetadata {
		var m metav1.PartialObjectMetadata
		m.Finalizers = finalizers
		if deleteAt != 0 {
			ts := metav1.NewTime(now.Add(deleteAt))
			m.DeletionTimestamp = &ts
		}
		return m
	}
	tests := []struct {
		name  string
		items []metav1.PartialObjectMetadata
		want  leftover
	}{
		{name: "nothing", want: leftover{}},
		{
			name:  "finalizers",
			items: []metav1.PartialObjectMetadata{item(-time.Second, "a", "b"), item(0, "a")},
			want:  leftover{count: 2, finalizers: map[string]int{"a": 2, "b": 1}, estimate: finalizerEstimateSeconds},
		},
		{
			name:  "graceful deletion in progress",
			items: []metav1.PartialObjectMetadata{item(29500 * time.Millisecond), item(3*time.Second, "a")},
			want:  leftover{count: 2, finalizers: map[string]int{"a": 1}, estimate: 30},
		},
		{
			name:  "nothing holds them",
			items: []metav1.PartialObjectMetadata{item(-time.Minute), item(0)},
			want:  leftover{count: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := leftoverOf(tt.items, now)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(leftover{})); diff != "" {
				t.Errorf("leftoverOf (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeletableResources(t *testing.T) {
	lists := []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Namespaced: true, Verbs: []string{"create", "delete", "deletecollection", "get", "list"}},
			{Name: "pods/status", Namespaced: true, Verbs: []string{"get", "update"}},
			{Name: "bindings", Namespaced: true, Verbs: []string{"create"}},
			{Name: "nodes", Verbs: []string{"delete", "list"}},
		}},
		{GroupVersion: "a/b/c", APIResources: []metav1.APIResource{{Name: "x", Namespaced: true, Verbs: []string{"delete"}}}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			{Name: "deployments", Namespaced: true, Verbs: []string{"delete", "list"}},
		}},
	}
	got, errs := deletableResources(lists)
	want := []target{
		{gvr: schema.GroupVersionResource{Version: "v1", Resource: "pods"}, verbs: []string{"create", "delete", "deletecollection", "get", "list"}},
		{gvr: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, verbs: []string{"delete", "list"}},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(target{})); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	if len(errs) != 1 {
		t.Errorf("errors = %v, want one for a/b/c", errs)
	}
}
