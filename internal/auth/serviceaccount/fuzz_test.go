package serviceaccount

import (
	"context"
	"crypto/rsa"
	"testing"
	"time"

	"berth.dev/berth/internal/auth"
)

// FuzzAuthenticateToken feeds arbitrary bearer tokens to the
// authenticator: none may be accepted (the fuzzer cannot sign), and
// nothing may panic.
func FuzzAuthenticateToken(f *testing.F) {
	key := testKey(f)
	iss, err := NewIssuer("", key)
	if err != nil {
		f.Fatal(err)
	}
	tok, _, err := iss.Issue(Request{ServiceAccount: sa, Audiences: []string{DefaultIssuer}, IssuedAt: t0, Expiration: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	legacy, err := iss.IssueLegacy(sa, sec)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{tok, legacy, "a.b.c", "..", "eyJhbGciOiJub25lIn0.e30.", tok[:len(tok)-2]} {
		f.Add(s)
	}
	a, err := NewAuthenticator(AuthenticatorConfig{Issuers: []string{DefaultIssuer}, Keys: []*rsa.PublicKey{&key.PublicKey}, Now: func() time.Time { return t0 }})
	if err != nil {
		f.Fatal(err)
	}
	a.UseObjects(world())
	ctx := auth.WithAudiences(context.Background(), []string{DefaultIssuer})
	f.Fuzz(func(t *testing.T, s string) {
		_, ok, _ := a.AuthenticateToken(ctx, s)
		if ok && s != tok {
			t.Fatalf("accepted a token it did not issue: %q", s)
		}
		if j, err := parseJWS(s); err == nil && j.verify(&key.PublicKey) == nil && s != tok && s != legacy {
			t.Fatalf("signature of %q verifies", s)
		}
	})
}
