package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: layers keep owners and device nodes")
	}
}

var testTime = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// entry is a tar entry of a test layer.
type entry struct {
	name  string
	typ   byte
	mode  int64
	uid   int
	body  string // content, or link target
	dev   [2]int64
	attrs map[string]string
}

func layerTar(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: testTime, Format: tar.FormatPAX}
		switch e.typ {
		case tar.TypeReg:
			hdr.Size = int64(len(e.body))
		case tar.TypeSymlink, tar.TypeLink:
			hdr.Linkname = e.body
		case tar.TypeChar, tar.TypeBlock:
			hdr.Devmajor, hdr.Devminor = e.dev[0], e.dev[1]
		}
		for k, v := range e.attrs {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords[paxXattrPrefix+k] = v
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// describe lists every path under root with its type, mode, owner, content
// or target, device numbers and extended attributes.
func describe(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		fi, _ := d.Info()
		s := fmt.Sprintf("%v %d:%d", fi.Mode(), st.Uid, st.Gid)
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s += fmt.Sprintf(" %q", b)
			if st.Nlink > 1 {
				s += fmt.Sprintf(" links=%d", st.Nlink)
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			s += " -> " + target
		case fi.Mode()&fs.ModeDevice != 0:
			s += fmt.Sprintf(" %d,%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			s += xattrs(t, p)
		}
		out[rel] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func xattrs(t *testing.T, p string) string {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		t.Fatalf("listing xattrs of %s: %v", p, err)
	}
	var names []string
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name != "" && !strings.HasPrefix(name, "security.selinux") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var s string
	for _, name := range names {
		v := make([]byte, 256)
		n, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			t.Fatal(err)
		}
		s += fmt.Sprintf(" %s=%s", name, v[:n])
	}
	return s
}

func unpackTest(t *testing.T, tarball []byte) (string, error) {
	t.Helper()
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return root, unpackLayer(bytes.NewReader(tarball), root)
}

func TestUnpackKeepsAttributes(t *testing.T) {
	needRoot(t)
	root, err := unpackTest(t, layerTar(t,
		entry{name: "./", typ: tar.TypeDir, mode: 0o755},
		entry{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "bin/su", typ: tar.TypeReg, mode: 0o4755, body: "su"},
		entry{name: "bin/sh", typ: tar.TypeSymlink, mode: 0o777, body: "busybox"},
		entry{name: "bin/su2", typ: tar.TypeLink, body: "bin/su"},
		entry{name: "bin/ping", typ: tar.TypeReg, mode: 0o755, body: "ping", attrs: map[string]string{"user.note": "hello", "trusted.overlay.opaque": "y"}},
		entry{name: "dev/null", typ: tar.TypeChar, mode: 0o666, dev: [2]int64{1, 3}},
		entry{name: "dev/loop0", typ: tar.TypeBlock, mode: 0o660, uid: 6, dev: [2]int64{7, 0}},
		entry{name: "run/fifo", typ: tar.TypeFifo, mode: 0o620},
		entry{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		entry{name: "home/user/", typ: tar.TypeDir, mode: 0o700, uid: 1000},
		entry{name: "home/user/.profile", typ: tar.TypeReg, mode: 0o600, uid: 1000, body: "export A=1"},
		entry{name: "etc/motd", typ: tar.TypeReg, mode: 0o644, body: "first"},
		entry{name: "etc/motd", typ: tar.TypeReg, mode: 0o640, body: "second"},
		entry{name: "../../escape", typ: tar.TypeReg, mode: 0o644, body: "kept inside"},
	))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		".":                  "drwxr-xr-x 0:0",
		"bin":                "drwxr-xr-x 0:0",
		"bin/su":             `urwxr-xr-x 0:0 "su" links=2`,
		"bin/su2":            `urwxr-xr-x 0:0 "su" links=2`,
		"bin/sh":             "Lrwxrwxrwx 0:0 -> busybox",
		"bin/ping":           `-rwxr-xr-x 0:0 "ping" user.note=hello`,
		"dev":                "drwxr-xr-x 0:0",
		"dev/null":           "Dcrw-rw-rw- 0:0 1,3",
		"dev/loop0":          "Drw-rw---- 6:6 7,0",
		"run":                "drwxr-xr-x 0:0",
		"run/fifo":           "prw--w---- 0:0",
		"tmp":                "dtrwxrwxrwx 0:0",
		"home":               "drwxr-xr-x 0:0",
		"home/user":          "drwx------ 1000:1000",
		"home/user/.profile": `-rw------- 1000:1000 "export A=1"`,
		"etc":                "drwxr-xr-x 0:0",
		"etc/motd":           `-rw-r----- 0:0 "second"`,
		"escape":             `-rw-r--r-- 0:0 "kept inside"`,
	}
	if diff := cmp.Diff(want, describe(t, root)); diff != "" {
		t.Errorf("unpacked layer (-want +got):\n%s", diff)
	}
	for _, p := range []string{"bin", "bin/su", "home/user", "bin/sh"} {
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(testTime) {
			t.Errorf("%s: mtime %v, want %v", p, fi.ModTime(), testTime)
		}
	}
}

func TestUnpackWhiteouts(t *testing.T) {
	needRoot(t)
	tests := []struct {
		name    string
		entries []entry
		want    map[string]string
	}{
		{
			name:    "file whiteout becomes a 0/0 character device",
			entries: []entry{{name: "etc/.wh.passwd", typ: tar.TypeReg}},
			want:    map[string]string{".": "drwxr-xr-x 0:0", "etc": "drwxr-xr-x 0:0", "etc/passwd": "Dc--------- 0:0 0,0"},
		},
		{
			name: "opaque directory keeps this layer's entries",
			entries: []entry{
				{name: "var/", typ: tar.TypeDir, mode: 0o755},
				{name: "var/cache/", typ: tar.TypeDir, mode: 0o750},
				{name: "var/cache/new", typ: tar.TypeReg, mode: 0o644, body: "n"},
				{name: "var/cache/.wh..wh..opq", typ: tar.TypeReg},
			},
			want: map[string]string{
				".":             "drwxr-xr-x 0:0",
				"var":           "drwxr-xr-x 0:0",
				"var/cache":     "drwxr-x--- 0:0 trusted.overlay.opaque=y",
				"var/cache/new": `-rw-r--r-- 0:0 "n"`,
			},
		},
		{
			name: "whiteout replaces an entry of the same layer",
			entries: []entry{
				{name: "d/", typ: tar.TypeDir, mode: 0o755},
				{name: "d/x", typ: tar.TypeReg, mode: 0o644, body: "x"},
				{name: ".wh.d", typ: tar.TypeReg},
			},
			want: map[string]string{".": "drwxr-xr-x 0:0", "d": "Dc--------- 0:0 0,0"},
		},
		{
			name:    "AUFS bookkeeping entries are dropped",
			entries: []entry{{name: ".wh..wh.plnk/", typ: tar.TypeDir, mode: 0o700}, {name: ".wh..wh.aufs", typ: tar.TypeReg}},
			want:    map[string]string{".": "drwxr-xr-x 0:0"},
		},
		{
			name:    "directory whiteout",
			entries: []entry{{name: "usr/share/.wh.doc", typ: tar.TypeReg}},
			want: map[string]string{
				".": "drwxr-xr-x 0:0", "usr": "drwxr-xr-x 0:0", "usr/share": "drwxr-xr-x 0:0",
				"usr/share/doc": "Dc--------- 0:0 0,0",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, err := unpackTest(t, layerTar(t, tt.entries...))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, describe(t, root)); diff != "" {
				t.Errorf("unpacked layer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnpackRefusesEscapes(t *testing.T) {
	needRoot(t)
	outside := t.TempDir()
	tests := []struct {
		name    string
		entries []entry
	}{
		{"write through an absolute symlink", []entry{
			{name: "link", typ: tar.TypeSymlink, body: outside},
			{name: "link/file", typ: tar.TypeReg, mode: 0o644, body: "x"},
		}},
		{"write through a relative symlink", []entry{
			{name: "link", typ: tar.TypeSymlink, body: "../../../../../../../../" + outside},
			{name: "link/file", typ: tar.TypeReg, mode: 0o644, body: "x"},
		}},
		{"directory replaced by a symlink", []entry{
			{name: "a/b/", typ: tar.TypeDir, mode: 0o755},
			{name: "a", typ: tar.TypeSymlink, body: outside},
			{name: "a/b/file", typ: tar.TypeReg, mode: 0o644, body: "x"},
		}},
		{"whiteout through a symlink", []entry{
			{name: "link", typ: tar.TypeSymlink, body: outside},
			{name: "link/.wh.file", typ: tar.TypeReg},
		}},
		{"opaque marker through a symlink", []entry{
			{name: "link", typ: tar.TypeSymlink, body: outside},
			{name: "link/.wh..wh..opq", typ: tar.TypeReg},
		}},
		{"hard link to a file outside", []entry{
			{name: "h", typ: tar.TypeLink, body: "../../../../../../../../" + outside + "/victim"},
		}},
		{"hard link through a symlink", []entry{
			{name: "link", typ: tar.TypeSymlink, body: outside},
			{name: "h", typ: tar.TypeLink, body: "link/victim"},
		}},
		{"write through a file", []entry{
			{name: "f", typ: tar.TypeReg, body: "x"},
			{name: "f/g", typ: tar.TypeReg, body: "x"},
		}},
	}
	if err := os.WriteFile(filepath.Join(outside, "victim"), []byte("v"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := unpackTest(t, layerTar(t, tt.entries...)); err == nil {
				t.Error("unpack succeeded")
			}
			got, err := os.ReadDir(outside)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Name() != "victim" {
				t.Errorf("outside directory changed: %v", got)
			}
			fi, err := os.Lstat(filepath.Join(outside, "victim"))
			if err != nil || fi.Sys().(*syscall.Stat_t).Nlink != 1 {
				t.Errorf("victim linked or gone: %v", err)
			}
		})
	}
}
