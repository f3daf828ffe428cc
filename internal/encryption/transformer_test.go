package encryption

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"strings"
	"testing"

	"golang.org/x/crypto/nacl/secretbox"
)

func mustTransformer(t testing.TB, providers string) *transformer {
	t.Helper()
	c, err := Parse([]byte(configYAML("[secrets]", providers)))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := newTransformer(c.Resources[0].Providers)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestLayout decrypts what each provider wrote with the standard library
// alone, following upstream's layout, so stored data is upstream's format.
func TestLayout(t *testing.T) {
	secret, _ := base64.StdEncoding.DecodeString(key32)
	const storageKey = "/registry/core/secrets/ns/s"
	plain := []byte("the secret value")
	open := map[string]func(t *testing.T, data []byte) []byte{
		"aescbc": func(t *testing.T, data []byte) []byte {
			block, _ := aes.NewCipher(secret)
			out := make([]byte, len(data)-16)
			cipher.NewCBCDecrypter(block, data[:16]).CryptBlocks(out, data[16:])
			pad := int(out[len(out)-1])
			return out[:len(out)-pad]
		},
		"aesgcm": func(t *testing.T, data []byte) []byte {
			block, _ := aes.NewCipher(secret)
			aead, _ := cipher.NewGCM(block)
			out, err := aead.Open(nil, data[:12], data[12:], []byte(storageKey))
			if err != nil {
				t.Fatal(err)
			}
			return out
		},
		"secretbox": func(t *testing.T, data []byte) []byte {
			var nonce [24]byte
			var k [32]byte
			copy(nonce[:], data)
			copy(k[:], secret)
			out, ok := secretbox.Open(nil, data[24:], &nonce, &k)
			if !ok {
				t.Fatal("secretbox.Open failed")
			}
			return out
		},
	}
	for name, openFn := range open {
		t.Run(name, func(t *testing.T) {
			tr := mustTransformer(t, "  - "+name+": {keys: [{name: k1, secret: "+key32+"}]}\n")
			stored, err := tr.toStorage(storageKey, plain)
			if err != nil {
				t.Fatal(err)
			}
			prefix := "k8s:enc:" + name + ":v1:k1:"
			if !strings.HasPrefix(string(stored), prefix) {
				t.Fatalf("stored %q, want prefix %q", stored, prefix)
			}
			if bytes.Contains(stored, plain) {
				t.Fatal("stored value contains the plaintext")
			}
			if got := openFn(t, stored[len(prefix):]); !bytes.Equal(got, plain) {
				t.Errorf("decrypted by hand: %q, want %q", got, plain)
			}
			got, stale, err := tr.fromStorage(storageKey, stored)
			if err != nil || !bytes.Equal(got, plain) || stale {
				t.Errorf("fromStorage: %q, stale %v, %v", got, stale, err)
			}
		})
	}
}

func TestReadWithSeveralKeys(t *testing.T) {
	const k = "/registry/core/secrets/ns/s"
	oldOnly := mustTransformer(t, "  - aescbc: {keys: [{name: old, secret: "+key32+"}]}\n")
	rotated := mustTransformer(t, "  - aesgcm: {keys: [{name: new, secret: "+key32b+"}]}\n  - aescbc: {keys: [{name: old, secret: "+key32+"}]}\n  - identity: {}\n")
	newOnly := mustTransformer(t, "  - aesgcm: {keys: [{name: new, secret: "+key32b+"}]}\n")
	identityFirst := mustTransformer(t, "  - identity: {}\n  - aescbc: {keys: [{name: old, secret: "+key32+"}]}\n")

	oldData, _ := oldOnly.toStorage(k, []byte("v1"))
	newData, _ := rotated.toStorage(k, []byte("v2"))
	if !strings.HasPrefix(string(newData), "k8s:enc:aesgcm:v1:new:") {
		t.Fatalf("rotated config wrote %q, want the first provider's key", newData)
	}
	plainOut, _ := identityFirst.toStorage(k, []byte("v3"))
	if string(plainOut) != "v3" {
		t.Errorf("identity first wrote %q, want plain", plainOut)
	}
	tests := []struct {
		name    string
		tr      *transformer
		data    []byte
		want    string
		stale   bool
		wantErr bool
	}{
		{"old key after adding the new", rotated, oldData, "v1", true, false},
		{"new key", rotated, newData, "v2", false, false},
		{"plain through identity", rotated, []byte("plain"), "plain", true, false},
		{"old data after removing the old key", newOnly, oldData, "", false, true},
		{"plain without identity", newOnly, []byte("plain"), "", false, true},
		{"identity first still decrypts", identityFirst, oldData, "v1", true, false},
		{"identity first reads plain", identityFirst, []byte("plain"), "plain", false, false},
		{"identity refuses unknown ciphertext", identityFirst, newData, "", false, true},
		{"wrong storage key for aesgcm", rotated, func() []byte { d, _ := rotated.toStorage("/registry/core/secrets/ns/other", []byte("x")); return d }(), "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, stale, err := tt.tr.fromStorage(k, tt.data)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("fromStorage = %q, want an error", got)
				}
				return
			}
			if err != nil || string(got) != tt.want || stale != tt.stale {
				t.Fatalf("fromStorage = %q, stale %v, %v; want %q, stale %v", got, stale, err, tt.want, tt.stale)
			}
		})
	}
}
