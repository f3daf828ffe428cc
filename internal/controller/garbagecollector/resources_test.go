package garbagecollector

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestResourcesFrom(t *testing.T) {
	all := metav1.Verbs{"create", "delete", "get", "list", "patch", "update", "watch"}
	groups := []*metav1.APIGroup{
		{Name: "", PreferredVersion: metav1.GroupVersionForDiscovery{GroupVersion: "v1"}},
		{Name: "autoscaling", PreferredVersion: metav1.GroupVersionForDiscovery{GroupVersion: "autoscaling/v2"}},
		{Name: "events.k8s.io", PreferredVersion: metav1.GroupVersionForDiscovery{GroupVersion: "events.k8s.io/v1"}},
	}
	lists := []*metav1.APIResourceList{{
		GroupVersion: "v1",
		APIResources: []metav1.APIResource{
			{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: all},
			{Name: "pods/status", Kind: "Pod", Namespaced: true, Verbs: metav1.Verbs{"get", "patch", "update"}},
			{Name: "nodes", Kind: "Node", Verbs: all},
			{Name: "events", Kind: "Event", Namespaced: true, Verbs: all},
			{Name: "bindings", Kind: "Binding", Namespaced: true, Verbs: metav1.Verbs{"create"}},
		},
	}, {
		GroupVersion: "autoscaling/v2",
		APIResources: []metav1.APIResource{{Name: "horizontalpodautoscalers", Kind: "HorizontalPodAutoscaler", Namespaced: true, Verbs: all}},
	}, {
		GroupVersion: "autoscaling/v1",
		APIResources: []metav1.APIResource{{Name: "horizontalpodautoscalers", Kind: "HorizontalPodAutoscaler", Namespaced: true, Verbs: all}},
	}, {
		GroupVersion: "events.k8s.io/v1",
		APIResources: []metav1.APIResource{{Name: "events", Kind: "Event", Namespaced: true, Verbs: all}},
	}}
	kinds, watch := resourcesFrom(groups, lists)

	gvr := func(gv, r string) schema.GroupVersionResource {
		return schema.FromAPIVersionAndKind(gv, "").GroupVersion().WithResource(r)
	}
	wantWatch := map[schema.GroupVersionResource]bool{
		gvr("v1", "pods"):  true,
		gvr("v1", "nodes"): true,
		gvr("autoscaling/v2", "horizontalpodautoscalers"): true,
	}
	if diff := cmp.Diff(wantWatch, watch); diff != "" {
		t.Errorf("watched (-want +got):\n%s", diff)
	}
	wantKinds := map[schema.GroupVersionKind]kindInfo{
		{Version: "v1", Kind: "Pod"}:                                           {gvr("v1", "pods"), true},
		{Version: "v1", Kind: "Node"}:                                          {gvr("v1", "nodes"), false},
		{Version: "v1", Kind: "Event"}:                                         {gvr("v1", "events"), true},
		{Version: "v1", Kind: "Binding"}:                                       {gvr("v1", "bindings"), true},
		{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"}: {gvr("autoscaling/v2", "horizontalpodautoscalers"), true},
		{Group: "autoscaling", Version: "v1", Kind: "HorizontalPodAutoscaler"}: {gvr("autoscaling/v1", "horizontalpodautoscalers"), true},
		{Group: "events.k8s.io", Version: "v1", Kind: "Event"}:                 {gvr("events.k8s.io/v1", "events"), true},
	}
	if diff := cmp.Diff(wantKinds, kinds); diff != "" {
		t.Errorf("kinds (-want +got):\n%s", diff)
	}
}
