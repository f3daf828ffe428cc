package image

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/singleflight"
	"golang.org/x/sys/unix"
)

// ErrNotFound is returned when no stored image matches a reference.
var ErrNotFound = errors.New("image not found")

// ErrInUse is returned by New when another process holds the store.
var ErrInUse = errors.New("image store is in use by another process")

// Config configures a Store.
type Config struct {
	// Dir is the store's directory, created if missing; required.
	Dir string
	// InsecureRegistries are registries that may be reached over plain
	// HTTP: "host", "host:port" or a CIDR. Loopback addresses and
	// "localhost" always may.
	InsecureRegistries []string
	// Platform selects the image of a multi-platform index; the zero value
	// means this machine's (runtime.GOOS/GOARCH).
	Platform v1.Platform
	// Transport carries registry requests; nil means a clone of
	// remote.DefaultTransport.
	Transport http.RoundTripper
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
}

// Image is a stored image. Values returned by the Store are copies.
type Image struct {
	// ID is the digest of the image's config, "sha256:…".
	ID string `json:"id"`
	// RepoTags are the normalised references that name the image:
	// "docker.io/library/busybox:latest". A tag names one image at a time.
	RepoTags []string `json:"repoTags,omitempty"`
	// RepoDigests are "name@digest" references of the manifest (or index)
	// the image was pulled or imported by.
	RepoDigests []string `json:"repoDigests,omitempty"`
	// ManifestDigest is the digest of the image's own manifest, empty for
	// images imported from a docker archive, which has no manifest.
	ManifestDigest string `json:"manifestDigest,omitempty"`
	// Size is the image's size in bytes: its manifest, config and
	// (compressed) layers as stored in the registry or archive.
	Size int64 `json:"size"`
	// Layers are the diffIDs of the image's layers, bottom first.
	Layers []string `json:"layers"`
	// Config is what the image says about how to run it.
	Config ImageConfig `json:"config"`
}

// ImageConfig is the part of an image's config that the agent uses to run
// a container.
type ImageConfig struct {
	User         string            `json:"user,omitempty"`
	Env          []string          `json:"env,omitempty"`
	Entrypoint   []string          `json:"entrypoint,omitempty"`
	Cmd          []string          `json:"cmd,omitempty"`
	WorkingDir   string            `json:"workingDir,omitempty"`
	ExposedPorts []string          `json:"exposedPorts,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	StopSignal   string            `json:"stopSignal,omitempty"`
}

// ImageID is what the agent reports as a container's imageID: the first
// repo digest, or the image ID when the image has none.
func (img *Image) ImageID() string {
	if len(img.RepoDigests) > 0 {
		return img.RepoDigests[0]
	}
	return img.ID
}

func (img *Image) clone() *Image {
	c := *img
	c.RepoTags = slices.Clone(img.RepoTags)
	c.RepoDigests = slices.Clone(img.RepoDigests)
	c.Layers = slices.Clone(img.Layers)
	c.Config.Env = slices.Clone(img.Config.Env)
	c.Config.Entrypoint = slices.Clone(img.Config.Entrypoint)
	c.Config.Cmd = slices.Clone(img.Config.Cmd)
	c.Config.ExposedPorts = slices.Clone(img.Config.ExposedPorts)
	c.Config.Labels = maps.Clone(img.Config.Labels)
	return &c
}

// Store keeps images under one directory:
//
//	lock                     held (flock) by the Store that owns the directory
//	blobs/sha256/HEX         manifests and configs, by digest
//	layers/HEX               each layer unpacked once, by diffID, shared
//	images/HEX.json          one record per image, by config digest
//	containers/ID/           a container's record, overlay upper and work
//	                         directories and its rootfs mount point
//	tmp/                     work in progress, emptied by New
//
// Everything appears by rename once complete, so a crash leaves only
// unreferenced entries, which New removes. A Store is safe for concurrent
// use; one process at a time owns a directory.
type Store struct {
	dir       string
	log       *slog.Logger
	platform  v1.Platform
	transport http.RoundTripper
	insecure  insecureSet
	lock      *os.File
	// unpacks deduplicates concurrent unpacks of one layer, by diffID.
	unpacks singleflight.Group

	// mu guards the maps below and the records on disk.
	mu     sync.Mutex
	images map[string]*Image // by ID
	// containers are the layers of each prepared container, by its ID.
	containers map[string][]string
	// pins counts the pulls and imports that are adding each layer
	// (by diffID) before their image record exists.
	pins map[string]int
}

// New opens the store in cfg.Dir, creating it if needed, and removes what
// an earlier process left half-done. It fails with ErrInUse while another
// Store holds the directory.
func New(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("image store: no directory")
	}
	if strings.ContainsAny(cfg.Dir, ",:") {
		return nil, fmt.Errorf("image store: directory %q contains ',' or ':', which overlayfs options cannot carry", cfg.Dir)
	}
	insecure, err := parseInsecure(cfg.InsecureRegistries)
	if err != nil {
		return nil, err
	}
	s := &Store{
		dir:        cfg.Dir,
		log:        cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		platform:   cfg.Platform,
		images:     map[string]*Image{},
		containers: map[string][]string{},
		pins:       map[string]int{},
		insecure:   insecure,
	}
	if s.platform.OS == "" {
		s.platform = v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	}
	base := cfg.Transport
	if base == nil {
		base = remote.DefaultTransport.(*http.Transport).Clone()
	}
	s.transport = &schemeGuard{base: base, insecure: insecure}

	for _, d := range []string{"blobs/sha256", "layers", "images", "containers", "tmp"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(s.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrInUse, s.dir)
		}
		return nil, fmt.Errorf("image store: locking %s: %w", s.dir, err)
	}
	s.lock = lock
	if err := s.recover(); err != nil {
		s.Close()
		return nil, fmt.Errorf("image store: %w", err)
	}
	return s, nil
}

// Close releases the directory. Mounted container root filesystems stay
// mounted, for the next Store to find.
func (s *Store) Close() error {
	return s.lock.Close()
}

// recover loads the records and removes temporary and unreferenced entries.
func (s *Store) recover() error {
	if err := os.RemoveAll(s.path("tmp")); err != nil {
		return err
	}
	if err := os.Mkdir(s.path("tmp"), 0o700); err != nil {
		return err
	}
	recs, err := os.ReadDir(s.path("images"))
	if err != nil {
		return err
	}
	for _, e := range recs {
		img := &Image{}
		if err := readJSON(s.path("images", e.Name()), img); err != nil {
			return err
		}
		s.images[img.ID] = img
	}
	ctrs, err := os.ReadDir(s.path("containers"))
	if err != nil {
		return err
	}
	for _, e := range ctrs {
		var layers []string
		err := readJSON(s.path("containers", e.Name(), "layers.json"), &layers)
		if errors.Is(err, fs.ErrNotExist) {
			// Prepare did not finish: nothing was mounted.
			if err := os.RemoveAll(s.path("containers", e.Name())); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		s.containers[e.Name()] = layers
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	layers, err := os.ReadDir(s.path("layers"))
	if err != nil {
		return err
	}
	for _, e := range layers {
		if err := s.removeLayerIfUnusedLocked("sha256:" + e.Name()); err != nil {
			return err
		}
	}
	blobs, err := os.ReadDir(s.path("blobs", "sha256"))
	if err != nil {
		return err
	}
	for _, e := range blobs {
		if err := s.removeBlobIfUnusedLocked("sha256:" + e.Name()); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.dir}, elem...)...)
}

// hexOf returns the hex part of a "sha256:HEX" digest, or an error for any
// other form, so that a digest can name a file.
func hexOf(d string) (string, error) {
	h, err := v1.NewHash(d)
	if err != nil || h.Algorithm != "sha256" {
		return "", fmt.Errorf("unsupported digest %q", d)
	}
	return h.Hex, nil
}

func (s *Store) layerDir(diffID string) string {
	h, _ := hexOf(diffID)
	return s.path("layers", h)
}

func (s *Store) blobPath(d string) string {
	h, _ := hexOf(d)
	return s.path("blobs", "sha256", h)
}

// List returns every stored image, ordered by ID.
func (s *Store) List() []*Image {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Image, 0, len(s.images))
	for _, id := range slices.Sorted(maps.Keys(s.images)) {
		out = append(out, s.images[id].clone())
	}
	return out
}

// Get returns the image that a reference names: a tag, a name@digest
// (the repo digest or the image's own manifest digest), or an image ID
// ("sha256:…"). It returns an error wrapping ErrNotFound when no image
// matches, ErrInvalidName when the reference cannot be parsed.
func (s *Store) Get(ref string) (*Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	img, err := s.getLocked(ref)
	if err != nil {
		return nil, err
	}
	return img.clone(), nil
}

func (s *Store) getLocked(ref string) (*Image, error) {
	if _, err := hexOf(ref); err == nil {
		if img, ok := s.images[ref]; ok {
			return img, nil
		}
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	want := r.String()
	for _, id := range slices.Sorted(maps.Keys(s.images)) {
		img := s.images[id]
		if r.Digest == "" && slices.Contains(img.RepoTags, want) ||
			r.Digest != "" && (slices.Contains(img.RepoDigests, want) || r.Digest == img.ManifestDigest) {
			return img, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, want)
}

// Remove deletes the image a reference names (see Get), with all its tags,
// and the layers that no other image or prepared container uses.
func (s *Store) Remove(ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	img, err := s.getLocked(ref)
	if err != nil {
		return err
	}
	h, _ := hexOf(img.ID)
	if err := os.Remove(s.path("images", h+".json")); err != nil {
		return fmt.Errorf("removing image %s: %w", img.ID, err)
	}
	delete(s.images, img.ID)
	for _, l := range img.Layers {
		if err := s.removeLayerIfUnusedLocked(l); err != nil {
			return err
		}
	}
	for _, b := range []string{img.ID, img.ManifestDigest} {
		if err := s.removeBlobIfUnusedLocked(b); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) layerUsedLocked(diffID string) bool {
	if s.pins[diffID] > 0 {
		return true
	}
	for _, img := range s.images {
		if slices.Contains(img.Layers, diffID) {
			return true
		}
	}
	for _, layers := range s.containers {
		if slices.Contains(layers, diffID) {
			return true
		}
	}
	return false
}

// removeLayerIfUnusedLocked deletes an unused layer: renamed away first, so
// that a crash never leaves a partly deleted directory under its name.
func (s *Store) removeLayerIfUnusedLocked(diffID string) error {
	if _, err := hexOf(diffID); err != nil || s.layerUsedLocked(diffID) {
		return nil
	}
	trash, err := os.MkdirTemp(s.path("tmp"), "removed-")
	if err != nil {
		return err
	}
	err = os.Rename(s.layerDir(diffID), filepath.Join(trash, "layer"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing layer %s: %w", diffID, err)
	}
	return os.RemoveAll(trash)
}

func (s *Store) removeBlobIfUnusedLocked(d string) error {
	if _, err := hexOf(d); err != nil {
		return nil
	}
	for _, img := range s.images {
		if img.ID == d || img.ManifestDigest == d {
			return nil
		}
	}
	if err := os.Remove(s.blobPath(d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// putImageLocked records an image, or adds names to the record of the same
// image, and takes its tags from any other image that had them.
func (s *Store) putImageLocked(img *Image) (*Image, error) {
	rec := img
	if old, ok := s.images[img.ID]; ok {
		rec = old.clone()
		for _, t := range img.RepoTags {
			if !slices.Contains(rec.RepoTags, t) {
				rec.RepoTags = append(rec.RepoTags, t)
			}
		}
		for _, d := range img.RepoDigests {
			if !slices.Contains(rec.RepoDigests, d) {
				rec.RepoDigests = append(rec.RepoDigests, d)
			}
		}
		rec.ManifestDigest = cmp.Or(rec.ManifestDigest, img.ManifestDigest)
	}
	for _, id := range slices.Sorted(maps.Keys(s.images)) {
		other := s.images[id]
		if id == img.ID || !slices.ContainsFunc(other.RepoTags, func(t string) bool { return slices.Contains(img.RepoTags, t) }) {
			continue
		}
		moved := other.clone()
		moved.RepoTags = slices.DeleteFunc(moved.RepoTags, func(t string) bool { return slices.Contains(img.RepoTags, t) })
		if err := s.writeImageLocked(moved); err != nil {
			return nil, err
		}
	}
	if err := s.writeImageLocked(rec); err != nil {
		return nil, err
	}
	return rec.clone(), nil
}

func (s *Store) writeImageLocked(img *Image) error {
	h, err := hexOf(img.ID)
	if err != nil {
		return err
	}
	if err := writeJSONAtomic(s.path("images", h+".json"), img); err != nil {
		return fmt.Errorf("recording image %s: %w", img.ID, err)
	}
	s.images[img.ID] = img
	return nil
}

func writeJSONAtomic(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeFileAtomic(name, b)
}

// writeFileAtomic writes a file durably: a temporary file, synced, renamed
// over the name, and the directory synced.
func writeFileAtomic(name string, data []byte) error {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func readJSON(name string, v any) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	return nil
}

// schemeGuard refuses plain HTTP except to loopback addresses and insecure
// registries: go-containerregistry would otherwise fall back to HTTP for
// private addresses on its own.
type schemeGuard struct {
	base     http.RoundTripper
	insecure insecureSet
}

func (g *schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.insecure.allows(req.URL.Host) {
		return nil, fmt.Errorf("refusing plain HTTP to %s: not a loopback address nor an insecure registry", req.URL.Host)
	}
	return g.base.RoundTrip(req)
}

// insecureSet is the registries that may be reached over plain HTTP.
type insecureSet struct {
	hosts []string // "host" or "host:port"
	nets  []*net.IPNet
}

func parseInsecure(entries []string) (insecureSet, error) {
	var s insecureSet
	for _, e := range entries {
		if _, n, err := net.ParseCIDR(e); err == nil {
			s.nets = append(s.nets, n)
			continue
		}
		if e == "" || strings.ContainsAny(e, "/ ") {
			return insecureSet{}, fmt.Errorf("insecure registry %q: want host, host:port or CIDR", e)
		}
		s.hosts = append(s.hosts, strings.ToLower(e))
	}
	return s, nil
}

// allows reports whether hostport ("host[:port]") may be reached over HTTP.
func (s insecureSet) allows(hostport string) bool {
	hostport = strings.ToLower(hostport)
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = strings.Trim(hostport, "[]")
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return true
	}
	if slices.Contains(s.hosts, hostport) || slices.Contains(s.hosts, host) {
		return true
	}
	return ip != nil && slices.ContainsFunc(s.nets, func(n *net.IPNet) bool { return n.Contains(ip) })
}
