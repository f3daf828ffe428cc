// Package tokenfile authenticates static bearer tokens listed in a CSV
// file, upstream's --token-auth-file: one token a line,
//
//	token,user,uid,"group1,group2"
//
// with the groups column optional and further columns ignored. Lines with
// an empty token are skipped; a token listed twice takes its last line.
// The file is read once, at start.
package tokenfile

import (
	"context"
	"crypto/subtle"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"berth.dev/berth/internal/auth"
)

// Tokens maps static tokens to their users. It is immutable and safe for
// concurrent use.
type Tokens struct {
	users map[string]auth.User
}

var _ auth.TokenAuthenticator = (*Tokens)(nil)

// Parse reads a token file.
func Parse(r io.Reader) (*Tokens, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	t := &Tokens{users: map[string]auth.User{}}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return nil, err
		}
		if len(rec) < 3 {
			line, _ := cr.FieldPos(0)
			return nil, fmt.Errorf("line %d: must have at least 3 columns (token, user name, user uid), found %d", line, len(rec))
		}
		if rec[0] == "" {
			continue
		}
		u := auth.User{Name: rec[1], UID: rec[2]}
		if len(rec) >= 4 && rec[3] != "" {
			u.Groups = strings.Split(rec[3], ",")
		}
		t.users[rec[0]] = u
	}
}

// Load reads the token file at path.
func Load(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading token file: %w", err)
	}
	defer f.Close()
	t, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	return t, nil
}

// Len is the number of tokens.
func (t *Tokens) Len() int { return len(t.users) }

// AuthenticateToken implements auth.TokenAuthenticator: a listed token is
// its user, any other token is not this authenticator's.
func (t *Tokens) AuthenticateToken(_ context.Context, token string) (auth.TokenResult, bool, error) {
	var found *auth.User
	// Compare with every token so that the time taken does not tell how
	// much of a guess was right.
	for tok, u := range t.users {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(token)) == 1 {
			found = &u
		}
	}
	if found == nil {
		return auth.TokenResult{}, false, nil
	}
	u := *found
	u.Groups = append([]string(nil), u.Groups...)
	return auth.TokenResult{User: u}, true, nil
}
