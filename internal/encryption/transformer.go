package encryption

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"golang.org/x/crypto/nacl/secretbox"
)

// encPrefix starts every encrypted value; identity refuses to read such data.
const encPrefix = "k8s:enc:"

// cipherKey seals and opens values with one key. storageKey is the store
// key the value lives under (aesgcm authenticates it, as upstream does).
type cipherKey interface {
	seal(storageKey string, plain []byte) ([]byte, error)
	open(storageKey string, data []byte) ([]byte, error)
}

// prefixed is one provider key with its full prefix,
// "k8s:enc:<provider>:v1:<name>:"; identity has an empty prefix and a nil key.
type prefixed struct {
	prefix []byte
	key    cipherKey
}

// transformer stores one resource list's values: the first entry writes,
// the first entry whose prefix matches reads.
type transformer struct {
	entries []prefixed
}

// newTransformer builds the entries of a validated provider list.
func newTransformer(providers []ProviderConfiguration) (*transformer, error) {
	t := &transformer{}
	for _, p := range providers {
		var (
			name string
			keys []Key
			mk   func([]byte) (cipherKey, error)
		)
		switch {
		case p.Identity != nil:
			t.entries = append(t.entries, prefixed{prefix: []byte{}})
			continue
		case p.AESGCM != nil:
			name, keys, mk = "aesgcm", p.AESGCM.Keys, newGCM
		case p.AESCBC != nil:
			name, keys, mk = "aescbc", p.AESCBC.Keys, newCBC
		case p.Secretbox != nil:
			name, keys, mk = "secretbox", p.Secretbox.Keys, newSecretbox
		default:
			return nil, errors.New("unsupported provider")
		}
		for _, k := range keys {
			secret, err := base64.StdEncoding.DecodeString(k.Secret)
			if err != nil {
				return nil, fmt.Errorf("%s key %q: %w", name, k.Name, err)
			}
			ck, err := mk(secret)
			if err != nil {
				return nil, fmt.Errorf("%s key %q: %w", name, k.Name, err)
			}
			t.entries = append(t.entries, prefixed{prefix: []byte(encPrefix + name + ":v1:" + k.Name + ":"), key: ck})
		}
	}
	return t, nil
}

// toStorage encrypts plain with the first entry.
func (t *transformer) toStorage(storageKey string, plain []byte) ([]byte, error) {
	e := t.entries[0]
	if e.key == nil {
		return plain, nil
	}
	sealed, err := e.key.seal(storageKey, plain)
	if err != nil {
		return nil, err
	}
	return append(append(make([]byte, 0, len(e.prefix)+len(sealed)), e.prefix...), sealed...), nil
}

// errNoPrefix: no configured provider and key wrote this value.
var errNoPrefix = errors.New("no matching prefix found")

// fromStorage decrypts data with the entry its prefix names; stale
// reports that the entry is not the one that writes. Identity reads only
// values that carry no encryption prefix, so that a value written with a
// key no longer configured fails instead of reading as ciphertext.
func (t *transformer) fromStorage(storageKey string, data []byte) (plain []byte, stale bool, err error) {
	for i, e := range t.entries {
		if e.key == nil {
			if bytes.HasPrefix(data, []byte(encPrefix)) {
				continue
			}
			return data, i != 0, nil
		}
		if bytes.HasPrefix(data, e.prefix) {
			plain, err := e.key.open(storageKey, data[len(e.prefix):])
			return plain, i != 0, err
		}
	}
	return nil, false, errNoPrefix
}

type gcmKey struct{ aead cipher.AEAD }

func newGCM(secret []byte) (cipherKey, error) {
	block, err := aes.NewCipher(secret)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return gcmKey{aead}, nil
}

// seal returns a random 12-byte nonce followed by the sealed data.
func (k gcmKey) seal(storageKey string, plain []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	out := make([]byte, n, n+len(plain)+k.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return k.aead.Seal(out, out[:n], plain, []byte(storageKey)), nil
}

func (k gcmKey) open(storageKey string, data []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(data) < n {
		return nil, errors.New("the stored data was shorter than the required size")
	}
	return k.aead.Open(nil, data[:n], data[n:], []byte(storageKey))
}

type cbcKey struct{ block cipher.Block }

func newCBC(secret []byte) (cipherKey, error) {
	block, err := aes.NewCipher(secret)
	if err != nil {
		return nil, err
	}
	return cbcKey{block}, nil
}

// seal returns a random IV followed by plain, PKCS#7 padded and encrypted.
func (k cbcKey) seal(_ string, plain []byte) ([]byte, error) {
	bs := aes.BlockSize
	pad := bs - len(plain)%bs
	out := make([]byte, bs+len(plain)+pad)
	if _, err := rand.Read(out[:bs]); err != nil {
		return nil, err
	}
	copy(out[bs:], plain)
	for i := bs + len(plain); i < len(out); i++ {
		out[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(k.block, out[:bs]).CryptBlocks(out[bs:], out[bs:])
	return out, nil
}

func (k cbcKey) open(_ string, data []byte) ([]byte, error) {
	bs := aes.BlockSize
	if len(data) < 2*bs {
		return nil, errors.New("the stored data was shorter than the required size")
	}
	if len(data)%bs != 0 {
		return nil, errors.New("the stored data is not a multiple of the block size")
	}
	out := make([]byte, len(data)-bs)
	cipher.NewCBCDecrypter(k.block, data[:bs]).CryptBlocks(out, data[bs:])
	pad := int(out[len(out)-1])
	if pad == 0 || pad > bs {
		return nil, errors.New("invalid PKCS7 data (empty or not padded)")
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, errors.New("invalid padding on input")
		}
	}
	return out[:len(out)-pad], nil
}

type secretboxKey struct{ key [32]byte }

func newSecretbox(secret []byte) (cipherKey, error) {
	if len(secret) != 32 {
		return nil, fmt.Errorf("expected key size 32 for secretbox provider, got %d", len(secret))
	}
	var k secretboxKey
	copy(k.key[:], secret)
	return k, nil
}

// seal returns a random 24-byte nonce followed by the sealed box.
func (k secretboxKey) seal(_ string, plain []byte) ([]byte, error) {
	var nonce [24]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	return secretbox.Seal(nonce[:], plain, &nonce, &k.key), nil
}

func (k secretboxKey) open(_ string, data []byte) ([]byte, error) {
	if len(data) < 24 {
		return nil, errors.New("the stored data was shorter than the required size")
	}
	var nonce [24]byte
	copy(nonce[:], data)
	out, ok := secretbox.Open(nil, data[24:], &nonce, &k.key)
	if !ok {
		return nil, errors.New("secretbox: message authentication failed")
	}
	return out, nil
}
