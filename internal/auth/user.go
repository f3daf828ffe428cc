// Package auth holds who a request comes from (User), how that is
// established (Authenticator) and whether it may act (Authorizer).
package auth

import (
	"context"
	"net/http"
)

// User is an authenticated identity, as upstream's user.Info.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// Authenticator establishes the user of a request. ok is false when the
// request carries no credentials this authenticator understands; err is
// set when it carries credentials that are invalid.
type Authenticator interface {
	Authenticate(r *http.Request) (u User, ok bool, err error)
}

// Attributes describe one request for authorization, as upstream's
// authorizer.Attributes.
type Attributes struct {
	User        User
	Verb        string
	IsResource  bool
	Namespace   string
	APIGroup    string
	APIVersion  string
	Resource    string
	Subresource string
	Name        string
	Path        string // for non-resource requests
}

// Decision is an authorizer's answer.
type Decision int

const (
	// NoOpinion lets the next authorizer decide; at the end of the chain it denies.
	NoOpinion Decision = iota
	Allow
	Deny
)

// Authorizer decides whether a request may proceed, with a reason for
// denials that users see.
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (d Decision, reason string, err error)
}

type userKey struct{}

// WithUser returns a context carrying u.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the user a context carries.
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}
