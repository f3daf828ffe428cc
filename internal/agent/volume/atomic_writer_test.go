package volume

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// readVolume returns what a reader of dir sees through the user links:
// path → content and mode.
func readVolume(t *testing.T, dir string) map[string]File {
	t.Helper()
	out := map[string]File{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		top := filepath.Join(dir, e.Name())
		err := filepath.WalkDir(top+"/", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := os.Stat(p)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			out[rel] = File{Data: data, Mode: info.Mode().Perm()}
			return nil
		})
		if err != nil {
			// A top-level file: the link itself is the entry.
			info, serr := os.Stat(top)
			if serr != nil {
				t.Fatal(serr)
			}
			data, rerr := os.ReadFile(top)
			if rerr != nil {
				t.Fatalf("reading %s: %v (walk: %v)", top, rerr, err)
			}
			out[e.Name()] = File{Data: data, Mode: info.Mode().Perm()}
		}
	}
	return out
}

func hiddenDirs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") && e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestWriteAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	// A write that crashed before its swap left a directory behind.
	if err := os.MkdirAll(filepath.Join(dir, "..2020_01_01_00_00_00.123"), 0o755); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name        string
		payload     map[string]File
		wantChanged bool
	}{
		{"first write", map[string]File{
			"a":       {Data: []byte("1"), Mode: 0o644},
			"sub/b":   {Data: []byte("2"), Mode: 0o400},
			"sub/c/d": {Data: []byte("3"), Mode: 0o600},
		}, true},
		{"same payload", map[string]File{
			"a":       {Data: []byte("1"), Mode: 0o644},
			"sub/b":   {Data: []byte("2"), Mode: 0o400},
			"sub/c/d": {Data: []byte("3"), Mode: 0o600},
		}, false},
		{"content changed", map[string]File{
			"a":       {Data: []byte("1b"), Mode: 0o644},
			"sub/b":   {Data: []byte("2"), Mode: 0o400},
			"sub/c/d": {Data: []byte("3"), Mode: 0o600},
		}, true},
		{"mode changed", map[string]File{
			"a":       {Data: []byte("1b"), Mode: 0o640},
			"sub/b":   {Data: []byte("2"), Mode: 0o400},
			"sub/c/d": {Data: []byte("3"), Mode: 0o600},
		}, true},
		{"key removed and added", map[string]File{
			"a": {Data: []byte("1b"), Mode: 0o640},
			"e": {Data: []byte("5"), Mode: 0o644},
		}, true},
		{"emptied", map[string]File{}, true},
	}
	for _, s := range steps {
		changed, err := writeAtomic(dir, s.payload, nil)
		if err != nil {
			t.Fatalf("%s: writeAtomic: %v", s.name, err)
		}
		if changed != s.wantChanged {
			t.Errorf("%s: changed = %v, want %v", s.name, changed, s.wantChanged)
		}
		if diff := cmp.Diff(s.payload, readVolume(t, dir)); diff != "" {
			t.Errorf("%s: volume content (-want +got):\n%s", s.name, diff)
		}
		target, err := os.Readlink(filepath.Join(dir, dataDirName))
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if diff := cmp.Diff([]string{target}, hiddenDirs(t, dir)); diff != "" {
			t.Errorf("%s: hidden directories (-want +got):\n%s", s.name, diff)
		}
	}
}

func TestWriteAtomicInvalidPaths(t *testing.T) {
	for _, p := range []string{"", "/abs", "../up", "a/../../b", "..data", "a//b"} {
		if _, err := writeAtomic(t.TempDir(), map[string]File{p: {Data: []byte("x"), Mode: 0o644}}, nil); err == nil {
			t.Errorf("writeAtomic accepted path %q", p)
		}
	}
}

func TestWriteAtomicFSGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("fsGroup ownership needs root")
	}
	dir := t.TempDir()
	gid := int64(4321)
	payload := map[string]File{"s": {Data: []byte("x"), Mode: 0o400}, "d/f": {Data: []byte("y"), Mode: 0o600}}
	if _, err := writeAtomic(dir, payload, &gid); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fs.FileMode{"s": 0o440, "d/f": 0o640, "d": 0o755 | fs.ModeSetgid} {
		info, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode() & (fs.ModePerm | fs.ModeSetgid); got != want {
			t.Errorf("%s: mode %v, want %v", p, got, want)
		}
		if g := fileGID(info); g != gid {
			t.Errorf("%s: gid %d, want %d", p, g, gid)
		}
	}
	if changed, err := writeAtomic(dir, payload, &gid); err != nil || changed {
		t.Errorf("rewrite with fsGroup: changed %v, err %v; want unchanged", changed, err)
	}
}
