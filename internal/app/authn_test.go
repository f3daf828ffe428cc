package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"berth.dev/berth/internal/apiserver"
	"berth.dev/berth/internal/auth"
	"berth.dev/berth/internal/auth/bootstrap"
	"berth.dev/berth/internal/auth/oidc"
	"berth.dev/berth/internal/auth/pki"
	"berth.dev/berth/internal/auth/serviceaccount"
	"berth.dev/berth/internal/auth/tokenfile"
)

// kind names an authenticator of the chain for comparison.
func kind(a auth.Authenticator) string {
	b, ok := a.(*auth.Bearer)
	if !ok {
		return fmt.Sprintf("%T", a)
	}
	t := b.Token
	if ag, ok := t.(*auth.AudienceAgnostic); ok {
		t = ag.Token
	}
	switch t.(type) {
	case *tokenfile.Tokens:
		return "static"
	case *bootstrap.Authenticator:
		return "bootstrap"
	case *serviceaccount.Authenticator:
		return "serviceaccount"
	case *oidc.Authenticator:
		return "oidc"
	}
	return fmt.Sprintf("%T", t)
}

func TestAuthnOptions(t *testing.T) {
	dir := t.TempDir()
	keys, err := pki.Ensure(pki.Config{Dir: filepath.Join(dir, "pki")})
	if err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte("s3cret,alice,1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		o       authnOptions
		want    []string
		wantErr bool
	}{
		{name: "defaults", want: []string{"*auth.X509", "bootstrap", "serviceaccount"}},
		{name: "everything", o: authnOptions{tokenFile: tokens, oidcIssuerURL: "https://idp.example", oidcClientID: "berth"},
			want: []string{"*auth.X509", "static", "bootstrap", "serviceaccount", "oidc"}},
		{name: "missing token file", o: authnOptions{tokenFile: filepath.Join(dir, "none")}, wantErr: true},
		{name: "issuer without client", o: authnOptions{oidcIssuerURL: "https://idp.example"}, wantErr: true},
		{name: "plain http issuer", o: authnOptions{oidcIssuerURL: "http://idp.example", oidcClientID: "x"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := apiserver.NewConfig(nil, keys, apiserver.Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = tt.o.apply(&cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("apply: %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			var got []string
			for _, a := range cfg.Authenticators {
				got = append(got, kind(a))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("chain (-want +got):\n%s", diff)
			}
			if tt.o.tokenFile != "" {
				res, ok, err := cfg.Authenticators[1].(auth.TokenAuthenticator).AuthenticateToken(context.Background(), "s3cret")
				if !ok || err != nil || res.User.Name != "alice" {
					t.Errorf("static token: %v %v %+v", ok, err, res)
				}
			}
		})
	}
}
