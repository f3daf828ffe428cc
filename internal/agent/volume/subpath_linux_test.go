package volume

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestOpenSubPath(t *testing.T) {
	outside := t.TempDir()
	root := filepath.Join(t.TempDir(), "vol")
	for _, d := range []string{"dir/inner", "other"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "dir", "file"), []byte("in"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"abs-out":     outside,                           // absolute symlink out of the volume
		"rel-out":     "../../",                          // relative symlink out of the volume
		"etc":         "/etc",                            // a host directory
		"in-link":     "dir/inner",                       // stays inside
		"dir/up-in":   "../other",                        // climbs but stays inside
		"dir/up-out":  "../../" + filepath.Base(outside), // climbs out
		"abs-in":      filepath.Join(root, "dir"),        // absolute, pointing inside: refused too
		"loop":        "loop",
		"proc-escape": "/proc/self/root",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		sub      string
		wantPath string // path relative to root that the handle must resolve to
		wantErr  string
	}{
		{sub: "dir/file", wantPath: "dir/file"},
		{sub: "dir/inner", wantPath: "dir/inner"},
		{sub: "in-link", wantPath: "dir/inner"},
		{sub: "dir/up-in", wantPath: "other"},
		{sub: "new/deeper", wantPath: "new/deeper"},
		{sub: "./dir", wantPath: "dir"},
		{sub: "abs-out", wantErr: "not within volume path"},
		{sub: "abs-out/x", wantErr: "not within volume path"},
		{sub: "rel-out", wantErr: "not within volume path"},
		{sub: "etc/passwd", wantErr: "not within volume path"},
		{sub: "dir/up-out", wantErr: "not within volume path"},
		{sub: "abs-in", wantErr: "not within volume path"},
		{sub: "loop", wantErr: "not within volume path"},
		{sub: "proc-escape", wantErr: "not within volume path"},
		{sub: "../escape", wantErr: "must not contain '..'"},
		{sub: "dir/../../escape", wantErr: "must not contain '..'"},
		{sub: "/etc", wantErr: "must be a relative path"},
		{sub: "rel-out/created", wantErr: "not within volume path"},
	}
	for _, tt := range tests {
		t.Run(tt.sub, func(t *testing.T) {
			f, err := openSubPath(root, tt.sub)
			if tt.wantErr != "" {
				if err == nil {
					f.Close()
					t.Fatalf("openSubPath(%q) succeeded, want error %q", tt.sub, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("openSubPath(%q) error = %v, want %q", tt.sub, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("openSubPath(%q): %v", tt.sub, err)
			}
			defer f.Close()
			got, err := os.Readlink("/proc/self/fd/" + itoa(f.Fd()))
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(root, tt.wantPath); got != want {
				t.Errorf("openSubPath(%q) resolved to %s, want %s", tt.sub, got, want)
			}
		})
	}
	// Nothing was created outside the volume.
	entries, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("entries created outside the volume: %v", entries)
	}
}

func itoa(fd uintptr) string { return strconv.FormatUint(uint64(fd), 10) }
