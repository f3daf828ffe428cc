package bootstrap

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Names and keys of bootstrap token Secrets, as upstream.
const (
	SecretType         = "bootstrap.kubernetes.io/token"
	SecretPrefix       = "bootstrap-token-"
	Namespace          = "kube-system"
	KeyTokenID         = "token-id"
	KeyTokenSecret     = "token-secret"
	KeyExpiration      = "expiration"
	KeyDescription     = "description"
	KeyUsageAuth       = "usage-bootstrap-authentication"
	KeyUsageSigning    = "usage-bootstrap-signing"
	KeyAuthExtraGroups = "auth-extra-groups"

	// UserPrefix is the prefix of bootstrap users' names.
	UserPrefix = "system:bootstrap:"
	// Group is the group of every bootstrap user.
	Group = "system:bootstrappers"
	// NodeGroup is the extra group `berth token create` gives its tokens:
	// nodes joining with them may ask for client certificates.
	NodeGroup = "system:bootstrappers:berth:default-node-token"
)

const (
	idLen      = 6
	secretLen  = 16
	tokenChars = "0123456789abcdefghijklmnopqrstuvwxyz"
)

// Token is a bootstrap token.
type Token struct {
	ID     string
	Secret string
}

// String is the token as clients send it: <id>.<secret>.
func (t Token) String() string { return t.ID + "." + t.Secret }

// SecretName is the name of the token's Secret in kube-system.
func (t Token) SecretName() string { return SecretPrefix + t.ID }

// ParseToken parses `<id>.<secret>`.
func ParseToken(s string) (Token, error) {
	id, secret, ok := strings.Cut(s, ".")
	if !ok || !validPart(id, idLen) || !validPart(secret, secretLen) {
		return Token{}, errors.New("a bootstrap token is <6 characters>.<16 characters> of [a-z0-9]")
	}
	return Token{ID: id, Secret: secret}, nil
}

// ValidID reports whether id is a well-formed token ID.
func ValidID(id string) bool { return validPart(id, idLen) }

func validPart(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(tokenChars, rune(s[i])) {
			return false
		}
	}
	return true
}

// GenerateToken returns a new random token.
func GenerateToken() (Token, error) {
	b := make([]byte, idLen+secretLen)
	for i := range b {
		// Rejection sampling keeps every character equally likely.
		for {
			var c [1]byte
			if _, err := rand.Read(c[:]); err != nil {
				return Token{}, fmt.Errorf("generating bootstrap token: %w", err)
			}
			if int(c[0]) < 256-256%len(tokenChars) {
				b[i] = tokenChars[int(c[0])%len(tokenChars)]
				break
			}
		}
	}
	return Token{ID: string(b[:idLen]), Secret: string(b[idLen:])}, nil
}

// JoinTokenPrefix starts every berth join token and names its format.
const JoinTokenPrefix = "berth1."

// JoinToken is a parsed join token: the bootstrap token and the hash the
// cluster CA's public key must have.
type JoinToken struct {
	// CAHash is the SHA-256 of the CA certificate's SubjectPublicKeyInfo.
	CAHash [sha256.Size]byte
	Token  Token
}

// String formats the join token: berth1.sha256:<hex>.<id>.<secret>.
func (j JoinToken) String() string {
	return JoinTokenPrefix + "sha256:" + hex.EncodeToString(j.CAHash[:]) + "." + j.Token.String()
}

// ParseJoinToken parses berth1.sha256:<64 lower-case hex digits>.<id>.<secret>.
func ParseJoinToken(s string) (JoinToken, error) {
	rest, ok := strings.CutPrefix(s, JoinTokenPrefix+"sha256:")
	if !ok {
		return JoinToken{}, errors.New("a join token starts with " + JoinTokenPrefix + "sha256:")
	}
	hash, tok, ok := strings.Cut(rest, ".")
	if !ok || len(hash) != 2*sha256.Size || strings.ToLower(hash) != hash {
		return JoinToken{}, errors.New("a join token's CA hash is 64 lower-case hex digits")
	}
	var j JoinToken
	if _, err := hex.Decode(j.CAHash[:], []byte(hash)); err != nil {
		return JoinToken{}, errors.New("a join token's CA hash is 64 lower-case hex digits")
	}
	t, err := ParseToken(tok)
	if err != nil {
		return JoinToken{}, fmt.Errorf("join token: %w", err)
	}
	j.Token = t
	return j, nil
}

// CAHash returns the SHA-256 of ca's SubjectPublicKeyInfo.
func CAHash(ca *x509.Certificate) [sha256.Size]byte {
	return sha256.Sum256(ca.RawSubjectPublicKeyInfo)
}

// MatchesCA reports whether ca is the CA the join token pins.
func (j JoinToken) MatchesCA(ca *x509.Certificate) bool {
	return CAHash(ca) == j.CAHash
}
