package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
)

// Pull fetches an image from its registry and stores it, returning its
// record. Credentials come from the image pull Secrets (see Keyring); each
// matching credential is tried in turn, and the image is pulled anonymously
// when none matches. A multi-platform index is resolved to the store's
// platform. Layers already stored are not fetched again; concurrent pulls
// share the fetch and unpack of each layer.
//
// The error text carries the registry's own message, for the agent's
// ErrImagePull; an unparsable reference wraps ErrInvalidName.
func (s *Store) Pull(ctx context.Context, image string, secrets []corev1.Secret) (*Image, error) {
	r, err := ParseReference(image)
	if err != nil {
		return nil, err
	}
	keyring, err := NewKeyring(secrets)
	if err != nil {
		return nil, fmt.Errorf("pulling image %q: %w", r, err)
	}
	auths := []authn.Authenticator{authn.Anonymous}
	if creds := keyring.Lookup(r.Name()); len(creds) > 0 {
		auths = auths[:0]
		for _, c := range creds {
			auths = append(auths, authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: c.Password}))
		}
	}
	ref, err := r.remote(s.insecure.allows(r.Registry))
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalidName, image, err)
	}
	var errs []error
	for _, auth := range auths {
		desc, err := remote.Get(ref,
			remote.WithContext(ctx),
			remote.WithAuth(auth),
			remote.WithTransport(s.transport),
			remote.WithPlatform(s.platform),
			remote.WithUserAgent("berth"),
		)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("pulling image %q: %w", r, err)
		}
		var tags []string
		if r.Digest == "" {
			tags = []string{r.String()}
		}
		stored, err := s.add(ctx, img, addOptions{
			tags:       tags,
			repoDigest: r.Name() + "@" + desc.Digest.String(),
		})
		if err != nil {
			return nil, fmt.Errorf("pulling image %q: %w", r, err)
		}
		s.log.Info("pulled image", "image", r.String(), "id", stored.ID)
		return stored, nil
	}
	return nil, fmt.Errorf("pulling image %q: %w", r, errors.Join(errs...))
}

// addOptions say what names an added image gets and where its size comes
// from.
type addOptions struct {
	tags       []string
	repoDigest string
	// noManifest is set for docker archives, whose go-containerregistry
	// manifest would be computed by compressing every layer.
	noManifest bool
	// size replaces the manifest's sizes when noManifest is set.
	size int64
}

// add stores an image's layers, blobs and record.
func (s *Store) add(ctx context.Context, img v1.Image, opts addOptions) (*Image, error) {
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cfgDigest := "sha256:" + sha256Hex(rawCfg)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layers: %w", err)
	}
	if len(layers) != len(cf.RootFS.DiffIDs) {
		return nil, fmt.Errorf("image has %d layers but its config lists %d", len(layers), len(cf.RootFS.DiffIDs))
	}
	rec := &Image{
		ID:       cfgDigest,
		RepoTags: opts.tags,
		Size:     opts.size,
		Config:   imageConfig(cf),
	}
	if opts.repoDigest != "" {
		rec.RepoDigests = []string{opts.repoDigest}
	}
	for _, d := range cf.RootFS.DiffIDs {
		if _, err := hexOf(d.String()); err != nil {
			return nil, err
		}
		rec.Layers = append(rec.Layers, d.String())
	}

	var rawManifest []byte
	if !opts.noManifest {
		m, err := img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("reading manifest: %w", err)
		}
		if rawManifest, err = img.RawManifest(); err != nil {
			return nil, fmt.Errorf("reading manifest: %w", err)
		}
		rec.ManifestDigest = "sha256:" + sha256Hex(rawManifest)
		rec.Size = int64(len(rawManifest)) + m.Config.Size
		for _, l := range m.Layers {
			rec.Size += l.Size
		}
	}

	s.mu.Lock()
	for _, l := range rec.Layers {
		s.pins[l]++
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, l := range rec.Layers {
			if s.pins[l]--; s.pins[l] == 0 {
				delete(s.pins, l)
			}
		}
	}()

	for i, l := range layers {
		if err := s.ensureLayer(ctx, rec.Layers[i], l); err != nil {
			return nil, err
		}
	}
	if err := s.putBlob(cfgDigest, rawCfg); err != nil {
		return nil, err
	}
	if rawManifest != nil {
		if err := s.putBlob(rec.ManifestDigest, rawManifest); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putImageLocked(rec)
}

func imageConfig(cf *v1.ConfigFile) ImageConfig {
	c := cf.Config
	ic := ImageConfig{
		User:       c.User,
		Env:        c.Env,
		Entrypoint: c.Entrypoint,
		Cmd:        c.Cmd,
		WorkingDir: c.WorkingDir,
		Labels:     c.Labels,
		StopSignal: c.StopSignal,
	}
	for p := range c.ExposedPorts {
		ic.ExposedPorts = append(ic.ExposedPorts, p)
	}
	slices.Sort(ic.ExposedPorts)
	return ic
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (s *Store) putBlob(d string, data []byte) error {
	p := s.blobPath(d)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := writeFileAtomic(p, data); err != nil {
		return fmt.Errorf("storing blob %s: %w", d, err)
	}
	return nil
}

// ensureLayer unpacks a layer unless it is stored already. Concurrent calls
// for one layer share one unpack (run with the first caller's context).
// The unpacked content must hash to diffID; it is synced to disk and
// renamed into place only when complete.
func (s *Store) ensureLayer(ctx context.Context, diffID string, l v1.Layer) error {
	dst := s.layerDir(diffID)
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	_, err, _ := s.unpacks.Do(diffID, func() (any, error) {
		if _, err := os.Stat(dst); err == nil {
			return nil, nil
		}
		return nil, s.unpack(ctx, diffID, l, dst)
	})
	return err
}

func (s *Store) unpack(ctx context.Context, diffID string, l v1.Layer, dst string) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("fetching layer %s: %w", diffID, err)
	}
	defer rc.Close()
	tmp, err := os.MkdirTemp(s.path("tmp"), "layer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	h := sha256.New()
	r := io.TeeReader(ctxReader{ctx, rc}, h)
	if err := unpackLayer(r, tmp); err != nil {
		return fmt.Errorf("layer %s: %w", diffID, err)
	}
	// The tar may end before its stream does (padding); the digest covers
	// it all, and reading to the end lets the compressed digest be checked.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("fetching layer %s: %w", diffID, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != diffID {
		return fmt.Errorf("layer %s: content has digest %s", diffID, got)
	}
	if err := syncFS(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("storing layer %s: %w", diffID, err)
	}
	return syncDir(s.path("layers"))
}

// syncFS flushes the file system holding dir: one call for all the files
// of an unpacked layer.
func syncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}

// ctxReader stops reading once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
