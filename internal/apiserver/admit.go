package apiserver

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/admission"
)

// admissionFor describes a write for the admission chain; nil means the
// write is the server's own and is not admitted.
func (s *Server) admissionFor(req *request, res *resource, op admission.Operation, namespace, name string, obj, old runtime.Object, dry bool) *admission.Attributes {
	if req == nil || req.user.Name == systemUser.Name {
		return nil
	}
	return &admission.Attributes{
		Operation:   op,
		Kind:        res.gvk,
		Resource:    res.GroupVersionResource,
		Subresource: req.info.Subresource,
		Namespace:   namespace,
		Name:        name,
		Object:      obj,
		OldObject:   old,
		DryRun:      dry,
		User:        req.user,
	}
}

// mutate runs the mutating plugins on a, passing their warnings to the client.
func (s *Server) mutate(ctx context.Context, req *request, a *admission.Attributes) error {
	if a == nil {
		return nil
	}
	err := s.cfg.Admission.Admit(ctx, a)
	req.warnings = append(req.warnings, a.Warnings()...)
	return err
}

// admit runs the validating plugins on a. Warnings the mutating pass gave
// are not repeated.
func (s *Server) admit(ctx context.Context, req *request, a *admission.Attributes) error {
	if a == nil {
		return nil
	}
	seen := len(a.Warnings())
	err := s.cfg.Admission.Validate(ctx, a)
	req.warnings = append(req.warnings, a.Warnings()[seen:]...)
	return err
}

// admitSubresource admits the creation of a subresource object (a Binding,
// an Eviction) as upstream: operation CREATE, the subresource's own kind.
func (s *Server) admitSubresource(ctx context.Context, req *request, obj runtime.Object, gvk schema.GroupVersionKind, dry bool) error {
	in := req.info
	a := s.admissionFor(req, req.res, admission.Create, in.Namespace, in.Name, obj, nil, dry)
	if a == nil {
		return nil
	}
	a.Kind = gvk
	if err := s.mutate(ctx, req, a); err != nil {
		return err
	}
	return s.admit(ctx, req, a)
}
