package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"

	"berth.dev/berth/test/images/testimages"
)

func newStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		// A failed test may leave root filesystems mounted, which would
		// keep its temporary directory from being removed.
		mounts, _ := filepath.Glob(filepath.Join(dir, "containers", "*", "rootfs"))
		for _, m := range mounts {
			unix.Unmount(m, unix.MNT_DETACH)
		}
	})
	return s
}

// testImages are busybox and a program image on top of it, sharing the
// busybox layer.
type testImages struct {
	busybox, greeter v1.Image
}

func buildTestImages(t *testing.T) testImages {
	t.Helper()
	needRoot(t)
	if err := testimages.CheckBusybox(testimages.Path); err != nil {
		t.Skipf("needs a static busybox: %v", err)
	}
	bb, err := testimages.Busybox(testimages.Path)
	if err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(t.TempDir(), "greeter")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\necho hello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	g, err := testimages.Program(bb, prog, "8080/tcp")
	if err != nil {
		t.Fatal(err)
	}
	return testImages{busybox: bb, greeter: g}
}

func (ti testImages) byRef() map[string]v1.Image {
	return map[string]v1.Image{"berth.test/busybox:v1": ti.busybox, "berth.test/greeter:v1": ti.greeter}
}

func digestOf(t *testing.T, f func() (v1.Hash, error)) string {
	t.Helper()
	h, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func diffIDs(t *testing.T, img v1.Image) []string {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range cf.RootFS.DiffIDs {
		out = append(out, d.String())
	}
	return out
}

func layerDirs(t *testing.T, s *Store) []string {
	t.Helper()
	es, err := os.ReadDir(s.path("layers"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, "sha256:"+e.Name())
	}
	return out
}

// wantImages is what importing ti should record; withManifest for OCI
// sources, which carry manifests and (named) repo digests.
func wantImages(t *testing.T, ti testImages, withManifest bool) []*Image {
	bbLayers, gLayers := diffIDs(t, ti.busybox), diffIDs(t, ti.greeter)
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	bb := &Image{
		ID:       digestOf(t, ti.busybox.ConfigName),
		RepoTags: []string{"berth.test/busybox:v1"},
		Layers:   bbLayers,
		Config:   ImageConfig{Env: env, Cmd: []string{"sh"}},
	}
	g := &Image{
		ID:       digestOf(t, ti.greeter.ConfigName),
		RepoTags: []string{"berth.test/greeter:v1"},
		Layers:   gLayers,
		Config:   ImageConfig{Env: env, Entrypoint: []string{"/greeter"}, ExposedPorts: []string{"8080/tcp"}},
	}
	if withManifest {
		bb.ManifestDigest = digestOf(t, ti.busybox.Digest)
		bb.RepoDigests = []string{"berth.test/busybox@" + bb.ManifestDigest}
		g.ManifestDigest = digestOf(t, ti.greeter.Digest)
		g.RepoDigests = []string{"berth.test/greeter@" + g.ManifestDigest}
	}
	out := []*Image{bb, g}
	slices.SortFunc(out, func(a, b *Image) int { return strings.Compare(a.ID, b.ID) })
	return out
}

var ignoreSize = cmpopts.IgnoreFields(Image{}, "Size")

func TestImport(t *testing.T) {
	ti := buildTestImages(t)
	src := t.TempDir()
	dockerTar := filepath.Join(src, "images.tar")
	if err := testimages.WriteDocker(dockerTar, ti.byRef()); err != nil {
		t.Fatal(err)
	}
	ociTar := filepath.Join(src, "images.oci.tar")
	if err := testimages.WriteOCI(ociTar, ti.byRef()); err != nil {
		t.Fatal(err)
	}
	ociDir := filepath.Join(src, "layout")
	if err := os.Mkdir(ociDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("tar", "-xf", ociTar, "-C", ociDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("untar: %v: %s", err, out)
	}

	for _, tt := range []struct {
		name         string
		path         string
		withManifest bool
	}{
		{"docker archive", dockerTar, false},
		{"OCI archive", ociTar, true},
		{"OCI layout", ociDir, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, t.TempDir())
			imported, err := s.Import(context.Background(), tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if len(imported) != 2 {
				t.Fatalf("imported %d images, want 2", len(imported))
			}
			want := wantImages(t, ti, tt.withManifest)
			if diff := cmp.Diff(want, s.List(), ignoreSize); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
			for _, img := range s.List() {
				if img.Size <= 0 {
					t.Errorf("image %s has size %d", img.ID, img.Size)
				}
			}
			// The busybox layer is stored once, for both images.
			if diff := cmp.Diff(want[0].Layers[:1], want[1].Layers[:1]); diff != "" {
				t.Fatalf("test images do not share their base layer")
			}
			wantLayers := slices.Sorted(slices.Values(slices.Compact(slices.Sorted(slices.Values(append(want[0].Layers, want[1].Layers...))))))
			if diff := cmp.Diff(wantLayers, layerDirs(t, s)); diff != "" {
				t.Errorf("layer directories (-want +got):\n%s", diff)
			}
			bbLayer := s.layerDir(diffIDs(t, ti.busybox)[0])
			if target, err := os.Readlink(filepath.Join(bbLayer, "bin", "sh")); err != nil || target != "busybox" {
				t.Errorf("bin/sh -> %q, %v; want busybox", target, err)
			}
			if fi, err := os.Stat(filepath.Join(bbLayer, "tmp")); err != nil || fi.Mode()&fs.ModeSticky == 0 {
				t.Errorf("tmp: %v, %v; want a sticky directory", fi.Mode(), err)
			}

			// Records survive a restart.
			before := s.List()
			s.Close()
			s2 := newStore(t, s.dir)
			if diff := cmp.Diff(before, s2.List()); diff != "" {
				t.Errorf("List after reopening (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGetAndRemove(t *testing.T) {
	ti := buildTestImages(t)
	src := filepath.Join(t.TempDir(), "images.oci.tar")
	if err := testimages.WriteOCI(src, ti.byRef()); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, t.TempDir())
	if _, err := s.Import(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	bbID := digestOf(t, ti.busybox.ConfigName)
	bbManifest := digestOf(t, ti.busybox.Digest)
	for _, ref := range []string{
		"berth.test/busybox:v1",
		"berth.test/busybox@" + bbManifest,
		bbID,
	} {
		img, err := s.Get(ref)
		if err != nil {
			t.Fatalf("Get(%q): %v", ref, err)
		}
		if img.ID != bbID {
			t.Errorf("Get(%q) = %s, want %s", ref, img.ID, bbID)
		}
	}
	for _, ref := range []string{"busybox", "berth.test/busybox:v2", "sha256:" + strings.Repeat("0", 64)} {
		if _, err := s.Get(ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", ref, err)
		}
	}
	if _, err := s.Get("Busybox"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Get(Busybox) = %v, want ErrInvalidName", err)
	}

	// Removing the program image keeps the busybox layer it shares.
	if err := s.Remove("berth.test/greeter:v1"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(diffIDs(t, ti.busybox), layerDirs(t, s)); diff != "" {
		t.Errorf("layers after removing greeter (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(s.blobPath(digestOf(t, ti.greeter.ConfigName))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("greeter's config blob: %v, want it removed", err)
	}
	if err := s.Remove(bbID); err != nil {
		t.Fatal(err)
	}
	if got := layerDirs(t, s); len(got) != 0 {
		t.Errorf("layers after removing every image: %v", got)
	}
	if blobs, _ := os.ReadDir(s.path("blobs", "sha256")); len(blobs) != 0 {
		t.Errorf("blobs after removing every image: %v", blobs)
	}
	if err := s.Remove(bbID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove = %v, want ErrNotFound", err)
	}
}

// synthetic builds an image of one layer holding a file with the content.
func synthetic(t *testing.T, content string) v1.Image {
	t.Helper()
	l, err := testimages.Layer([]testimages.File{{Name: "content", Mode: 0o644, Body: []byte(content)}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestTagMovesToNewImage(t *testing.T) {
	needRoot(t)
	s := newStore(t, t.TempDir())
	ctx := context.Background()
	old, err := s.add(ctx, synthetic(t, "old"), addOptions{tags: []string{"example.com/app:v1", "example.com/app:stable"}})
	if err != nil {
		t.Fatal(err)
	}
	nw, err := s.add(ctx, synthetic(t, "new"), addOptions{tags: []string{"example.com/app:v1"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, img := range s.List() {
		got[img.ID] = img.RepoTags
	}
	want := map[string][]string{old.ID: {"example.com/app:stable"}, nw.ID: {"example.com/app:v1"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	// Adding the old image again under a new name keeps its names.
	if _, err := s.add(ctx, synthetic(t, "old"), addOptions{tags: []string{"example.com/app:v0"}}); err != nil {
		t.Fatal(err)
	}
	img, err := s.Get("example.com/app:v0")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"example.com/app:stable", "example.com/app:v0"}, img.RepoTags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
}

// countingLayer counts how often its content is read.
type countingLayer struct {
	v1.Layer
	reads *atomic.Int32
}

func (l countingLayer) Uncompressed() (io.ReadCloser, error) {
	l.reads.Add(1)
	return l.Layer.Uncompressed()
}

func TestConcurrentAddsUnpackOnce(t *testing.T) {
	needRoot(t)
	s := newStore(t, t.TempDir())
	var reads atomic.Int32
	base, err := synthetic(t, "shared").Layers()
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, countingLayer{base[0], &reads})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := s.add(context.Background(), img, addOptions{tags: []string{"example.com/shared:v1"}})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := reads.Load(); n != 1 {
		t.Errorf("layer read %d times, want 1", n)
	}
	if n := len(s.List()); n != 1 {
		t.Errorf("%d images, want 1", n)
	}
}

func TestCorruptLayerIsRefused(t *testing.T) {
	needRoot(t)
	s := newStore(t, t.TempDir())
	good := synthetic(t, "good")
	bad, err := synthetic(t, "evil").Layers()
	if err != nil {
		t.Fatal(err)
	}
	// The config claims good's diffID for evil's content.
	cf, err := good.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	forged, err := mutate.ConfigFile(mutate.MediaType(empty.Image, ""), cf)
	if err != nil {
		t.Fatal(err)
	}
	img := layeredImage{forged, bad}
	if _, err := s.add(context.Background(), img, addOptions{noManifest: true}); err == nil || !strings.Contains(err.Error(), "content has digest") {
		t.Fatalf("add = %v, want a digest mismatch", err)
	}
	if got := layerDirs(t, s); len(got) != 0 {
		t.Errorf("layers stored: %v", got)
	}
}

// layeredImage is an image whose layers are given, whatever its config.
type layeredImage struct {
	v1.Image
	layers []v1.Layer
}

func (i layeredImage) Layers() ([]v1.Layer, error) { return i.layers, nil }

func TestNewCleansUp(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	s := newStore(t, dir)
	kept, err := s.add(context.Background(), synthetic(t, "kept"), addOptions{tags: []string{"example.com/kept:v1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Dir: dir}); !errors.Is(err, ErrInUse) {
		t.Fatalf("second New = %v, want ErrInUse", err)
	}
	s.Close()
	orphan := "sha256:" + strings.Repeat("a", 64)
	for _, d := range []string{"tmp/layer-123/x", "containers/half-prepared/upper", "layers/" + strings.Repeat("a", 64) + "/bin"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "blobs/sha256", strings.Repeat("b", 64)), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := newStore(t, dir)
	for _, d := range []string{"tmp/layer-123", "containers/half-prepared", "blobs/sha256/" + strings.Repeat("b", 64)} {
		if _, err := os.Stat(filepath.Join(dir, d)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want it removed", d, err)
		}
	}
	if diff := cmp.Diff(kept.Layers, layerDirs(t, s2)); diff != "" || slices.Contains(layerDirs(t, s2), orphan) {
		t.Errorf("layers (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(s2.blobPath(kept.ID)); err != nil {
		t.Errorf("kept image's config blob: %v", err)
	}
}

func TestImportRejectsOtherFiles(t *testing.T) {
	s := newStore(t, t.TempDir())
	notTar := filepath.Join(t.TempDir(), "x.tar")
	if err := os.WriteFile(notTar, []byte("not a tar"), 0o644); err != nil {
		t.Fatal(err)
	}
	emptyTar := filepath.Join(t.TempDir(), "empty.tar")
	f, err := os.Create(emptyTar)
	if err != nil {
		t.Fatal(err)
	}
	tar.NewWriter(f).Close()
	f.Close()
	for _, p := range []string{notTar, emptyTar, t.TempDir(), "/nonexistent"} {
		if _, err := s.Import(context.Background(), p); err == nil {
			t.Errorf("Import(%s) succeeded", p)
		}
	}
}

// twoLayerImage has a lower layer with files and a directory, and an upper
// layer that deletes a file and makes the directory opaque.
func twoLayerImage(t *testing.T) v1.Image {
	t.Helper()
	lower := layerTar(t,
		entry{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "etc/keep", typ: tar.TypeReg, mode: 0o644, body: "keep"},
		entry{name: "etc/gone", typ: tar.TypeReg, mode: 0o644, body: "gone"},
		entry{name: "data/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "data/old", typ: tar.TypeReg, mode: 0o644, body: "old"},
	)
	upper := layerTar(t,
		entry{name: "etc/.wh.gone", typ: tar.TypeReg},
		entry{name: "data/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "data/.wh..wh..opq", typ: tar.TypeReg},
		entry{name: "data/new", typ: tar.TypeReg, mode: 0o644, body: "new"},
	)
	var layers []v1.Layer
	for _, b := range [][]byte{lower, upper} {
		l, err := tarballLayer(b)
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func tarballLayer(b []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	})
}

func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPrepare(t *testing.T) {
	needRoot(t)
	s := newStore(t, t.TempDir())
	ctx := context.Background()
	img, err := s.add(ctx, twoLayerImage(t), addOptions{tags: []string{"example.com/layers:v1"}})
	if err != nil {
		t.Fatal(err)
	}
	rootfs, cleanup, err := s.Prepare("c1", "example.com/layers:v1")
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENODEV) {
			t.Skipf("overlayfs cannot be mounted here: %v", err)
		}
		t.Fatal(err)
	}
	want := []string{".", "data", "data/new", "etc", "etc/keep"}
	if fi, err := os.Stat(rootfs); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("rootfs: %v, %v; want the image's root mode 0755", fi.Mode(), err)
	}
	if diff := cmp.Diff(want, listTree(t, rootfs)); diff != "" {
		t.Errorf("merged rootfs (-want +got):\n%s", diff)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "etc", "keep"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(rootfs, "data", "new")); err != nil {
		t.Fatal(err)
	}
	// Preparing again is idempotent, and leaves the mount as it is.
	again, _, err := s.Prepare("c1", "example.com/layers:v1")
	if err != nil || again != rootfs {
		t.Fatalf("second Prepare = %q, %v; want %q", again, err, rootfs)
	}
	if b, _ := os.ReadFile(filepath.Join(again, "etc", "keep")); string(b) != "changed" {
		t.Errorf("second Prepare lost the container's change: %q", b)
	}

	// Another container sees the image, not c1's changes.
	rootfs2, _, err := s.Prepare("c2", img.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(rootfs2, "etc", "keep")); string(b) != "keep" {
		t.Errorf("c2 sees etc/keep = %q, want the image's", b)
	}
	if diff := cmp.Diff(want, listTree(t, rootfs2)); diff != "" {
		t.Errorf("c2's rootfs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"c1", "c2"}, s.Containers()); diff != "" {
		t.Errorf("Containers (-want +got):\n%s", diff)
	}

	// The layers outlive the image while containers use them.
	if err := s.Remove(img.ID); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(img.Layers, layerDirs(t, s), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("layers while containers run (-want +got):\n%s", diff)
	}
	if err := cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "containers", "c1")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("c1's directory: %v, want it removed", err)
	}
	if len(layerDirs(t, s)) != len(img.Layers) {
		t.Errorf("layers removed while c2 uses them")
	}
	// A restarted store finds the prepared container, still mounted.
	s.Close()
	s = newStore(t, s.dir)
	if diff := cmp.Diff([]string{"c2"}, s.Containers()); diff != "" {
		t.Errorf("Containers after reopening (-want +got):\n%s", diff)
	}
	if again, _, err := s.Prepare("c2", "ignored once prepared"); err != nil || again != rootfs2 {
		t.Errorf("Prepare(c2) after reopening = %q, %v; want %q", again, err, rootfs2)
	}
	if err := s.Release("c2"); err != nil {
		t.Fatal(err)
	}
	if got := layerDirs(t, s); len(got) != 0 {
		t.Errorf("layers after releasing every container of a removed image: %v", got)
	}
	if mounted, err := isMountPoint(rootfs2); err == nil && mounted {
		t.Errorf("c2's rootfs still mounted")
	}
	if err := s.Release("unknown"); err != nil {
		t.Errorf("Release(unknown) = %v", err)
	}
	if _, _, err := s.Prepare("../x", img.ID); err == nil {
		t.Error("Prepare accepted a container ID with a slash")
	}
}

func TestPrepareRunsBusybox(t *testing.T) {
	ti := buildTestImages(t)
	s := newStore(t, t.TempDir())
	if _, err := s.add(context.Background(), ti.busybox, addOptions{tags: []string{"berth.test/busybox:v1"}}); err != nil {
		t.Fatal(err)
	}
	rootfs, cleanup, err := s.Prepare("sh", "berth.test/busybox:v1")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := cleanup(); err != nil {
			t.Error(err)
		}
	}()
	cmd := exec.Command("/bin/sh", "-c", "echo hello > /tmp/x && cat /tmp/x /etc/group")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: rootfs}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sh in the rootfs: %v: %s", err, out)
	}
	if want := "hello\nroot:x:0:\nnobody:x:65534:\n"; string(out) != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

func TestPrepareManyLayers(t *testing.T) {
	needRoot(t)
	// Enough layers that their paths pass mount(2)'s one page of options.
	const n = 80
	var layers []v1.Layer
	for i := range n {
		l, err := tarballLayer(layerTar(t, entry{name: fmt.Sprintf("layer-%02d", i), typ: tar.TypeReg, mode: 0o644, body: fmt.Sprint(i)}))
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t, t.TempDir())
	stored, err := s.add(context.Background(), img, addOptions{tags: []string{"example.com/tall:v1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Layers)*len(s.layerDir(stored.Layers[0])) < os.Getpagesize() {
		t.Fatalf("layer paths too short to test the limit")
	}
	rootfs, cleanup, err := s.Prepare("tall", "example.com/tall:v1")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if got := len(listTree(t, rootfs)); got != n+1 {
		t.Errorf("rootfs has %d entries, want %d layers' files and the root", got, n)
	}
	if b, err := os.ReadFile(filepath.Join(rootfs, "layer-79")); err != nil || string(b) != "79" {
		t.Errorf("layer-79 = %q, %v", b, err)
	}
}
