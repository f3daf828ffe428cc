package auth

import (
	"context"
	"net/http"
	"slices"
	"strings"
)

// TokenResult is what a TokenAuthenticator establishes: the user, and the
// audiences of the token that the request asked for (empty for tokens
// that carry no audience).
type TokenResult struct {
	User      User
	Audiences []string
}

// TokenAuthenticator authenticates bearer tokens. ok is false when the
// token is not of a kind it issues; err is set when the token is of its
// kind but invalid (bad signature, expired, revoked). The audiences the
// token must be good for are in ctx (WithAudiences); none means the API
// server's own.
type TokenAuthenticator interface {
	AuthenticateToken(ctx context.Context, token string) (r TokenResult, ok bool, err error)
}

type audiencesKey struct{}

// WithAudiences returns a context asking token authenticators for a token
// good for one of auds, as a TokenReview's spec.audiences does.
func WithAudiences(ctx context.Context, auds []string) context.Context {
	return context.WithValue(ctx, audiencesKey{}, auds)
}

// AudiencesFrom returns the audiences ctx asks for.
func AudiencesFrom(ctx context.Context) ([]string, bool) {
	a, ok := ctx.Value(audiencesKey{}).([]string)
	return a, ok && len(a) > 0
}

// Intersect returns the members of a also in b, in a's order.
func Intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// Bearer authenticates requests by their `Authorization: Bearer <token>`
// header with Token, as upstream's bearertoken authenticator. A token
// authenticator that knows no audiences (static and bootstrap tokens) is
// wrapped with AudienceAgnostic by its builder, not here.
type Bearer struct {
	Token TokenAuthenticator
	// Audiences are the API server's own audiences, asked for on every
	// request.
	Audiences []string
}

var (
	_ Authenticator      = (*Bearer)(nil)
	_ TokenAuthenticator = (*Bearer)(nil)
	_ ObjectsUser        = (*Bearer)(nil)
)

// BearerToken returns the token of r's Authorization header, or "" when
// it has none or it is not a bearer token.
func BearerToken(r *http.Request) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// Authenticate implements Authenticator.
func (b *Bearer) Authenticate(r *http.Request) (User, bool, error) {
	tok := BearerToken(r)
	if tok == "" {
		return User{}, false, nil
	}
	res, ok, err := b.AuthenticateToken(WithAudiences(r.Context(), b.Audiences), tok)
	if err != nil || !ok {
		return User{}, ok, err
	}
	return res.User, true, nil
}

// AuthenticateToken implements TokenAuthenticator, for TokenReview: the
// audiences default to the API's, and the user gets the group
// system:authenticated as every authenticated user does.
func (b *Bearer) AuthenticateToken(ctx context.Context, token string) (TokenResult, bool, error) {
	if _, ok := AudiencesFrom(ctx); !ok {
		ctx = WithAudiences(ctx, b.Audiences)
	}
	res, ok, err := b.Token.AuthenticateToken(ctx, token)
	if err != nil || !ok {
		return TokenResult{}, ok, err
	}
	if !slices.Contains(res.User.Groups, Authenticated) {
		res.User.Groups = append(slices.Clip(res.User.Groups), Authenticated)
	}
	return res, true, nil
}

// Authenticated is the group of every authenticated user.
const Authenticated = "system:authenticated"

// UseObjects passes the object reader on to Token.
func (b *Bearer) UseObjects(o Objects) {
	if u, ok := b.Token.(ObjectsUser); ok {
		u.UseObjects(o)
	}
}

// AudienceAgnostic adapts a token authenticator whose tokens carry no
// audience (static, bootstrap) as upstream does: such a token is good only
// for the API server's own audiences, so a request for other audiences is
// not authenticated, and one for the API's gets those it asked for.
type AudienceAgnostic struct {
	Token TokenAuthenticator
	// Audiences are the API server's own audiences.
	Audiences []string
}

var (
	_ TokenAuthenticator = (*AudienceAgnostic)(nil)
	_ ObjectsUser        = (*AudienceAgnostic)(nil)
)

// AuthenticateToken implements TokenAuthenticator.
func (a *AudienceAgnostic) AuthenticateToken(ctx context.Context, token string) (TokenResult, bool, error) {
	want, asked := AudiencesFrom(ctx)
	res, ok, err := a.Token.AuthenticateToken(ctx, token)
	if err != nil || !ok {
		return res, ok, err
	}
	if !asked {
		return res, true, nil
	}
	auds := Intersect(want, a.Audiences)
	if len(auds) == 0 {
		return TokenResult{}, false, nil
	}
	res.Audiences = auds
	return res, true, nil
}

// UseObjects passes the object reader on to Token.
func (a *AudienceAgnostic) UseObjects(o Objects) {
	if u, ok := a.Token.(ObjectsUser); ok {
		u.UseObjects(o)
	}
}
