package pki

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzEnsureLoad replaces one file of a valid PKI directory with arbitrary
// bytes and runs Ensure on it: it must return an error or a consistent PKI,
// never panic.
func FuzzEnsureLoad(f *testing.F) {
	tmpl := f.TempDir()
	cfg := Config{Dir: tmpl, Now: clockAt(t0)}
	mustEnsure(f, cfg)
	files := slices.Sorted(func(yield func(string) bool) {
		for name := range allFiles() {
			if !yield(name) {
				return
			}
		}
	})
	valid := snapshot(f, tmpl)
	for i, name := range files {
		b := valid[name]
		f.Add(uint8(i), b)
		f.Add(uint8(i), b[:len(b)/2])
		f.Add(uint8(i), b[:len(b)-10])
		f.Add(uint8(i), []byte{})
		f.Add(uint8(i), valid[files[(i+1)%len(files)]])
	}

	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		dir := t.TempDir()
		for name, b := range valid {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, files[int(which)%len(files)]), data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := cfg
		cfg.Dir = dir
		p, err := Ensure(cfg)
		if err != nil {
			return
		}
		ca := readCert(t, dir, caCertFile)
		if !ca.Equal(p.ca) {
			t.Fatal("returned CA differs from ca.crt")
		}
		s := readCert(t, dir, servingCertFile)
		if !s.Equal(p.ServingCert()) || !publicKeysEqual(p.servingKey, s.PublicKey) {
			t.Fatal("returned serving pair differs from apiserver.crt")
		}
		if _, err := s.Verify(x509.VerifyOptions{Roots: p.CAPool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Fatalf("serving certificate does not verify: %v", err)
		}
		if p.ServiceAccountKey() == nil {
			t.Fatal("no ServiceAccount key")
		}
	})
}
