package garbagecollector

import (
	"context"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
)

// kindInfo says which resource serves a kind.
type kindInfo struct {
	Resource   schema.GroupVersionResource
	Namespaced bool
}

// ignored are resources the collector does not watch: Events are many,
// short-lived and own nothing, and both groups serve the same objects.
var ignored = []schema.GroupResource{{Resource: "events"}, {Group: "events.k8s.io", Resource: "events"}}

// resourcesFrom reads discovery's answer: the resource of every served kind
// in every version, to resolve ownerReferences, and the preferred version of
// every resource that can be listed, watched and deleted, to watch.
func resourcesFrom(groups []*metav1.APIGroup, lists []*metav1.APIResourceList) (map[schema.GroupVersionKind]kindInfo, map[schema.GroupVersionResource]bool) {
	preferred := map[string]bool{}
	for _, g := range groups {
		preferred[g.PreferredVersion.GroupVersion] = true
	}
	kinds := map[schema.GroupVersionKind]kindInfo{}
	watch := map[schema.GroupVersionResource]bool{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue
			}
			gvr := gv.WithResource(r.Name)
			kinds[gv.WithKind(r.Kind)] = kindInfo{Resource: gvr, Namespaced: r.Namespaced}
			if preferred[l.GroupVersion] && !slices.Contains(ignored, gvr.GroupResource()) &&
				slices.Contains(r.Verbs, "list") && slices.Contains(r.Verbs, "watch") && slices.Contains(r.Verbs, "delete") {
				watch[gvr] = true
			}
		}
	}
	return kinds, watch
}

// monitor watches the metadata of one resource.
type monitor struct {
	informer cache.SharedIndexInformer
	cancel   context.CancelFunc
	done     chan struct{}
}

// startMonitor starts watching gvr until ctx ends or the monitor is stopped.
func (c *Controller) startMonitor(ctx context.Context, gvr schema.GroupVersionResource) (*monitor, error) {
	inf := metadatainformer.NewFilteredMetadataInformer(c.metadata, gvr, metav1.NamespaceAll, 0, cache.Indexers{}, nil).Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.observe(gvr, obj) },
		UpdateFunc: func(_, obj any) { c.observe(gvr, obj) },
		DeleteFunc: c.forget,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	m := &monitor{informer: inf, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		inf.Run(ctx.Done())
	}()
	return m, nil
}

// stop stops the monitor and waits for its informer to end.
func (m *monitor) stop() {
	m.cancel()
	<-m.done
}
