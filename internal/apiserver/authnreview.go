package apiserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/auth"
)

var (
	tokenReviews       = schema.GroupResource{Group: "authentication.k8s.io", Resource: "tokenreviews"}
	selfSubjectReviews = schema.GroupResource{Group: "authentication.k8s.io", Resource: "selfsubjectreviews"}
)

// authenticationReviewers returns the Reviewers with TokenReview and
// SelfSubjectReview answered by the server itself unless cfg has its own:
// both only need the server's authenticators.
func (s *Server) authenticationReviewers(in map[schema.GroupResource]Reviewer) map[schema.GroupResource]Reviewer {
	out := map[schema.GroupResource]Reviewer{tokenReviews: s.reviewToken, selfSubjectReviews: s.reviewSelf}
	for gr, r := range in {
		out[gr] = r
	}
	return out
}

// reviewToken answers a TokenReview as upstream: the token goes through
// every bearer-token authenticator for spec.audiences (the API's own when
// empty); the first that accepts it gives the user, and errors of the
// others are reported in status.error when none does.
func (s *Server) reviewToken(ctx context.Context, _ auth.User, obj runtime.Object) (runtime.Object, error) {
	tr := obj.(*authenticationv1.TokenReview)
	if tr.Namespace != "" {
		return nil, apierrors.NewBadRequest("namespace is not allowed on this type")
	}
	if tr.Spec.Token == "" {
		return nil, apierrors.NewBadRequest("token is required for TokenReview in authentication")
	}
	auds := tr.Spec.Audiences
	if len(auds) == 0 {
		auds = s.cfg.APIAudiences
	}
	ctx = auth.WithAudiences(ctx, auds)
	tr.Status = authenticationv1.TokenReviewStatus{}
	var errs []error
	for _, a := range s.cfg.Authenticators {
		ta, ok := a.(auth.TokenAuthenticator)
		if !ok {
			continue
		}
		res, ok, err := ta.AuthenticateToken(ctx, tr.Spec.Token)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			continue
		}
		if len(auds) > 0 && len(auth.Intersect(auds, res.Audiences)) == 0 {
			return nil, apierrors.NewInternalError(fmt.Errorf("error validating audience. want=%q got=%q", auds, res.Audiences))
		}
		tr.Status.Authenticated = true
		tr.Status.User = userInfo(res.User)
		tr.Status.Audiences = res.Audiences
		return tr, nil
	}
	if len(errs) > 0 {
		tr.Status.Error = errors.Join(errs...).Error()
	}
	return tr, nil
}

// reviewSelf answers a SelfSubjectReview (kubectl auth whoami) with the
// requesting user.
func (s *Server) reviewSelf(_ context.Context, u auth.User, obj runtime.Object) (runtime.Object, error) {
	r := obj.(*authenticationv1.SelfSubjectReview)
	out := &authenticationv1.SelfSubjectReview{
		ObjectMeta: metav1.ObjectMeta{Name: r.Name, CreationTimestamp: metav1.NewTime(s.now().Truncate(time.Second))},
		Status:     authenticationv1.SelfSubjectReviewStatus{UserInfo: userInfo(u)},
	}
	return out, nil
}

func userInfo(u auth.User) authenticationv1.UserInfo {
	info := authenticationv1.UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups}
	if len(u.Extra) > 0 {
		info.Extra = map[string]authenticationv1.ExtraValue{}
		for k, v := range u.Extra {
			info.Extra[k] = v
		}
	}
	return info
}
