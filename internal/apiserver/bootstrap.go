package apiserver

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// bootstrap creates the objects every cluster has: the default namespaces
// and the default/kubernetes Service with endpoints leading to this server.
// It is idempotent; the endpoints are rewritten when the address changed.
func (s *Server) bootstrap(ctx context.Context) error {
	core := func(name string) *resource { return s.lookup(schema.GroupVersion{Version: "v1"}, name) }
	for _, name := range []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease} {
		if err := s.ensure(ctx, core("namespaces"), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			return err
		}
	}
	// The system priority classes, as upstream's scheduling post-start hook.
	pcs := s.lookup(schedulingv1.SchemeGroupVersion, "priorityclasses")
	for _, pc := range []*schedulingv1.PriorityClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical"}, Value: 2000001000, Description: "Used for system critical pods that must not be moved from their current node."},
		{ObjectMeta: metav1.ObjectMeta{Name: "system-cluster-critical"}, Value: 2000000000, Description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."},
	} {
		if err := s.ensure(ctx, pcs, pc); err != nil {
			return err
		}
	}
	labels := map[string]string{"component": "apiserver", "provider": "kubernetes"}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault, Labels: labels},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: s.services.firstIP().String(),
			Ports: []corev1.ServicePort{{
				Name: "https", Protocol: corev1.ProtocolTCP, Port: 443, TargetPort: intstr.FromInt32(int32(s.cfg.Port)),
			}},
			SessionAffinity: corev1.ServiceAffinityNone,
		},
	}
	if err := s.ensure(ctx, core("services"), svc); err != nil {
		return err
	}
	if err := s.ensureDefaults(ctx); err != nil {
		return err
	}
	if s.cfg.AdvertiseAddress.IsLoopback() {
		// Endpoints may not point at loopback, and pods could not reach
		// it: the Service stays without endpoints.
		s.log.Warn("advertise address is loopback: the kubernetes Service gets no endpoints", "address", s.cfg.AdvertiseAddress)
		return nil
	}
	addr := s.cfg.AdvertiseAddress.String()
	port := int32(s.cfg.Port)
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault, Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: addr}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: port, Protocol: corev1.ProtocolTCP}},
		}},
	}
	family := discoveryv1.AddressTypeIPv4
	if s.cfg.AdvertiseAddress.Is6() {
		family = discoveryv1.AddressTypeIPv6
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault, Labels: map[string]string{
			discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "berth-apiserver",
		}},
		AddressType: family,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: &port, Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	if err := s.ensureCurrent(ctx, core("endpoints"), ep, func(o runtime.Object) { o.(*corev1.Endpoints).Subsets = ep.Subsets }); err != nil {
		return err
	}
	return s.ensureCurrent(ctx, s.lookup(discoveryv1.SchemeGroupVersion, "endpointslices"), slice, func(o runtime.Object) {
		cur := o.(*discoveryv1.EndpointSlice)
		cur.AddressType, cur.Endpoints, cur.Ports = slice.AddressType, slice.Endpoints, slice.Ports
	})
}

// ensure creates obj through the normal create path unless it exists.
func (s *Server) ensure(ctx context.Context, res *resource, obj runtime.Object) error {
	obj.GetObjectKind().SetGroupVersionKind(res.gvk)
	acc, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	if _, err := s.store.Get(ctx, res.key(acc.GetNamespace(), acc.GetName())); err == nil {
		return nil
	}
	_, err = s.create(ctx, &request{res: res, user: systemUser}, res, "", obj, false)
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating %s: %w", res.GroupResource(), err)
	}
	return nil
}

// ensureCurrent creates obj, or brings the existing one up to date with set.
func (s *Server) ensureCurrent(ctx context.Context, res *resource, obj runtime.Object, set func(runtime.Object)) error {
	if err := s.ensure(ctx, res, obj); err != nil {
		return err
	}
	acc, _ := meta.Accessor(obj)
	req := &request{res: res, user: systemUser}
	_, _, err := s.update(ctx, req, res, acc.GetNamespace(), acc.GetName(), "", false, false, func(old runtime.Object) (runtime.Object, error) {
		if old == nil {
			return nil, notFound(res, acc.GetName())
		}
		set(old)
		return old, nil
	})
	return err
}

// Default is an object the server ensures at every start (Config.Defaults).
type Default struct {
	// Object is created when missing: a typed object of a served kind.
	Object runtime.Object
	// Reconcile, when set, brings the stored object (a copy) up to date,
	// and says whether it changed it.
	Reconcile func(stored runtime.Object) (runtime.Object, bool)
}

// ensureDefaults creates or reconciles every Config.Defaults object. The
// objects are independent: they are written concurrently, so that their
// writes share the store's commits.
func (s *Server) ensureDefaults(ctx context.Context) error {
	errs := make([]error, len(s.cfg.Defaults))
	var wg sync.WaitGroup
	for i, d := range s.cfg.Defaults {
		wg.Go(func() { errs[i] = s.ensureDefault(ctx, d) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ensureDefault creates d's object when missing, or reconciles it.
func (s *Server) ensureDefault(ctx context.Context, d Default) error {
	s.setTypeMeta(d.Object)
	gvk := d.Object.GetObjectKind().GroupVersionKind()
	res := s.lookupKind(gvk)
	if res == nil {
		return fmt.Errorf("default object of kind %s: not served", gvk)
	}
	acc, err := meta.Accessor(d.Object)
	if err != nil {
		return err
	}
	cur, _, err := s.getStored(ctx, res, acc.GetNamespace(), acc.GetName())
	if apierrors.IsNotFound(err) {
		return s.ensure(ctx, res, d.Object)
	}
	if err != nil {
		return fmt.Errorf("reading %s %q: %w", res.GroupResource(), acc.GetName(), err)
	}
	if d.Reconcile == nil {
		return nil
	}
	if _, changed := d.Reconcile(cur); !changed {
		return nil
	}
	req := &request{res: res, user: systemUser}
	_, _, err = s.update(ctx, req, res, acc.GetNamespace(), acc.GetName(), "", false, false, func(old runtime.Object) (runtime.Object, error) {
		if old == nil {
			return nil, notFound(res, acc.GetName())
		}
		out, _ := d.Reconcile(old)
		return out, nil
	})
	if err != nil {
		return fmt.Errorf("reconciling %s %q: %w", res.GroupResource(), acc.GetName(), err)
	}
	return nil
}

// lookupKind finds the served resource of a kind.
func (s *Server) lookupKind(gvk schema.GroupVersionKind) *resource {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, r := range s.resources[gvk.GroupVersion()] {
		if r.gvk == gvk && r.storage == nil {
			return r
		}
	}
	return nil
}
