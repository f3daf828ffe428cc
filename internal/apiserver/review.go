package apiserver

import (
	"context"
	"net/http"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"berth.dev/berth/internal/auth"
)

// Reviewer answers one kind of review: obj is the decoded request (a
// *authenticationv1.TokenReview, *authorizationv1.SubjectAccessReview...)
// from user; the answer, usually obj with its status filled, goes back
// with 201 Created and is never stored.
type Reviewer func(ctx context.Context, user auth.User, obj runtime.Object) (runtime.Object, error)

func (s *Server) handleReview(w http.ResponseWriter, r *http.Request, req *request, obj runtime.Object) error {
	review := s.cfg.Reviewers[req.res.GroupResource()]
	if review == nil {
		return methodNotSupported(req.res, "create")
	}
	if acc, err := meta.Accessor(obj); err == nil && req.res.Namespaced {
		switch ns := acc.GetNamespace(); {
		case ns == "":
			acc.SetNamespace(req.info.Namespace)
		case ns != req.info.Namespace:
			return badRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	}
	out, err := review(r.Context(), req.user, obj)
	if err != nil {
		return err
	}
	return s.writeOne(w, req, http.StatusCreated, out, nil)
}
