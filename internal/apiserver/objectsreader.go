package apiserver

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/auth"
)

// cacheObjects reads current objects from the watch cache for the server's
// own plugins (auth.Objects). A Get that misses waits for the cache to
// reach the store's revision before it answers NotFound.
type cacheObjects struct{ s *Server }

var _ auth.Objects = cacheObjects{}

// storageResource returns the resource that stores gr's objects.
func (s *Server) storageResource(gr schema.GroupResource) (*resource, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for gv, byName := range s.resources {
		if gv.Group != gr.Group {
			continue
		}
		if r := byName[gr.Resource]; r != nil {
			if r.storage != nil {
				return r.storage, nil
			}
			return r, nil
		}
	}
	return nil, fmt.Errorf("apiserver: %s is not served", gr)
}

func (o cacheObjects) Get(gr schema.GroupResource, namespace, name string) (runtime.Object, error) {
	r, err := o.s.storageResource(gr)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	co, err := o.s.cache.get(ctx, r, r.key(namespace, name), 0)
	if err == nil && co == nil {
		// Not there yet, or gone: look again once the cache has caught
		// up with the store, so a plugin sees what a client just wrote.
		var rev int64
		if rev, _, err = o.s.store.Revision(ctx); err == nil {
			co, err = o.s.cache.get(ctx, r, r.key(namespace, name), rev)
		}
	}
	if err != nil {
		return nil, err
	}
	if co == nil {
		return nil, notFound(r, name)
	}
	return co.obj, nil
}

func (o cacheObjects) List(gr schema.GroupResource, namespace string, sel labels.Selector) ([]runtime.Object, error) {
	r, err := o.s.storageResource(gr)
	if err != nil {
		return nil, err
	}
	prefix := r.prefix
	if namespace != "" && r.Namespaced {
		prefix += namespace + "/"
	}
	items, _, err := o.s.cache.snapshot(context.Background(), r, prefix, 0)
	if err != nil {
		return nil, err
	}
	out := make([]runtime.Object, 0, len(items))
	for _, co := range items {
		if sel == nil || sel.Matches(co.labels) {
			out = append(out, co.obj)
		}
	}
	return out, nil
}

// ResourceFor returns the resource serving kind gvk and whether it is
// namespaced (policy.KindResolver).
func (o cacheObjects) ResourceFor(gvk schema.GroupVersionKind) (schema.GroupResource, bool, error) {
	o.s.mu.RLock()
	defer o.s.mu.RUnlock()
	for _, r := range o.s.resources[gvk.GroupVersion()] {
		if r.gvk == gvk && !r.Ephemeral {
			return r.GroupResource(), r.Namespaced, nil
		}
	}
	return schema.GroupResource{}, false, fmt.Errorf("no resource serves %s", gvk)
}
