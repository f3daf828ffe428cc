// Package testimages builds berth's test images without docker and without
// a registry: busybox from the machine's static busybox (Debian's
// busybox-static), and images of small static programs on top of it. The
// images are reproducible: the same inputs give the same digests.
package testimages

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Path is where Debian's busybox-static installs its binary.
const Path = "/bin/busybox"

// File is one entry of a layer built by Layer.
type File struct {
	Name string
	Mode fs.FileMode // with fs.ModeDir or fs.ModeSymlink for those types
	Body []byte      // content, or a symlink's target
	UID  int
}

// Layer builds a layer from files, all owned by root unless UID says
// otherwise, with a fixed modification time.
func Layer(files []File) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{
			Name:    f.Name,
			Mode:    int64(f.Mode.Perm()),
			Uid:     f.UID,
			Gid:     f.UID,
			ModTime: time.Unix(0, 0),
			Format:  tar.FormatPAX,
		}
		if f.Mode&fs.ModeSticky != 0 {
			hdr.Mode |= 0o1000
		}
		switch {
		case f.Mode.IsDir():
			hdr.Typeflag = tar.TypeDir
			hdr.Name = strings.TrimSuffix(f.Name, "/") + "/"
		case f.Mode&fs.ModeSymlink != 0:
			hdr.Typeflag = tar.TypeSymlink
			hdr.Linkname = string(f.Body)
		default:
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(f.Body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.Body); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	})
}

// CheckBusybox says why path cannot serve as the images' busybox: missing,
// or not a statically linked program (Debian's busybox package installs a
// dynamic one at the same path; busybox-static replaces it).
func CheckBusybox(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("busybox: %w (apt-get install busybox-static)", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (apt-get install busybox-static)", path)
		}
	}
	return nil
}

// Busybox builds the busybox image: /bin/busybox from the static binary at
// path with every applet it lists linked to it in /bin, /etc/passwd and
// /etc/group with root and nobody, /tmp and /root. Its command is sh.
func Busybox(path string) (v1.Image, error) {
	if err := CheckBusybox(path); err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading busybox: %w", err)
	}
	out, err := exec.Command(path, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets: %w", err)
	}
	files := []File{
		{Name: "bin", Mode: fs.ModeDir | 0o755},
		{Name: "bin/busybox", Mode: 0o755, Body: bin},
	}
	applets := strings.Fields(string(out))
	slices.Sort(applets)
	for _, a := range slices.Compact(applets) {
		if a != "busybox" && !strings.Contains(a, "/") {
			files = append(files, File{Name: "bin/" + a, Mode: fs.ModeSymlink | 0o777, Body: []byte("busybox")})
		}
	}
	files = append(files,
		File{Name: "etc", Mode: fs.ModeDir | 0o755},
		File{Name: "etc/passwd", Mode: 0o644, Body: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		File{Name: "etc/group", Mode: 0o644, Body: []byte("root:x:0:\nnobody:x:65534:\n")},
		File{Name: "root", Mode: fs.ModeDir | 0o700},
		File{Name: "tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
	)
	l, err := Layer(files)
	if err != nil {
		return nil, err
	}
	return build([]v1.Layer{l}, v1.Config{
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Cmd: []string{"sh"},
	})
}

// Program builds an image of a static program on top of base: the binary
// at path becomes /NAME (NAME being its file name) and the entrypoint.
// ports are exposed ("8080/tcp").
func Program(base v1.Image, path string, ports ...string) (v1.Image, error) {
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	l, err := Layer([]File{{Name: filepath.Base(path), Mode: 0o755, Body: bin}})
	if err != nil {
		return nil, err
	}
	baseLayers, err := base.Layers()
	if err != nil {
		return nil, err
	}
	cf, err := base.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg := cf.Config
	cfg.Cmd = nil
	cfg.Entrypoint = []string{"/" + filepath.Base(path)}
	if len(ports) > 0 {
		cfg.ExposedPorts = map[string]struct{}{}
		for _, p := range ports {
			cfg.ExposedPorts[p] = struct{}{}
		}
	}
	return build(append(baseLayers, l), cfg)
}

func build(layers []v1.Layer, cfg v1.Config) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Config = cfg
	// busybox comes from this machine, so the images are for its platform.
	cf.OS, cf.Architecture = runtime.GOOS, runtime.GOARCH
	return mutate.ConfigFile(img, cf)
}

// WriteDocker writes images as a `docker save` archive.
func WriteDocker(path string, images map[string]v1.Image) error {
	refs := map[name.Reference]v1.Image{}
	for ref, img := range images {
		t, err := name.NewTag(ref)
		if err != nil {
			return err
		}
		refs[t] = img
	}
	return tarball.MultiRefWriteToFile(path, refs)
}

// WriteOCI writes images as an OCI image layout in a tar file, each named
// as containerd and docker name them (io.containerd.image.name with the
// full reference, org.opencontainers.image.ref.name with the tag).
func WriteOCI(path string, images map[string]v1.Image) error {
	dir, err := os.MkdirTemp("", "oci-layout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	for _, ref := range slices.Sorted(maps.Keys(images)) {
		t, err := name.NewTag(ref)
		if err != nil {
			return err
		}
		err = p.AppendImage(images[ref], layout.WithAnnotations(map[string]string{
			"io.containerd.image.name":          ref,
			"org.opencontainers.image.ref.name": t.TagStr(),
		}))
		if err != nil {
			return err
		}
	}
	return tarDir(dir, path)
}

// tarDir writes the files under dir into a tar at path, in lexical order.
func tarDir(dir, path string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(out)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if d.IsDir() {
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, hdr.Name+"/", 0o755
			return tw.WriteHeader(hdr)
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if cerr := tw.Close(); err == nil {
		err = cerr
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
