package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const (
	// Annotations naming an image in an OCI index: containerd, nerdctl and
	// docker write the full reference in the first, the OCI spec has the
	// second, which may hold just a tag.
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
)

// Import stores the images of an archive: a `docker save` tarball, an OCI
// image layout directory, or an OCI layout in a tar file. Images keep the
// names the archive gives them, normalised; those named by a digest only
// are stored without tags. A multi-platform index is resolved to the
// store's platform.
func (s *Store) Import(ctx context.Context, archive string) ([]*Image, error) {
	fi, err := os.Stat(archive)
	if err != nil {
		return nil, fmt.Errorf("importing images: %w", err)
	}
	var imgs []*Image
	if fi.IsDir() {
		imgs, err = s.importLayout(ctx, archive)
	} else {
		imgs, err = s.importTar(ctx, archive)
	}
	if err != nil {
		return nil, fmt.Errorf("importing images from %s: %w", archive, err)
	}
	return imgs, nil
}

func (s *Store) importTar(ctx context.Context, archive string) ([]*Image, error) {
	sizes, err := tarSizes(archive)
	if err != nil {
		return nil, err
	}
	if _, ok := sizes["manifest.json"]; ok {
		return s.importDocker(ctx, archive, sizes)
	}
	if _, ok := sizes["index.json"]; !ok {
		return nil, errors.New("neither a docker archive (manifest.json) nor an OCI layout (index.json)")
	}
	dir, err := os.MkdirTemp(s.path("tmp"), "import-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := extractLayout(archive, dir); err != nil {
		return nil, err
	}
	return s.importLayout(ctx, dir)
}

// tarSizes lists the regular files of a tar with their sizes.
func tarSizes(archive string) (map[string]int64, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sizes := map[string]int64{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return sizes, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading archive: %w", err)
		}
		if hdr.Typeflag == tar.TypeReg {
			sizes[path.Clean(hdr.Name)] = hdr.Size
		}
	}
}

func (s *Store) importDocker(ctx context.Context, archive string, sizes map[string]int64) ([]*Image, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(archive) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, err
	}
	var out []*Image
	for _, d := range m {
		var tags []string
		for _, t := range d.RepoTags {
			r, err := ParseReference(t)
			if err != nil {
				return nil, err
			}
			tags = append(tags, r.String())
		}
		var tag *name.Tag
		if len(d.RepoTags) > 0 {
			t, err := name.NewTag(d.RepoTags[0])
			if err != nil {
				return nil, fmt.Errorf("%w %q: %v", ErrInvalidName, d.RepoTags[0], err)
			}
			tag = &t
		} else if len(m) > 1 {
			return nil, errors.New("an untagged image among several in a docker archive cannot be told apart")
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return nil, err
		}
		size := sizes[path.Clean(d.Config)]
		for _, l := range d.Layers {
			size += sizes[path.Clean(l)]
		}
		stored, err := s.add(ctx, img, addOptions{tags: tags, noManifest: true, size: size})
		if err != nil {
			return nil, err
		}
		out = append(out, stored)
	}
	return out, nil
}

// extractLayout copies the files of an OCI layout tar into dir. Only
// regular files and directories are taken, and names stay inside dir.
func extractLayout(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading archive: %w", err)
		}
		rel := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if rel == "" || hdr.Typeflag != tar.TypeReg {
			continue
		}
		full := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			return err
		}
		out, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}

func (s *Store) importLayout(ctx context.Context, dir string) ([]*Image, error) {
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); errors.Is(err, fs.ErrNotExist) {
		return nil, errors.New("not an OCI image layout: no oci-layout file")
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []*Image
	for _, desc := range im.Manifests {
		img, err := s.resolve(idx, desc)
		if err != nil {
			return nil, err
		}
		var opts addOptions
		if r, ok := layoutName(desc.Annotations); ok {
			opts.repoDigest = r.Name() + "@" + desc.Digest.String()
			if r.Digest == "" {
				opts.tags = []string{r.String()}
			}
		}
		stored, err := s.add(ctx, img, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, stored)
	}
	return out, nil
}

// resolve returns the image a layout's index entry stands for, choosing the
// store's platform in a nested index.
func (s *Store) resolve(idx v1.ImageIndex, desc v1.Descriptor) (v1.Image, error) {
	if !desc.MediaType.IsIndex() {
		return idx.Image(desc.Digest)
	}
	child, err := idx.ImageIndex(desc.Digest)
	if err != nil {
		return nil, err
	}
	cm, err := child.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range cm.Manifests {
		if d.Platform != nil && d.Platform.Satisfies(s.platform) && d.MediaType.IsImage() {
			return child.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("index %s has no image for %s", desc.Digest, s.platform.String())
}

// layoutName is the reference an OCI index entry names, if its annotations
// hold a full one (a bare tag has no repository to go with it).
func layoutName(ann map[string]string) (Reference, bool) {
	for _, key := range []string{annotationImageName, annotationRefName} {
		v := ann[key]
		if v == "" || !strings.ContainsAny(v, "/:@") {
			continue
		}
		if r, err := ParseReference(v); err == nil {
			return r, true
		}
	}
	return Reference{}, false
}
