package namespace

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// finalizerEstimateSeconds is how long objects held by finalizers are
// assumed to need before they go, as upstream: time for the garbage
// collector or another controller to finish with them.
const finalizerEstimateSeconds int64 = 15

// target is one namespaced resource whose objects can be deleted, with the
// verbs the server serves for it.
type target struct {
	gvr   schema.GroupVersionResource
	verbs []string
}

func (t target) can(verb string) bool { return slices.Contains(t.verbs, verb) }

// deletableResources picks from discovery's resource lists the namespaced
// resources (not subresources) that serve delete or deletecollection,
// ordered by group, version and resource. The lists whose group version
// does not parse are skipped and returned as errors.
func deletableResources(lists []*metav1.APIResourceList) ([]target, []error) {
	var out []target
	var errs []error
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range l.APIResources {
			if !r.Namespaced || strings.Contains(r.Name, "/") {
				continue
			}
			if !slices.Contains(r.Verbs, "delete") && !slices.Contains(r.Verbs, "deletecollection") {
				continue
			}
			out = append(out, target{gvr: gv.WithResource(r.Name), verbs: r.Verbs})
		}
	}
	slices.SortFunc(out, func(a, b target) int {
		return cmp.Or(cmp.Compare(a.gvr.Group, b.gvr.Group), cmp.Compare(a.gvr.Version, b.gvr.Version),
			cmp.Compare(a.gvr.Resource, b.gvr.Resource))
	})
	return out, errs
}

// discover returns the server's namespaced resources in their preferred
// versions, asked afresh. With an error it may still return the resources
// of the groups that were discovered.
func (c *Controller) discover(ctx context.Context) ([]*metav1.APIResourceList, error) {
	if cached, ok := c.discovery.(discovery.CachedDiscoveryInterface); ok {
		cached.Invalidate()
	}
	return discovery.ServerPreferredNamespacedResourcesWithContext(ctx, discovery.ToDiscoveryInterfaceWithContext(c.discovery))
}

// deleteContent deletes every object in namespace ns and reports what
// remains. A failure for one resource does not stop the others.
func (c *Controller) deleteContent(ctx context.Context, ns string, now time.Time) *contentReport {
	r := &contentReport{}
	lists, err := c.discover(ctx)
	if err != nil {
		r.discoveryErr = err
	}
	targets, parseErrs := deletableResources(lists)
	r.parseErrs = parseErrs
	for _, t := range targets {
		left, err := c.deleteResource(ctx, t, ns, now)
		if err != nil {
			r.deleteErrs = append(r.deleteErrs, err)
		}
		r.addRemaining(t.gvr, left.count, left.finalizers)
		r.estimate = max(r.estimate, left.estimate)
	}
	return r
}

// leftover is what remains of one resource in a namespace after deletion.
type leftover struct {
	count      int
	finalizers map[string]int
	// estimate is the seconds the leftover is expected to need to go.
	estimate int64
}

// leftoverOf sums up the objects that remain at now: how many, their
// finalizers, and how long until they are expected to go (the end of
// their graceful deletion, else finalizerEstimateSeconds if finalizers
// hold them).
func leftoverOf(items []metav1.PartialObjectMetadata, now time.Time) leftover {
	l := leftover{count: len(items)}
	for _, item := range items {
		for _, f := range item.Finalizers {
			if l.finalizers == nil {
				l.finalizers = map[string]int{}
			}
			l.finalizers[f]++
		}
		if ts := item.DeletionTimestamp; ts != nil && ts.After(now) {
			l.estimate = max(l.estimate, int64(math.Ceil(ts.Sub(now).Seconds())))
		}
	}
	if l.estimate == 0 && len(l.finalizers) > 0 {
		l.estimate = finalizerEstimateSeconds
	}
	return l
}

// unsupported reports whether err says the server does not serve a verb
// for a resource that discovery listed.
func unsupported(err error) bool {
	return apierrors.IsMethodNotSupported(err) || apierrors.IsNotFound(err)
}

// deleteResource deletes all objects of t in namespace ns, by
// deletecollection where served, else one by one, and returns what
// remains. Remaining objects that neither finalizers nor a graceful
// deletion hold are an error.
func (c *Controller) deleteResource(ctx context.Context, t target, ns string, now time.Time) (leftover, error) {
	client := c.metadata.Resource(t.gvr).Namespace(ns)
	// Dependents are the garbage collector's business; the namespace waits
	// only for its own content, so nothing is orphaned or held in front.
	background := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &background}

	collected := false
	if t.can("deletecollection") {
		err := client.DeleteCollection(ctx, opts, metav1.ListOptions{})
		if err != nil && !unsupported(err) {
			return leftover{}, fmt.Errorf("deleting all %s: %w", t.gvr, err)
		}
		collected = err == nil
	}
	if !t.can("list") {
		return leftover{}, nil
	}
	if !collected && t.can("delete") {
		list, err := client.List(ctx, metav1.ListOptions{})
		if err != nil && !unsupported(err) {
			return leftover{}, fmt.Errorf("listing %s: %w", t.gvr, err)
		}
		if err == nil {
			for _, item := range list.Items {
				if err := client.Delete(ctx, item.Name, opts); err != nil && !apierrors.IsNotFound(err) {
					return leftover{}, fmt.Errorf("deleting %s %q: %w", t.gvr, item.Name, err)
				}
			}
		}
	}

	list, err := client.List(ctx, metav1.ListOptions{})
	if err != nil {
		if unsupported(err) {
			return leftover{}, nil
		}
		return leftover{}, fmt.Errorf("listing remaining %s: %w", t.gvr, err)
	}
	l := leftoverOf(list.Items, now)
	if l.count > 0 && l.estimate == 0 {
		return l, fmt.Errorf("unexpected items still remain in namespace: %s for gvr: %v", ns, t.gvr)
	}
	return l, nil
}
