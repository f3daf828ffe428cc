package bootstrap

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseJoinToken(t *testing.T) {
	hash := strings.Repeat("0a", 32)
	var h [sha256.Size]byte
	hex.Decode(h[:], []byte(hash))
	tests := []struct {
		in      string
		want    JoinToken
		wantErr bool
	}{
		{in: "berth1.sha256:" + hash + ".abcdef.0123456789abcdef", want: JoinToken{CAHash: h, Token: Token{"abcdef", "0123456789abcdef"}}},
		{in: "berth1.sha256:" + strings.ToUpper(hash) + ".abcdef.0123456789abcdef", wantErr: true},
		{in: "berth1.sha256:" + hash[2:] + ".abcdef.0123456789abcdef", wantErr: true},
		{in: "berth1.sha256:" + hash + ".abcdef.0123456789abcdeF", wantErr: true},
		{in: "berth1.sha256:" + hash + ".abcde.0123456789abcdef0", wantErr: true},
		{in: "berth1.sha256:" + hash + ".abcdef0123456789abcdef", wantErr: true},
		{in: "berth2.sha256:" + hash + ".abcdef.0123456789abcdef", wantErr: true},
		{in: "K10" + hash + "::abcdef.0123456789abcdef", wantErr: true},
		{in: "berth1.sha256:" + strings.Repeat("zz", 32) + ".abcdef.0123456789abcdef", wantErr: true},
		{in: "abcdef.0123456789abcdef", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseJoinToken(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseJoinToken(%q) error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseJoinToken(%q) (-want +got):\n%s", tt.in, diff)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}

func TestJoinTokenPinsCA(t *testing.T) {
	ca := func() *x509.Certificate {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), IsCA: true, BasicConstraintsValid: true}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	mine, other := ca(), ca()
	tok, err := GenerateToken()
	if err != nil {
		t.Fatal(err)
	}
	j, err := ParseJoinToken(JoinToken{CAHash: CAHash(mine), Token: tok}.String())
	if err != nil {
		t.Fatal(err)
	}
	if !j.MatchesCA(mine) || j.MatchesCA(other) {
		t.Errorf("MatchesCA: mine %v, other %v", j.MatchesCA(mine), j.MatchesCA(other))
	}
	if want := sha256.Sum256(mine.RawSubjectPublicKeyInfo); j.CAHash != want {
		t.Errorf("hash is not the SPKI's SHA-256")
	}
}

func TestGenerateToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, err := GenerateToken()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseToken(tok.String()); err != nil {
			t.Fatalf("generated %q: %v", tok, err)
		}
		if seen[tok.ID] {
			t.Fatalf("ID %q generated twice", tok.ID)
		}
		seen[tok.ID] = true
	}
}

func FuzzParseJoinToken(f *testing.F) {
	f.Add("berth1.sha256:" + strings.Repeat("ab", 32) + ".abcdef.0123456789abcdef")
	f.Add("berth1.sha256:..")
	f.Add("abcdef.0123456789abcdef")
	f.Fuzz(func(t *testing.T, s string) {
		j, err := ParseJoinToken(s)
		if err != nil {
			return
		}
		if j.String() != s {
			t.Fatalf("%q parsed, but formats as %q", s, j.String())
		}
		if _, err := ParseToken(j.Token.String()); err != nil {
			t.Fatalf("%q: its bootstrap token does not parse: %v", s, err)
		}
	})
}
