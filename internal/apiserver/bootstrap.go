package apiserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// bootstrap creates the objects every cluster has: the default namespaces.
// It is idempotent.
func (s *Server) bootstrap(ctx context.Context) error {
	core := schema.GroupVersion{Version: "v1"}
	nsRes := s.resources[core]["namespaces"]
	for _, name := range []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := s.ensure(ctx, nsRes, ns); err != nil {
			return err
		}
	}
	return nil
}

// ensure creates obj through the normal create path unless it exists.
func (s *Server) ensure(ctx context.Context, res *resource, obj runtime.Object) error {
	obj.GetObjectKind().SetGroupVersionKind(res.gvk)
	req := &request{res: res, user: systemUser}
	_, err := s.create(ctx, req, res, "", obj, false)
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating %s: %w", res.GroupResource(), err)
	}
	return nil
}
