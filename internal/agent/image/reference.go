package image

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
)

// ErrInvalidName is wrapped by every error about an image reference that
// cannot be parsed; the agent reports such containers as InvalidImageName.
var ErrInvalidName = errors.New("invalid image name")

const (
	dockerHub       = "docker.io"
	dockerHubLegacy = "index.docker.io"
	defaultTag      = "latest"
)

// Reference is an image reference normalised as Docker does: the registry
// is always named ("busybox" is on docker.io), official Docker Hub images are
// under "library/", and a reference with neither tag nor digest gets the tag
// "latest".
type Reference struct {
	// Registry is the registry host with its port, if any: "docker.io",
	// "localhost:5000".
	Registry string
	// Repository is the path inside the registry: "library/busybox".
	Repository string
	// Tag is the tag as written, or "latest" when neither a tag nor a
	// digest was given; empty when only a digest was given.
	Tag string
	// Digest is the manifest digest ("sha256:…") when one was given.
	Digest string
}

// ParseReference parses and normalises an image reference such as
// "busybox", "nginx:1.27", "quay.io/a/b@sha256:…" or "localhost:5000/x:v1".
// Errors wrap ErrInvalidName.
func ParseReference(s string) (Reference, error) {
	invalid := func(why string) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidName, s, why)
	}
	if s == "" {
		return Reference{}, invalid("empty")
	}
	if strings.TrimSpace(s) != s {
		return Reference{}, invalid("surrounding white space")
	}
	var r Reference
	rest := s
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		d, err := digest.Parse(rest[i+1:])
		if err != nil {
			return Reference{}, invalid(err.Error())
		}
		r.Digest = d.String()
		rest = rest[:i]
	}
	// A tag follows the last colon after the last slash; an earlier colon
	// separates a registry host from its port.
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		r.Tag = rest[i+1:]
		rest = rest[:i]
		if _, err := name.NewTag("x:" + r.Tag); err != nil {
			return Reference{}, invalid(err.Error())
		}
	}
	repo, err := name.NewRepository(rest)
	if err != nil {
		return Reference{}, invalid(err.Error())
	}
	r.Registry = repo.RegistryStr()
	if r.Registry == dockerHubLegacy {
		r.Registry = dockerHub
	}
	r.Repository = repo.RepositoryStr()
	if r.Tag == "" && r.Digest == "" {
		r.Tag = defaultTag
	}
	return r, nil
}

// Name is the repository's full name: "docker.io/library/busybox".
func (r Reference) Name() string { return r.Registry + "/" + r.Repository }

// String is the canonical reference used to pull the image: the name with
// its digest when there is one (a tag next to a digest is ignored, as
// Docker does), otherwise with its tag.
func (r Reference) String() string {
	if r.Digest != "" {
		return r.Name() + "@" + r.Digest
	}
	return r.Name() + ":" + r.Tag
}

// Normalize returns the canonical form of an image reference:
// "busybox" → "docker.io/library/busybox:latest".
func Normalize(s string) (string, error) {
	r, err := ParseReference(s)
	if err != nil {
		return "", err
	}
	return r.String(), nil
}

// remote is the reference in go-containerregistry's terms; insecure allows
// plain HTTP to the registry.
func (r Reference) remote(insecure bool) (name.Reference, error) {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	return name.ParseReference(r.String(), opts...)
}
