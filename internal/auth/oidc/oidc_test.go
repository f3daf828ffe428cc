package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"berth.dev/berth/internal/auth"
)

// provider is an OpenID provider on a local TLS server.
type provider struct {
	srv *httptest.Server

	mu   sync.Mutex // guards keys
	keys []jose.JSONWebKey
	// jwksFetches counts the key set downloads.
	jwksFetches int
}

func newProvider(t *testing.T) *provider {
	t.Helper()
	p := &provider{}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": p.srv.URL, "jwks_uri": p.srv.URL + "/keys",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.jwksFetches++
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: p.keys})
	})
	p.srv = httptest.NewTLSServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *provider) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw})
}

// addKey publishes a new signing key and returns it.
func (p *provider) addKey(t *testing.T, kid string) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.keys = append(p.keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"})
	p.mu.Unlock()
	return k
}

func sign(t *testing.T, key any, alg jose.SignatureAlgorithm, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader("kid", kid)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAuthenticator(t *testing.T) {
	p := newProvider(t)
	key := p.addKey(t, "k1")
	now := time.Now()
	claims := func(edit map[string]any) map[string]any {
		c := map[string]any{
			"iss": p.srv.URL, "aud": "berth", "sub": "u-123", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
			"email": "jane@example.com", "email_verified": true, "groups": []string{"dev", "ops"}, "hd": "example.com",
		}
		for k, v := range edit {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     Config
		token   string
		want    auth.User
		notOurs bool
		wantErr string
	}{
		{name: "sub prefixed with the issuer", token: sign(t, key, jose.RS256, "k1", claims(nil)),
			want: auth.User{Name: p.srv.URL + "#u-123"}},
		{name: "email unprefixed, groups prefixed", cfg: Config{UsernameClaim: "email", GroupsClaim: "groups", GroupsPrefix: "oidc:"},
			token: sign(t, key, jose.RS256, "k1", claims(nil)), want: auth.User{Name: "jane@example.com", Groups: []string{"oidc:dev", "oidc:ops"}}},
		{name: "explicit prefix", cfg: Config{UsernamePrefix: "corp:"}, token: sign(t, key, jose.RS256, "k1", claims(nil)), want: auth.User{Name: "corp:u-123"}},
		{name: "no prefix", cfg: Config{UsernamePrefix: "-", GroupsClaim: "groups"}, token: sign(t, key, jose.RS256, "k1", claims(map[string]any{"groups": "solo"})),
			want: auth.User{Name: "u-123", Groups: []string{"solo"}}},
		{name: "unverified email", cfg: Config{UsernameClaim: "email"}, token: sign(t, key, jose.RS256, "k1", claims(map[string]any{"email_verified": false})), wantErr: "email not verified"},
		{name: "required claim met", cfg: Config{RequiredClaims: map[string]string{"hd": "example.com"}}, token: sign(t, key, jose.RS256, "k1", claims(nil)), want: auth.User{Name: p.srv.URL + "#u-123"}},
		{name: "required claim differs", cfg: Config{RequiredClaims: map[string]string{"hd": "evil.com"}}, token: sign(t, key, jose.RS256, "k1", claims(nil)), wantErr: "does not match"},
		{name: "required claim missing", cfg: Config{RequiredClaims: map[string]string{"tenant": "x"}}, token: sign(t, key, jose.RS256, "k1", claims(nil)), wantErr: "not found"},
		{name: "groups of the wrong type", cfg: Config{GroupsClaim: "groups"}, token: sign(t, key, jose.RS256, "k1", claims(map[string]any{"groups": 7})), wantErr: "list of strings"},
		{name: "other audience", token: sign(t, key, jose.RS256, "k1", claims(map[string]any{"aud": "someone-else"})), wantErr: "audience"},
		{name: "expired", token: sign(t, key, jose.RS256, "k1", claims(map[string]any{"exp": now.Add(-time.Hour).Unix()})), wantErr: "expired"},
		{name: "signed by another key", token: sign(t, other, jose.RS256, "k1", claims(nil)), wantErr: "verify"},
		{name: "HS256", token: sign(t, []byte("0123456789abcdef0123456789abcdef"), jose.HS256, "k1", claims(nil)), wantErr: "verify"},
		{name: "alg none", token: func() string {
			parts := strings.Split(sign(t, key, jose.RS256, "k1", claims(nil)), ".")
			return "eyJhbGciOiJub25lIn0." + parts[1] + "."
		}(), wantErr: "verify"},
		{name: "other issuer", token: sign(t, key, jose.RS256, "k1", claims(map[string]any{"iss": "https://elsewhere"})), notOurs: true},
		{name: "not a JWT", token: "abcdef.0123456789abcdef", notOurs: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.IssuerURL, cfg.ClientID, cfg.CAPEM = p.srv.URL, "berth", p.caPEM()
			a, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			res, ok, err := a.AuthenticateToken(context.Background(), tt.token)
			switch {
			case tt.wantErr != "":
				if err == nil || ok || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want error containing %q", ok, err, tt.wantErr)
				}
			case tt.notOurs:
				if err != nil || ok {
					t.Fatalf("got %v, %v; want not recognised", ok, err)
				}
			default:
				if err != nil || !ok {
					t.Fatalf("got %v, %v", ok, err)
				}
				if diff := cmp.Diff(tt.want, res.User); diff != "" {
					t.Errorf("user (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	p := newProvider(t)
	k1 := p.addKey(t, "k1")
	a, err := New(Config{IssuerURL: p.srv.URL, ClientID: "berth", CAPEM: p.caPEM(), UsernamePrefix: "-"})
	if err != nil {
		t.Fatal(err)
	}
	c := map[string]any{"iss": p.srv.URL, "aud": []string{"other", "berth"}, "sub": "jane", "exp": time.Now().Add(time.Hour).Unix()}
	if _, ok, err := a.AuthenticateToken(context.Background(), sign(t, k1, jose.RS256, "k1", c)); !ok || err != nil {
		t.Fatalf("first key: %v %v", ok, err)
	}
	k2 := p.addKey(t, "k2")
	res, ok, err := a.AuthenticateToken(context.Background(), sign(t, k2, jose.RS256, "k2", c))
	if !ok || err != nil || res.User.Name != "jane" {
		t.Fatalf("a key published later: %v %v %+v", ok, err, res.User)
	}
	p.mu.Lock()
	fetches := p.jwksFetches
	p.mu.Unlock()
	if fetches != 2 {
		t.Errorf("key set fetched %d times, want 2 (once at first use, once for the unknown kid)", fetches)
	}
}

func TestProviderUntrusted(t *testing.T) {
	p := newProvider(t)
	key := p.addKey(t, "k1")
	// Without the CA file the provider's certificate is not trusted.
	a, err := New(Config{IssuerURL: p.srv.URL, ClientID: "berth"})
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, key, jose.RS256, "k1", map[string]any{"iss": p.srv.URL, "aud": "berth", "sub": "x", "exp": time.Now().Add(time.Hour).Unix()})
	if _, ok, err := a.AuthenticateToken(context.Background(), tok); ok || err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted provider: %v %v", ok, err)
	}
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []Config{
		{IssuerURL: "http://idp.example", ClientID: "x"},
		{IssuerURL: "https://idp.example"},
		{IssuerURL: "https://idp.example", ClientID: "x", CAPEM: []byte("nope")},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
