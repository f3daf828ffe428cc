package serviceaccount

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// header is a JWS protected header. Only RS256 is accepted: `none`, HMAC
// and every other algorithm are refused before any key is used.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid,omitempty"`
	Typ string `json:"typ,omitempty"`
}

const algRS256 = "RS256"

// maxTokenBytes bounds what is decoded from a bearer token.
const maxTokenBytes = 64 << 10

// b64 is strict about trailing bits, so that a token has one encoding only.
var b64 = base64.RawURLEncoding.Strict()

// KeyID is upstream's key ID for a public key: the unpadded base64url
// SHA-256 of its PKIX DER form. Tokens carry it in their `kid` header and
// the JWKS publishes it.
func KeyID(pub *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return b64.EncodeToString(sum[:]), nil
}

// sign returns claims as a compact RS256 JWS.
func sign(key *rsa.PrivateKey, kid string, claims any) (string, error) {
	h, err := json.Marshal(header{Alg: algRS256, Kid: kid})
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encoding claims: %w", err)
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("signing token: %w", err)
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// jws is a compact JWS split into its parts, not yet verified.
type jws struct {
	header  header
	payload []byte
	input   string // the signed part: header "." payload
	sig     []byte
}

// parseJWS splits and decodes a compact JWS without verifying it.
func parseJWS(token string) (*jws, error) {
	if len(token) > maxTokenBytes {
		return nil, errors.New("token too large")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS")
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("decoding header: %w", err)
	}
	var t jws
	if err := strictUnmarshal(hb, &t.header); err != nil {
		return nil, fmt.Errorf("decoding header: %w", err)
	}
	if t.payload, err = b64.DecodeString(parts[1]); err != nil {
		return nil, fmt.Errorf("decoding payload: %w", err)
	}
	if t.sig, err = b64.DecodeString(parts[2]); err != nil {
		return nil, fmt.Errorf("decoding signature: %w", err)
	}
	t.input = parts[0] + "." + parts[1]
	return &t, nil
}

// verify checks the signature with key: the header must name RS256.
func (t *jws) verify(key *rsa.PublicKey) error {
	if t.header.Alg != algRS256 {
		return fmt.Errorf("unsupported signing algorithm %q", t.header.Alg)
	}
	sum := sha256.Sum256([]byte(t.input))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], t.sig); err != nil {
		return errors.New("invalid signature")
	}
	return nil
}

// strictUnmarshal decodes one JSON object into v.
func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data")
	}
	return nil
}

// NumericDate is a JWT time: seconds since the epoch. Fractions are
// accepted and truncated.
type NumericDate int64

// UnmarshalJSON implements json.Unmarshaler.
func (d *NumericDate) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("numeric date: %w", err)
	}
	if math.IsNaN(f) || f < 0 || f > math.MaxInt64/2 {
		return fmt.Errorf("numeric date %v out of range", f)
	}
	*d = NumericDate(f)
	return nil
}

// Audience is a JWT aud claim: a string or an array of strings, always
// written as an array, as upstream.
type Audience []string

// UnmarshalJSON implements json.Unmarshaler.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*a = Audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("aud: %w", err)
	}
	*a = l
	return nil
}
