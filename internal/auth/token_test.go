package auth

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fixed accepts one token as one user, reporting the audiences it was
// asked for, and fails on "bad".
type fixed struct{ token string }

func (f fixed) AuthenticateToken(ctx context.Context, token string) (TokenResult, bool, error) {
	if token == "bad" {
		return TokenResult{}, false, errors.New("bad token")
	}
	if token != f.token {
		return TokenResult{}, false, nil
	}
	auds, _ := AudiencesFrom(ctx)
	return TokenResult{User: User{Name: "u", Groups: []string{"g"}}, Audiences: auds}, true, nil
}

func TestBearer(t *testing.T) {
	b := &Bearer{Token: fixed{"tok"}, Audiences: []string{"api"}}
	tests := []struct {
		header  string
		want    User
		ok      bool
		wantErr bool
	}{
		{header: "Bearer tok", ok: true, want: User{Name: "u", Groups: []string{"g", Authenticated}}},
		{header: "bearer   tok ", ok: true, want: User{Name: "u", Groups: []string{"g", Authenticated}}},
		{header: "Bearer other"},
		{header: "Basic dTpw"},
		{header: "Bearer"},
		{header: ""},
		{header: "Bearer bad", wantErr: true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/api", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		got, ok, err := b.Authenticate(r)
		if ok != tt.ok || (err != nil) != tt.wantErr {
			t.Errorf("%q: ok=%v err=%v", tt.header, ok, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%q: user (-want +got):\n%s", tt.header, diff)
		}
	}
}

func TestAudienceAgnostic(t *testing.T) {
	a := &AudienceAgnostic{Token: fixed{"tok"}, Audiences: []string{"api", "api2"}}
	for _, tt := range []struct {
		asked []string
		ok    bool
		want  []string
	}{
		{asked: nil, ok: true},
		{asked: []string{"api"}, ok: true, want: []string{"api"}},
		{asked: []string{"vault", "api2"}, ok: true, want: []string{"api2"}},
		{asked: []string{"vault"}},
	} {
		ctx := context.Background()
		if tt.asked != nil {
			ctx = WithAudiences(ctx, tt.asked)
		}
		res, ok, err := a.AuthenticateToken(ctx, "tok")
		if err != nil || ok != tt.ok {
			t.Errorf("asked %v: ok=%v err=%v", tt.asked, ok, err)
			continue
		}
		if ok && tt.want != nil {
			if diff := cmp.Diff(tt.want, res.Audiences); diff != "" {
				t.Errorf("asked %v: audiences (-want +got):\n%s", tt.asked, diff)
			}
		}
	}
}
