package encryption

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	key16  = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	key32  = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	key32b = base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
)

// configYAML is a configuration for resources with the given provider lines.
func configYAML(resources, providers string) string {
	return "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: " + resources + "\n  providers:\n" + providers
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // substring; empty means valid
	}{
		{"aescbc then identity", configYAML("[secrets]", "  - aescbc: {keys: [{name: k1, secret: "+key32+"}]}\n  - identity: {}\n"), ""},
		{"aesgcm 16 bytes", configYAML("[secrets, configmaps]", "  - aesgcm: {keys: [{name: k1, secret: "+key16+"}]}\n"), ""},
		{"secretbox", configYAML("['*.*']", "  - secretbox: {keys: [{name: k1, secret: "+key32+"}]}\n"), ""},
		{"group wildcard", configYAML("['*.apps', '*.']", "  - identity: {}\n"), ""},
		{"wrong kind", strings.Replace(configYAML("[secrets]", "  - identity: {}\n"), "kind: EncryptionConfiguration", "kind: Other", 1), "want apiVersion"},
		{"wrong version", strings.Replace(configYAML("[secrets]", "  - identity: {}\n"), "/v1", "/v2", 1), "want apiVersion"},
		{"unknown field", configYAML("[secrets]", "  - identity: {}\n    extra: 1\n"), "unknown field"},
		{"no resources", "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n", "at least one resources"},
		{"no providers", configYAML("[secrets]", ""), "at least one provider"},
		{"star", configYAML("['*']", "  - identity: {}\n"), "use '*.'"},
		{"capital", configYAML("[Secrets]", "  - identity: {}\n"), "capital"},
		{"subresource", configYAML("[pods/status]", "  - identity: {}\n"), "subresource"},
		{"across groups", configYAML("['secrets.*']", "  - identity: {}\n"), "across groups"},
		{"duplicate", configYAML("[secrets, secrets]", "  - identity: {}\n"), "multiple times"},
		{"overlap", configYAML("[secrets, '*.']", "  - identity: {}\n"), "overlapping"},
		{"two providers in one", configYAML("[secrets]", "  - identity: {}\n    aescbc: {keys: [{name: k1, secret: "+key32+"}]}\n"), "more than one provider"},
		{"empty provider", configYAML("[secrets]", "  - {}\n"), "does not contain"},
		{"kms", configYAML("[secrets]", "  - kms: {name: k}\n"), "not supported"},
		{"no keys", configYAML("[secrets]", "  - aescbc: {keys: []}\n"), "at least one keys"},
		{"unnamed key", configYAML("[secrets]", "  - aescbc: {keys: [{secret: "+key32+"}]}\n"), "name is a mandatory"},
		{"colon in name", configYAML("[secrets]", "  - aescbc: {keys: [{name: 'a:b', secret: "+key32+"}]}\n"), "':'"},
		{"duplicate key", configYAML("[secrets]", "  - aescbc: {keys: [{name: a, secret: "+key32+"}, {name: a, secret: "+key32b+"}]}\n"), "duplicate key"},
		{"not base64", configYAML("[secrets]", "  - aescbc: {keys: [{name: a, secret: '!!'}]}\n"), "base64"},
		{"short key", configYAML("[secrets]", "  - aesgcm: {keys: [{name: a, secret: "+base64.StdEncoding.EncodeToString([]byte("short"))+"}]}\n"), "expected length"},
		{"secretbox 16", configYAML("[secrets]", "  - secretbox: {keys: [{name: a, secret: "+key16+"}]}\n"), "expected length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("Parse: no error, want one containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("Parse: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestEnsureGeneratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "encryption-config.yaml")
	first, err := Ensure(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if len(first.Resources) != 1 || first.Resources[0].Providers[0].AESCBC == nil || first.Resources[0].Providers[1].Identity == nil {
		t.Fatalf("generated configuration %+v: want aescbc then identity", first)
	}
	secret, err := base64.StdEncoding.DecodeString(first.Resources[0].Providers[0].AESCBC.Keys[0].Secret)
	if err != nil || len(secret) != 32 {
		t.Errorf("generated key: %d bytes, %v; want 32", len(secret), err)
	}
	second, err := Ensure(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("second Ensure changed the configuration (-first +second):\n%s", diff)
	}
	other, err := Ensure(filepath.Join(t.TempDir(), "c.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if other.Resources[0].Providers[0].AESCBC.Keys[0].Secret == first.Resources[0].Providers[0].AESCBC.Keys[0].Secret {
		t.Error("two generated configurations share a key")
	}
}

func TestEnsureRefusesInvalidFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("kind: Nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Ensure(path); err == nil {
		t.Fatal("Ensure accepted an invalid file")
	}
}
