package tokenfile

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"berth.dev/berth/internal/auth"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		want    map[string]auth.User
		wantErr string
	}{
		{name: "empty", file: "", want: map[string]auth.User{}},
		{name: "three columns", file: "tok,alice,1\n", want: map[string]auth.User{"tok": {Name: "alice", UID: "1"}}},
		{name: "groups quoted", file: `tok,alice,1,"a,b"` + "\n", want: map[string]auth.User{"tok": {Name: "alice", UID: "1", Groups: []string{"a", "b"}}}},
		{name: "one group unquoted, extra columns ignored", file: "tok,alice,1,a,x,y\n", want: map[string]auth.User{"tok": {Name: "alice", UID: "1", Groups: []string{"a"}}}},
		{name: "empty groups", file: "tok,alice,1,\n", want: map[string]auth.User{"tok": {Name: "alice", UID: "1"}}},
		{name: "empty token skipped", file: ",alice,1\ntok,bob,2\n", want: map[string]auth.User{"tok": {Name: "bob", UID: "2"}}},
		{name: "duplicate: last wins", file: "tok,alice,1\ntok,bob,2\n", want: map[string]auth.User{"tok": {Name: "bob", UID: "2"}}},
		{name: "no trailing newline, CRLF", file: "a,alice,1\r\nb,bob,2", want: map[string]auth.User{"a": {Name: "alice", UID: "1"}, "b": {Name: "bob", UID: "2"}}},
		{name: "too few columns", file: "tok,alice,1\ntok2,bob\n", wantErr: "line 2: must have at least 3 columns"},
		{name: "bad quoting", file: `tok,"alice,1` + "\n", wantErr: "quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.file))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.users); diff != "" {
				t.Errorf("users (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAuthenticateToken(t *testing.T) {
	tokens, err := Parse(strings.NewReader("secret-1,alice,1,\"g\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		token string
		ok    bool
	}{{"secret-1", true}, {"secret-2", false}, {"secret-", false}, {"", false}} {
		res, ok, err := tokens.AuthenticateToken(context.Background(), tt.token)
		if err != nil || ok != tt.ok {
			t.Errorf("%q: ok=%v err=%v, want ok=%v", tt.token, ok, err, tt.ok)
		}
		if ok && res.User.Name != "alice" {
			t.Errorf("%q: user %+v", tt.token, res.User)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"tok,alice,1,\"a,b\"\n", ",,\n", "a,b\n", `"`, "a,b,c,d,e\r\n\"x\"\"y\",z,1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tokens, err := Parse(strings.NewReader(s))
		if err != nil {
			return
		}
		for tok, u := range tokens.users {
			if tok == "" {
				t.Fatal("empty token accepted")
			}
			res, ok, err := tokens.AuthenticateToken(context.Background(), tok)
			if !ok || err != nil || res.User.Name != u.Name {
				t.Fatalf("token %q from the file is not its user's", tok)
			}
		}
	})
}
