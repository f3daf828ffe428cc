package image

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseReference(t *testing.T) {
	tests := []struct {
		in   string
		want Reference
		str  string
	}{
		{"busybox", Reference{"docker.io", "library/busybox", "latest", ""}, "docker.io/library/busybox:latest"},
		{"busybox:1.36", Reference{"docker.io", "library/busybox", "1.36", ""}, "docker.io/library/busybox:1.36"},
		{"library/busybox", Reference{"docker.io", "library/busybox", "latest", ""}, "docker.io/library/busybox:latest"},
		{"docker.io/busybox", Reference{"docker.io", "library/busybox", "latest", ""}, "docker.io/library/busybox:latest"},
		{"index.docker.io/library/busybox", Reference{"docker.io", "library/busybox", "latest", ""}, "docker.io/library/busybox:latest"},
		{"bitnami/nginx:1.27", Reference{"docker.io", "bitnami/nginx", "1.27", ""}, "docker.io/bitnami/nginx:1.27"},
		{"quay.io/coreos/etcd:v3.5.0", Reference{"quay.io", "coreos/etcd", "v3.5.0", ""}, "quay.io/coreos/etcd:v3.5.0"},
		{"localhost:5000/app", Reference{"localhost:5000", "app", "latest", ""}, "localhost:5000/app:latest"},
		{"localhost/app:v1", Reference{"localhost", "app", "v1", ""}, "localhost/app:v1"},
		{"127.0.0.1:5000/a/b/c:Tag_1", Reference{"127.0.0.1:5000", "a/b/c", "Tag_1", ""}, "127.0.0.1:5000/a/b/c:Tag_1"},
		{"busybox@" + testDigest, Reference{"docker.io", "library/busybox", "", testDigest}, "docker.io/library/busybox@" + testDigest},
		{"busybox:1.36@" + testDigest, Reference{"docker.io", "library/busybox", "1.36", testDigest}, "docker.io/library/busybox@" + testDigest},
		{"[::1]:5000/app:v2", Reference{"[::1]:5000", "app", "v2", ""}, "[::1]:5000/app:v2"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseReference(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseReference (-want +got):\n%s", diff)
			}
			if got.String() != tt.str {
				t.Errorf("String() = %q, want %q", got.String(), tt.str)
			}
			n, err := Normalize(tt.in)
			if err != nil || n != tt.str {
				t.Errorf("Normalize = %q, %v; want %q", n, err, tt.str)
			}
		})
	}
}

func TestParseReferenceInvalid(t *testing.T) {
	for _, in := range []string{
		"",
		"Busybox",
		" busybox",
		"busybox:",
		"busybox:a/b",
		"busybox@sha256:abc",
		"busybox@md5:0123",
		"busy box",
		"docker.io/",
		"a:b:c",
		"busybox:" + string(make([]byte, 129)),
	} {
		t.Run(in, func(t *testing.T) {
			_, err := ParseReference(in)
			if !errors.Is(err, ErrInvalidName) {
				t.Errorf("ParseReference(%q) = %v, want an error wrapping ErrInvalidName", in, err)
			}
		})
	}
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"busybox", "quay.io/a/b:c", "localhost:5000/x@" + testDigest, "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		if err != nil {
			return
		}
		// The canonical form is a fixed point.
		again, err := ParseReference(r.String())
		if err != nil {
			t.Fatalf("ParseReference(%q) ok, but its String %q does not parse: %v", s, r.String(), err)
		}
		if again.String() != r.String() {
			t.Fatalf("String not stable: %q → %q", r.String(), again.String())
		}
	})
}
