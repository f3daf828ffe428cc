package join

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"strings"
)

// tokenPrefix starts every join token and names its format.
const tokenPrefix = "berth1.sha256:"

// Token is a parsed join token: the bootstrap token and the hash the
// cluster CA's public key must have.
type Token struct {
	// CAHash is the SHA-256 of the CA certificate's SubjectPublicKeyInfo.
	CAHash [sha256.Size]byte
	// ID and Secret make the bootstrap token <id>.<secret>.
	ID, Secret string
}

// BootstrapToken is the bearer token the agent authenticates with.
func (t Token) BootstrapToken() string { return t.ID + "." + t.Secret }

// String formats the join token: berth1.sha256:<hex>.<id>.<secret>.
func (t Token) String() string {
	return tokenPrefix + hex.EncodeToString(t.CAHash[:]) + "." + t.BootstrapToken()
}

// MatchesCA reports whether ca is the CA the token pins.
func (t Token) MatchesCA(ca *x509.Certificate) bool {
	return sha256.Sum256(ca.RawSubjectPublicKeyInfo) == t.CAHash
}

// ParseToken parses berth1.sha256:<64 lower-case hex digits>.<id>.<secret>,
// where the bootstrap token is 6 and 16 characters of [a-z0-9].
func ParseToken(s string) (Token, error) {
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok {
		return Token{}, errors.New("a join token starts with " + tokenPrefix)
	}
	hash, boot, ok := strings.Cut(rest, ".")
	var t Token
	if !ok || len(hash) != 2*sha256.Size || strings.ToLower(hash) != hash {
		return Token{}, errors.New("a join token's CA hash is 64 lower-case hex digits")
	}
	if _, err := hex.Decode(t.CAHash[:], []byte(hash)); err != nil {
		return Token{}, errors.New("a join token's CA hash is 64 lower-case hex digits")
	}
	t.ID, t.Secret, ok = strings.Cut(boot, ".")
	if !ok || !tokenPart(t.ID, 6) || !tokenPart(t.Secret, 16) {
		return Token{}, errors.New("a join token's bootstrap token is <6 characters>.<16 characters> of [a-z0-9]")
	}
	return t, nil
}

func tokenPart(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
