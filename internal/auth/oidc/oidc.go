// Package oidc authenticates people by the ID tokens of an OpenID Connect
// provider, as kube-apiserver's --oidc-* flags do: the token's issuer must
// be the configured one, its signature (RS256) must verify against the
// provider's keys (its JWKS, found through its discovery document and
// fetched again when a token names an unknown key), its aud must hold the
// client ID and it must not have expired. The user name comes from a
// claim (sub by default), prefixed with the issuer URL and "#" unless the
// claim is email or a prefix is configured; groups come from another.
//
// The provider is contacted on the first token, not at start, so that a
// provider that is down does not stop the API server; until discovery
// succeeds, its tokens fail.
package oidc

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"berth.dev/berth/internal/auth"
)

// Config configures an Authenticator; the fields are the --oidc-* flags.
type Config struct {
	// IssuerURL is the provider's https URL; tokens of other issuers are
	// not this authenticator's. Required.
	IssuerURL string
	// ClientID must be among the token's audiences. Required.
	ClientID string
	// UsernameClaim names the user; "" means sub.
	UsernameClaim string
	// UsernamePrefix is put before every user name; "" means IssuerURL+"#"
	// for claims other than email, and "-" means none.
	UsernamePrefix string
	// GroupsClaim, when set, is a string or list of strings of groups.
	GroupsClaim string
	// GroupsPrefix is put before every group.
	GroupsPrefix string
	// CAPEM verifies the provider's TLS certificate; nil means the system
	// roots.
	CAPEM []byte
	// RequiredClaims must all be present in the token with these values.
	RequiredClaims map[string]string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Authenticator verifies ID tokens of one provider. It is safe for
// concurrent use.
type Authenticator struct {
	cfg    Config
	client *http.Client

	mu sync.Mutex // guards verifier
	// verifier is set once discovery has succeeded.
	verifier *gooidc.IDTokenVerifier
}

var _ auth.TokenAuthenticator = (*Authenticator)(nil)

// New validates cfg and returns an Authenticator.
func New(cfg Config) (*Authenticator, error) {
	u, err := url.Parse(cfg.IssuerURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("oidc: issuer URL %q must be an https URL", cfg.IssuerURL)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("oidc: a client ID is required")
	}
	if cfg.UsernameClaim == "" {
		cfg.UsernameClaim = "sub"
	}
	switch {
	case cfg.UsernamePrefix == "-":
		cfg.UsernamePrefix = ""
	case cfg.UsernamePrefix == "" && cfg.UsernameClaim != "email":
		cfg.UsernamePrefix = cfg.IssuerURL + "#"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.CAPEM != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CAPEM) {
			return nil, errors.New("oidc: the CA file holds no PEM certificate")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &Authenticator{cfg: cfg, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

// AuthenticateToken implements auth.TokenAuthenticator.
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (auth.TokenResult, bool, error) {
	if !a.issuedByProvider(token) {
		return auth.TokenResult{}, false, nil
	}
	v, err := a.verifierFor(ctx)
	if err != nil {
		return auth.TokenResult{}, false, err
	}
	idt, err := v.Verify(gooidc.ClientContext(ctx, a.client), token)
	if err != nil {
		return auth.TokenResult{}, false, fmt.Errorf("oidc: verify token: %w", err)
	}
	var claims map[string]json.RawMessage
	if err := idt.Claims(&claims); err != nil {
		return auth.TokenResult{}, false, fmt.Errorf("oidc: parsing claims: %w", err)
	}
	u, err := a.user(claims)
	if err != nil {
		return auth.TokenResult{}, false, err
	}
	return auth.TokenResult{User: u}, true, nil
}

// issuedByProvider reads the unverified iss claim: only tokens that claim
// to come from the provider are verified against it.
func (a *Authenticator) issuedByProvider(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	return json.Unmarshal(payload, &c) == nil && c.Issuer == a.cfg.IssuerURL
}

// verifierFor returns the verifier, discovering the provider first if that
// has not yet succeeded.
func (a *Authenticator) verifierFor(ctx context.Context) (*gooidc.IDTokenVerifier, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.verifier != nil {
		return a.verifier, nil
	}
	p, err := gooidc.NewProvider(gooidc.ClientContext(ctx, a.client), a.cfg.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("oidc: discovering %s: %w", a.cfg.IssuerURL, err)
	}
	a.verifier = p.Verifier(&gooidc.Config{
		ClientID:             a.cfg.ClientID,
		SupportedSigningAlgs: []string{gooidc.RS256},
		Now:                  a.cfg.Now,
	})
	return a.verifier, nil
}

// user maps verified claims to the user, as upstream.
func (a *Authenticator) user(claims map[string]json.RawMessage) (auth.User, error) {
	for k, want := range a.cfg.RequiredClaims {
		raw, ok := claims[k]
		if !ok {
			return auth.User{}, fmt.Errorf("oidc: required claim %s not found", k)
		}
		var got string
		if err := json.Unmarshal(raw, &got); err != nil {
			return auth.User{}, fmt.Errorf("oidc: required claim %s: %w", k, err)
		}
		if got != want {
			return auth.User{}, fmt.Errorf("oidc: required claim %s value does not match. Got = %s, want = %s", k, got, want)
		}
	}
	var name string
	raw, ok := claims[a.cfg.UsernameClaim]
	if !ok {
		return auth.User{}, fmt.Errorf("oidc: claim %s not present", a.cfg.UsernameClaim)
	}
	if err := json.Unmarshal(raw, &name); err != nil || name == "" {
		return auth.User{}, fmt.Errorf("oidc: claim %s is not a non-empty string", a.cfg.UsernameClaim)
	}
	if a.cfg.UsernameClaim == "email" {
		// An email the provider says it has not verified names nobody.
		if raw, ok := claims["email_verified"]; ok {
			var verified bool
			if err := json.Unmarshal(raw, &verified); err != nil {
				return auth.User{}, fmt.Errorf("oidc: parsing email_verified: %w", err)
			}
			if !verified {
				return auth.User{}, fmt.Errorf("oidc: email not verified")
			}
		}
	}
	u := auth.User{Name: a.cfg.UsernamePrefix + name}
	if a.cfg.GroupsClaim == "" {
		return u, nil
	}
	raw, ok = claims[a.cfg.GroupsClaim]
	if !ok {
		return u, nil
	}
	groups, err := stringOrList(raw)
	if err != nil {
		return auth.User{}, fmt.Errorf("oidc: claim %s: %w", a.cfg.GroupsClaim, err)
	}
	for _, g := range groups {
		u.Groups = append(u.Groups, a.cfg.GroupsPrefix+g)
	}
	return u, nil
}

// stringOrList decodes a claim that is a string or a list of strings.
func stringOrList(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if bytes.HasPrefix(raw, []byte("[")) {
		var l []string
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, errors.New("must be a string or a list of strings")
		}
		return l, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, errors.New("must be a string or a list of strings")
	}
	return []string{s}, nil
}
