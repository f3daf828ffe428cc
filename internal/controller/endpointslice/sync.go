package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// sync makes the slices and Endpoints of the Service named by key match
// its pods, or deletes them when the Service is gone.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	if ns == metav1.NamespaceDefault && name == "kubernetes" {
		return nil
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return c.deleteAll(ctx, ns, name)
	}
	if err != nil {
		return fmt.Errorf("getting service: %w", err)
	}
	if len(svc.Spec.Selector) == 0 {
		return nil
	}
	pods, err := c.pods.Pods(ns).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	return errors.Join(
		c.syncSlices(ctx, svc, DesiredSlices(svc, pods, c.zone, c.max)),
		c.syncEndpoints(ctx, svc, DesiredSubsets(svc, pods)),
	)
}

// zone returns the topology zone label of the node, or "".
func (c *Controller) zone(node string) string {
	n, err := c.nodes.Get(node)
	if err != nil {
		return ""
	}
	return n.Labels[corev1.LabelTopologyZone]
}

// managedSlices lists the cached slices this controller manages for the Service.
func (c *Controller) managedSlices(ns, name string) ([]*discoveryv1.EndpointSlice, error) {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: managedBy})
	s, err := c.slices.EndpointSlices(ns).List(sel)
	if err != nil {
		return nil, fmt.Errorf("listing endpoint slices: %w", err)
	}
	return s, nil
}

func (c *Controller) syncSlices(ctx context.Context, svc *corev1.Service, desired []*discoveryv1.EndpointSlice) error {
	existing, err := c.managedSlices(svc.Namespace, svc.Name)
	if err != nil {
		return err
	}
	current := make(map[string]*discoveryv1.EndpointSlice, len(existing))
	for _, s := range existing {
		current[s.Name] = s
	}
	api := c.client.DiscoveryV1().EndpointSlices(svc.Namespace)
	var errs []error
	for _, want := range desired {
		cur, ok := current[want.Name]
		delete(current, want.Name)
		switch {
		case !ok:
			if _, err := api.Create(ctx, want, metav1.CreateOptions{}); err != nil {
				errs = append(errs, fmt.Errorf("creating endpoint slice %s: %w", want.Name, err))
			}
		case cur.AddressType != want.AddressType:
			// addressType is immutable: replace the slice.
			if err := c.deleteSlice(ctx, cur); err != nil {
				errs = append(errs, err)
			} else if _, err := api.Create(ctx, want, metav1.CreateOptions{}); err != nil {
				errs = append(errs, fmt.Errorf("creating endpoint slice %s: %w", want.Name, err))
			}
		case !sameSlice(cur, want):
			upd := cur.DeepCopy()
			upd.Labels, upd.OwnerReferences = want.Labels, want.OwnerReferences
			upd.Endpoints, upd.Ports = want.Endpoints, want.Ports
			if _, err := api.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
				errs = append(errs, fmt.Errorf("updating endpoint slice %s: %w", want.Name, err))
			}
		}
	}
	for _, s := range current {
		errs = append(errs, c.deleteSlice(ctx, s))
	}
	return errors.Join(errs...)
}

// sameSlice reports whether cur already has want's content.
func sameSlice(cur, want *discoveryv1.EndpointSlice) bool {
	return maps.Equal(cur.Labels, want.Labels) &&
		equality.Semantic.DeepEqual(cur.OwnerReferences, want.OwnerReferences) &&
		equality.Semantic.DeepEqual(cur.Endpoints, want.Endpoints) &&
		equality.Semantic.DeepEqual(cur.Ports, want.Ports)
}

func (c *Controller) deleteSlice(ctx context.Context, s *discoveryv1.EndpointSlice) error {
	err := c.client.DiscoveryV1().EndpointSlices(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &s.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting endpoint slice %s: %w", s.Name, err)
	}
	return nil
}

// syncEndpoints writes the Service's Endpoints object, truncated to
// maxEndpointsAddresses addresses and then marked over capacity.
func (c *Controller) syncEndpoints(ctx context.Context, svc *corev1.Service, subsets []corev1.EndpointSubset) error {
	api := c.client.CoreV1().Endpoints(svc.Namespace)
	want := objectLabels(svc)
	subsets, truncated := truncateSubsets(subsets, maxEndpointsAddresses)
	cur, err := c.endpoints.Endpoints(svc.Namespace).Get(svc.Name)
	if apierrors.IsNotFound(err) {
		ep := &corev1.Endpoints{
			ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, Labels: want},
			Subsets:    subsets,
		}
		if truncated {
			ep.Annotations = map[string]string{corev1.EndpointsOverCapacity: "truncated"}
		}
		if _, err := api.Create(ctx, ep, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating endpoints: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting endpoints: %w", err)
	}
	_, marked := cur.Annotations[corev1.EndpointsOverCapacity]
	if maps.Equal(cur.Labels, want) && marked == truncated && equality.Semantic.DeepEqual(cur.Subsets, subsets) {
		return nil
	}
	upd := cur.DeepCopy()
	upd.Labels, upd.Subsets = want, subsets
	if truncated {
		metav1.SetMetaDataAnnotation(&upd.ObjectMeta, corev1.EndpointsOverCapacity, "truncated")
	} else {
		delete(upd.Annotations, corev1.EndpointsOverCapacity)
	}
	if _, err := api.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating endpoints: %w", err)
	}
	return nil
}

// deleteAll removes the managed slices and the Endpoints of a deleted Service.
func (c *Controller) deleteAll(ctx context.Context, ns, name string) error {
	existing, err := c.managedSlices(ns, name)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range existing {
		errs = append(errs, c.deleteSlice(ctx, s))
	}
	if ep, err := c.endpoints.Endpoints(ns).Get(name); err == nil {
		err := c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &ep.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting endpoints: %w", err))
		}
	}
	return errors.Join(errs...)
}
