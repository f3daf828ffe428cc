package rbac

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/auth"
)

// fixed is an authorizer with one answer.
type fixed struct {
	d      auth.Decision
	reason string
	err    error
}

func (f fixed) Authorize(context.Context, auth.Attributes) (auth.Decision, string, error) {
	return f.d, f.reason, f.err
}

func TestSubjectAccessReview(t *testing.T) {
	attrs := &authorizationv1.ResourceAttributes{Namespace: "ns", Verb: "get", Resource: "pods"}
	tests := []struct {
		name  string
		chain []auth.Authorizer
		want  authorizationv1.SubjectAccessReviewStatus
	}{
		{"allowed by the second", []auth.Authorizer{fixed{auth.NoOpinion, "first", nil}, fixed{auth.Allow, "yes", nil}},
			authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: "yes"}},
		{"denied", []auth.Authorizer{fixed{auth.Deny, "no", nil}, fixed{auth.Allow, "", nil}},
			authorizationv1.SubjectAccessReviewStatus{Denied: true, Reason: "no"}},
		{"nobody decides", []auth.Authorizer{fixed{auth.NoOpinion, "a", nil}, fixed{auth.NoOpinion, "", errors.New("broken")}, fixed{auth.NoOpinion, "b", nil}},
			authorizationv1.SubjectAccessReviewStatus{Reason: "a\nb", EvaluationError: "broken"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := (&Reviews{Authorizers: tt.chain}).Funcs()[schema.GroupResource{Group: "authorization.k8s.io", Resource: "subjectaccessreviews"}]
			out, err := f(context.Background(), auth.User{Name: "admin"}, &authorizationv1.SubjectAccessReview{
				Spec: authorizationv1.SubjectAccessReviewSpec{User: "u", ResourceAttributes: attrs},
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, out.(*authorizationv1.SubjectAccessReview).Status); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestReviewValidation(t *testing.T) {
	r := &Reviews{Authorizers: []auth.Authorizer{auth.Masters{}}}
	funcs := r.Funcs()
	gr := func(res string) schema.GroupResource {
		return schema.GroupResource{Group: "authorization.k8s.io", Resource: res}
	}
	both := authorizationv1.SubjectAccessReviewSpec{
		User:                  "u",
		ResourceAttributes:    &authorizationv1.ResourceAttributes{Verb: "get"},
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Verb: "get", Path: "/x"},
	}
	if _, err := funcs[gr("subjectaccessreviews")](context.Background(), auth.User{}, &authorizationv1.SubjectAccessReview{Spec: both}); !apierrors.IsInvalid(err) {
		t.Errorf("both attributes: %v", err)
	}
	noUser := authorizationv1.SubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get"}}
	if _, err := funcs[gr("subjectaccessreviews")](context.Background(), auth.User{}, &authorizationv1.SubjectAccessReview{Spec: noUser}); !apierrors.IsInvalid(err) {
		t.Errorf("no user: %v", err)
	}
	lsar := &authorizationv1.LocalSubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: "u", ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "other", Verb: "get"},
	}}
	lsar.Namespace = "ns"
	_, err := funcs[gr("localsubjectaccessreviews")](context.Background(), auth.User{}, lsar)
	if !apierrors.IsBadRequest(err) || err.Error() != "spec.resourceAttributes.namespace must match namespace: ns" {
		t.Errorf("namespace mismatch: %v", err)
	}
	ssar := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Verb: "get", Path: "/metrics"},
	}}
	out, err := funcs[gr("selfsubjectaccessreviews")](context.Background(), auth.User{Name: "root", Groups: []string{auth.SystemMasters}}, ssar)
	if err != nil || !out.(*authorizationv1.SelfSubjectAccessReview).Status.Allowed {
		t.Errorf("self review of a master: %v %v", out, err)
	}
}
