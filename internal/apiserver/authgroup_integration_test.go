package apiserver

import (
	"context"
	"net/http"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"berth.dev/berth/internal/auth"
)

// headerAuth authenticates a request by its X-Test-User header, in no group.
type headerAuth struct{}

func (headerAuth) Authenticate(r *http.Request) (auth.User, bool, error) {
	name := r.Header.Get("X-Test-User")
	return auth.User{Name: name}, name != "", nil
}

// TestAuthenticatedGroup: whatever authenticator recognises a user, the
// user is in system:authenticated, and so holds what RBAC's default
// policy grants that group.
func TestAuthenticatedGroup(t *testing.T) {
	ts := startTestServerWith(t, func(c *Config) {
		c.Authenticators = append([]auth.Authenticator{headerAuth{}}, c.Authenticators...)
	})
	cfg := ts.config(nil, nil)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			r = r.Clone(r.Context())
			r.Header.Set("X-Test-User", "carol")
			return rt.RoundTrip(r)
		})
	})
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := cs.AuthorizationV1().SelfSubjectRulesReviews().Create(context.Background(), &authorizationv1.SelfSubjectRulesReview{
		Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: "default"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("a user the header authenticates may review its rules (system:basic-user): %v", err)
	}
	if len(rr.Status.NonResourceRules) == 0 {
		t.Errorf("no discovery rules: %+v", rr.Status)
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
