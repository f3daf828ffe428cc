package bootstrap

import (
	"context"
	"crypto/subtle"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/auth"
)

// Authenticator accepts bootstrap tokens backed by their Secret in
// kube-system, as upstream's bootstrap token authenticator: the Secret
// must be of SecretType, not being deleted, hold the same id and secret,
// not be expired, and allow authentication. Anything else is not
// recognised (never an error), so that other authenticators may try.
//
// It reads Secrets through the server's auth.Objects, given with
// UseObjects before the first request; it is safe for concurrent use.
type Authenticator struct {
	// Now is the clock; nil means time.Now.
	Now     func() time.Time
	objects atomic.Pointer[auth.Objects]
}

var (
	_ auth.TokenAuthenticator = (*Authenticator)(nil)
	_ auth.ObjectsUser        = (*Authenticator)(nil)
)

// UseObjects implements auth.ObjectsUser.
func (a *Authenticator) UseObjects(o auth.Objects) { a.objects.Store(&o) }

// extraGroupPattern is what an auth-extra-groups entry must look like.
var extraGroupPattern = regexp.MustCompile(`^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$`)

// AuthenticateToken implements auth.TokenAuthenticator.
func (a *Authenticator) AuthenticateToken(_ context.Context, token string) (auth.TokenResult, bool, error) {
	tok, err := ParseToken(token)
	objs := a.objects.Load()
	if err != nil || objs == nil {
		return auth.TokenResult{}, false, nil
	}
	o, err := (*objs).Get(schema.GroupResource{Resource: "secrets"}, Namespace, tok.SecretName())
	if err != nil {
		return auth.TokenResult{}, false, nil
	}
	s, ok := o.(*corev1.Secret)
	if !ok || s.DeletionTimestamp != nil || s.Type != SecretType {
		return auth.TokenResult{}, false, nil
	}
	if subtle.ConstantTimeCompare(s.Data[KeyTokenSecret], []byte(tok.Secret)) != 1 || string(s.Data[KeyTokenID]) != tok.ID {
		return auth.TokenResult{}, false, nil
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	if Expired(s, now()) || string(s.Data[KeyUsageAuth]) != "true" {
		return auth.TokenResult{}, false, nil
	}
	groups, ok := groupsOf(s)
	if !ok {
		return auth.TokenResult{}, false, nil
	}
	return auth.TokenResult{User: auth.User{Name: UserPrefix + tok.ID, Groups: groups}}, true, nil
}

// Expired reports whether a bootstrap token Secret has expired at now. An
// expiration that does not parse counts as expired, as upstream.
func Expired(s *corev1.Secret, now time.Time) bool {
	exp, ok := Expiration(s)
	return ok && !now.Before(exp)
}

// Expiration returns a bootstrap token Secret's expiration; ok is false
// when it has none. One that does not parse is the zero time.
func Expiration(s *corev1.Secret) (time.Time, bool) {
	v, ok := s.Data[KeyExpiration]
	if !ok || len(v) == 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, string(v))
	if err != nil {
		return time.Time{}, true
	}
	return t, true
}

// groupsOf returns system:bootstrappers and the Secret's extra groups; ok
// is false when one of them is malformed.
func groupsOf(s *corev1.Secret) ([]string, bool) {
	groups := []string{Group}
	v := strings.TrimSpace(string(s.Data[KeyAuthExtraGroups]))
	if v == "" {
		return groups, true
	}
	for _, g := range strings.Split(v, ",") {
		g = strings.TrimSpace(g)
		if !extraGroupPattern.MatchString(g) {
			return nil, false
		}
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	return groups, true
}
