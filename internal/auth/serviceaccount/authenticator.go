package serviceaccount

import (
	"context"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/auth"
)

// leeway is the clock skew allowed on exp, nbf and iat, as go-jose's
// default that upstream uses.
const leeway = time.Minute

// deletedGrace is how long an object being deleted still backs a token:
// upstream invalidates a token only once its ServiceAccount, Secret, Pod
// or Node has carried a deletionTimestamp for more than a minute.
const deletedGrace = time.Minute

// Authenticator verifies ServiceAccount tokens: bound tokens of its
// issuers (signature, exp, nbf, iat, audience, and that the
// ServiceAccount and the bound Pod, Secret or Node still exist with the
// UIDs the token names) and legacy tokens (signature, and that the Secret
// still holds exactly that token for the ServiceAccount it names).
// Tokens of other issuers, and what is not a JWT, are not its concern.
//
// It reads objects through the server's auth.Objects, which it gets with
// UseObjects before the first request; it is safe for concurrent use.
type Authenticator struct {
	issuers []string
	keys    []*rsa.PublicKey
	now     func() time.Time
	objects atomic.Pointer[auth.Objects]
}

// AuthenticatorConfig configures an Authenticator.
type AuthenticatorConfig struct {
	// Issuers are the iss values of accepted bound tokens; at least one.
	Issuers []string
	// Keys verify signatures; at least one.
	Keys []*rsa.PublicKey
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var (
	_ auth.TokenAuthenticator = (*Authenticator)(nil)
	_ auth.ObjectsUser        = (*Authenticator)(nil)
)

// NewAuthenticator validates cfg and returns an Authenticator.
func NewAuthenticator(cfg AuthenticatorConfig) (*Authenticator, error) {
	if len(cfg.Issuers) == 0 || len(cfg.Keys) == 0 {
		return nil, errors.New("serviceaccount: an authenticator needs issuers and keys")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Authenticator{issuers: cfg.Issuers, keys: cfg.Keys, now: cfg.Now}, nil
}

// UseObjects implements auth.ObjectsUser.
func (a *Authenticator) UseObjects(o auth.Objects) { a.objects.Store(&o) }

// AuthenticateToken implements auth.TokenAuthenticator.
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (auth.TokenResult, bool, error) {
	t, err := parseJWS(token)
	if err != nil {
		return auth.TokenResult{}, false, nil
	}
	var c Claims
	if err := json.Unmarshal(t.payload, &c); err != nil {
		return auth.TokenResult{}, false, nil
	}
	legacy := c.Issuer == LegacyIssuer
	if !legacy && !slices.Contains(a.issuers, c.Issuer) {
		return auth.TokenResult{}, false, nil
	}
	if err := a.verify(t); err != nil {
		return auth.TokenResult{}, false, err
	}
	objs := a.objects.Load()
	if objs == nil {
		return auth.TokenResult{}, false, errors.New("serviceaccount: no object reader")
	}

	// Legacy tokens carry no audience: they are good for the API's own.
	tokenAuds := []string(c.Audience)
	wanted, _ := auth.AudiencesFrom(ctx)
	if len(tokenAuds) == 0 && legacy {
		tokenAuds = wanted
	}
	auds := auth.Intersect(tokenAuds, wanted)
	if len(auds) == 0 {
		return auth.TokenResult{}, false, fmt.Errorf("token audiences %q is invalid for the target audiences %q", tokenAuds, wanted)
	}

	var u auth.User
	if legacy {
		u, err = validateLegacy(*objs, token, &c)
	} else {
		u, err = a.validateBound(*objs, &c)
	}
	if err != nil {
		return auth.TokenResult{}, false, err
	}
	return auth.TokenResult{User: u, Audiences: auds}, true, nil
}

// verify checks t's signature against the keys, the one its kid names
// first.
func (a *Authenticator) verify(t *jws) error {
	if t.header.Alg != algRS256 {
		return fmt.Errorf("unsupported signing algorithm %q", t.header.Alg)
	}
	for _, k := range a.keys {
		if t.verify(k) == nil {
			return nil
		}
	}
	return errors.New("invalid signature")
}

// validateBound checks a bound token's times and that what it names still
// exists.
func (a *Authenticator) validateBound(objs auth.Objects, c *Claims) (auth.User, error) {
	now := a.now()
	if c.Expiry == nil {
		return auth.User{}, errors.New("service account token has no expiry")
	}
	if now.Add(-leeway).After(time.Unix(int64(*c.Expiry), 0)) {
		return auth.User{}, errors.New("service account token has expired")
	}
	if c.NotBefore != nil && now.Add(leeway).Before(time.Unix(int64(*c.NotBefore), 0)) {
		return auth.User{}, errors.New("service account token is not valid yet")
	}
	if c.IssuedAt != nil && now.Add(leeway).Before(time.Unix(int64(*c.IssuedAt), 0)) {
		return auth.User{}, errors.New("service account token is issued in the future")
	}
	k := c.Kubernetes
	if k == nil || k.Namespace == "" || k.ServiceAccount.Name == "" || k.ServiceAccount.UID == "" {
		return auth.User{}, errors.New("service account token claims are incomplete")
	}
	if c.Subject != UserName(k.Namespace, k.ServiceAccount.Name) {
		return auth.User{}, errors.New("service account token subject does not match its claims")
	}
	gone := now.Add(-deletedGrace)
	ns := k.Namespace
	if k.Pod != nil {
		if _, err := lookup[*corev1.Pod](objs, "pods", ns, k.Pod, gone); err != nil {
			return auth.User{}, err
		}
	}
	if k.Secret != nil {
		if _, err := lookup[*corev1.Secret](objs, "secrets", ns, k.Secret, gone); err != nil {
			return auth.User{}, err
		}
	}
	if k.Node != nil && k.Pod == nil {
		// A pod-bound token names its node for information only; a token
		// bound to the node itself lives as long as the node.
		if _, err := lookup[*corev1.Node](objs, "nodes", "", k.Node, gone); err != nil {
			return auth.User{}, err
		}
	}
	sa, err := lookup[*corev1.ServiceAccount](objs, "serviceaccounts", ns, &k.ServiceAccount, gone)
	if err != nil {
		return auth.User{}, err
	}
	u := saUser(sa)
	u.Extra = map[string][]string{}
	if k.Pod != nil {
		u.Extra[ExtraPodName] = []string{k.Pod.Name}
		u.Extra[ExtraPodUID] = []string{k.Pod.UID}
	}
	if k.Node != nil {
		u.Extra[ExtraNodeName] = []string{k.Node.Name}
		if k.Node.UID != "" {
			u.Extra[ExtraNodeUID] = []string{k.Node.UID}
		}
	}
	if c.ID != "" {
		u.Extra[ExtraCredentialID] = []string{"JTI=" + c.ID}
	}
	return u, nil
}

// validateLegacy checks that the Secret a legacy token names still holds
// that very token, for the ServiceAccount it names.
func validateLegacy(objs auth.Objects, token string, c *Claims) (auth.User, error) {
	if c.LegacyNamespace == "" || c.LegacySecretName == "" || c.LegacySAName == "" || c.LegacySAUID == "" {
		return auth.User{}, errors.New("service account token claims are incomplete")
	}
	if c.Subject != UserName(c.LegacyNamespace, c.LegacySAName) {
		return auth.User{}, errors.New("service account token subject does not match its claims")
	}
	invalid := errors.New("token has been invalidated")
	o, err := objs.Get(schema.GroupResource{Resource: "secrets"}, c.LegacyNamespace, c.LegacySecretName)
	if err != nil {
		return auth.User{}, invalid
	}
	secret, ok := o.(*corev1.Secret)
	if !ok || secret.DeletionTimestamp != nil {
		return auth.User{}, invalid
	}
	if subtle.ConstantTimeCompare(secret.Data[corev1.ServiceAccountTokenKey], []byte(token)) != 1 {
		return auth.User{}, errors.New("token does not match server's copy")
	}
	o, err = objs.Get(schema.GroupResource{Resource: "serviceaccounts"}, c.LegacyNamespace, c.LegacySAName)
	if err != nil {
		return auth.User{}, invalid
	}
	sa, ok := o.(*corev1.ServiceAccount)
	if !ok || sa.DeletionTimestamp != nil || string(sa.UID) != c.LegacySAUID {
		return auth.User{}, invalid
	}
	return saUser(sa), nil
}

// lookup returns the object ref names in namespace, checking its UID and
// that it was not marked deleted before gone.
func lookup[T interface {
	runtime.Object
	metav1.Object
}](objs auth.Objects, resource, namespace string, ref *Ref, gone time.Time) (T, error) {
	var zero T
	kind := resource[:len(resource)-1]
	if resource == "serviceaccounts" {
		kind = "service account"
	}
	o, err := objs.Get(schema.GroupResource{Resource: resource}, namespace, ref.Name)
	if apierrors.IsNotFound(err) {
		return zero, fmt.Errorf("%s %s has been deleted", kind, qualified(namespace, ref.Name))
	}
	if err != nil {
		return zero, fmt.Errorf("looking up %s %s: %w", kind, qualified(namespace, ref.Name), err)
	}
	obj, ok := o.(T)
	if !ok {
		return zero, fmt.Errorf("looking up %s %s: unexpected %T", kind, qualified(namespace, ref.Name), o)
	}
	if string(obj.GetUID()) != ref.UID {
		return zero, fmt.Errorf("%s UID (%s) does not match claim (%s)", kind, obj.GetUID(), ref.UID)
	}
	if dt := obj.GetDeletionTimestamp(); dt != nil && dt.Time.Before(gone) {
		return zero, errors.New("service account token has been invalidated")
	}
	return obj, nil
}

func qualified(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// saUser is the user of a ServiceAccount, without system:authenticated
// (which every authenticated user gets).
func saUser(sa *corev1.ServiceAccount) auth.User {
	return auth.User{
		Name:   UserName(sa.Namespace, sa.Name),
		UID:    string(sa.UID),
		Groups: []string{AllGroup, NamespacePrefix + sa.Namespace},
	}
}
