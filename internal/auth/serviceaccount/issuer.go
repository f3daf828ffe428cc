package serviceaccount

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
)

// Issuer signs ServiceAccount tokens with the cluster's service-account
// key (RS256). It is immutable and safe for concurrent use.
type Issuer struct {
	url string
	key *rsa.PrivateKey
	kid string
}

// NewIssuer returns an Issuer whose bound tokens carry iss url ("" means
// DefaultIssuer).
func NewIssuer(url string, key *rsa.PrivateKey) (*Issuer, error) {
	if key == nil {
		return nil, errors.New("serviceaccount: no signing key")
	}
	if url == "" {
		url = DefaultIssuer
	}
	kid, err := KeyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Issuer{url: url, key: key, kid: kid}, nil
}

// URL is the issuer of bound tokens (the iss claim).
func (i *Issuer) URL() string { return i.url }

// PublicKey is the key tokens are verified with.
func (i *Issuer) PublicKey() *rsa.PublicKey { return &i.key.PublicKey }

// Request describes a bound token to issue.
type Request struct {
	ServiceAccount *corev1.ServiceAccount
	Audiences      []string
	// IssuedAt is when the token becomes valid; it expires Expiration later.
	IssuedAt   time.Time
	Expiration time.Duration
	// WarnAfter, when set, is recorded in the warnafter claim, IssuedAt
	// plus WarnAfter.
	WarnAfter time.Duration
	// The objects the token is bound to: at most one of Pod and Secret,
	// or a Node; a pod-bound token also names the pod's node when known.
	Pod    *corev1.Pod
	Secret *corev1.Secret
	Node   *corev1.Node
}

// Issue signs a bound token for r and returns it with its claims.
func (i *Issuer) Issue(r Request) (string, *Claims, error) {
	sa := r.ServiceAccount
	if sa == nil {
		return "", nil, errors.New("serviceaccount: no ServiceAccount to issue a token for")
	}
	date := func(t time.Time) *NumericDate { d := NumericDate(t.Unix()); return &d }
	c := &Claims{
		Issuer:    i.url,
		Subject:   UserName(sa.Namespace, sa.Name),
		Audience:  Audience(r.Audiences),
		IssuedAt:  date(r.IssuedAt),
		NotBefore: date(r.IssuedAt),
		Expiry:    date(r.IssuedAt.Add(r.Expiration)),
		ID:        uuid.NewString(),
		Kubernetes: &Private{
			Namespace:      sa.Namespace,
			ServiceAccount: Ref{Name: sa.Name, UID: string(sa.UID)},
		},
	}
	if r.WarnAfter > 0 {
		c.Kubernetes.WarnAfter = date(r.IssuedAt.Add(r.WarnAfter))
	}
	if r.Pod != nil {
		c.Kubernetes.Pod = &Ref{Name: r.Pod.Name, UID: string(r.Pod.UID)}
	}
	if r.Secret != nil {
		c.Kubernetes.Secret = &Ref{Name: r.Secret.Name, UID: string(r.Secret.UID)}
	}
	if r.Node != nil {
		c.Kubernetes.Node = &Ref{Name: r.Node.Name, UID: string(r.Node.UID)}
	}
	tok, err := sign(i.key, i.kid, c)
	if err != nil {
		return "", nil, err
	}
	return tok, c, nil
}

// IssueLegacy signs a Secret-based token for sa, stored in secret: no
// audience and no expiry, valid while the Secret holds it.
func (i *Issuer) IssueLegacy(sa *corev1.ServiceAccount, secret *corev1.Secret) (string, error) {
	if sa == nil || secret == nil {
		return "", errors.New("serviceaccount: a legacy token needs its ServiceAccount and Secret")
	}
	c := &Claims{
		Issuer:           LegacyIssuer,
		Subject:          UserName(sa.Namespace, sa.Name),
		LegacyNamespace:  sa.Namespace,
		LegacySecretName: secret.Name,
		LegacySAName:     sa.Name,
		LegacySAUID:      string(sa.UID),
	}
	tok, err := sign(i.key, i.kid, c)
	if err != nil {
		return "", fmt.Errorf("legacy token for %s/%s: %w", sa.Namespace, sa.Name, err)
	}
	return tok, nil
}
