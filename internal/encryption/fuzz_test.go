package encryption

import (
	"testing"
)

// FuzzParse: any input parses or fails, never panics; what parses builds
// transformers.
func FuzzParse(f *testing.F) {
	f.Add([]byte(configYAML("[secrets]", "  - aescbc: {keys: [{name: k1, secret: "+key32+"}]}\n  - identity: {}\n")))
	f.Add([]byte(configYAML("['*.*', x]", "  - secretbox: {keys: [{name: k1, secret: "+key32+"}]}\n")))
	f.Add([]byte(configYAML("['*.apps']", "  - aesgcm: {keys: [{name: k1, secret: "+key16+"}]}\n")))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		if _, err := NewStore(nil, c, nil); err != nil {
			t.Fatalf("a valid configuration did not build: %v", err)
		}
	})
}

// FuzzFromStorage: arbitrary stored bytes decrypt or fail, never panic,
// under every provider.
func FuzzFromStorage(f *testing.F) {
	tr := mustTransformer(f, "  - aesgcm: {keys: [{name: g, secret: "+key32+"}]}\n  - aescbc: {keys: [{name: c, secret: "+key32+"}]}\n  - secretbox: {keys: [{name: s, secret: "+key32+"}]}\n  - identity: {}\n")
	const k = "/registry/core/secrets/a/b"
	for _, e := range tr.entries {
		if e.key == nil {
			continue
		}
		f.Add(append([]byte(nil), e.prefix...))
		d, _ := e.key.seal(k, []byte("value"))
		f.Add(append(append([]byte(nil), e.prefix...), d...))
		f.Add(append(append([]byte(nil), e.prefix...), d[:len(d)-1]...))
	}
	f.Add([]byte("k8s:enc:aescbc:v1:c:0123456789abcdef"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = tr.fromStorage(k, data)
	})
}
