package image

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Credential is a user name and password for a registry.
type Credential struct {
	Username string
	Password string
}

// Keyring holds the registry credentials of a pod's image pull Secrets and
// matches them to images as the kubelet does. The zero Keyring is empty.
// A Keyring is not modified after NewKeyring and is safe for concurrent use.
type Keyring struct {
	// keys are the credential locations, "host[:port][/path]" with globs
	// allowed in the host, sorted in reverse so that longer paths under the
	// same host come first.
	keys  []string
	creds map[string][]Credential
}

// dockerConfigEntry is one registry's entry in a dockercfg document.
type dockerConfigEntry struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Auth     string `json:"auth,omitempty"`
}

// NewKeyring reads the credentials of kubernetes.io/dockerconfigjson and
// kubernetes.io/dockercfg Secrets; Secrets of other types are ignored, a
// malformed one is an error.
func NewKeyring(secrets []corev1.Secret) (*Keyring, error) {
	k := &Keyring{creds: map[string][]Credential{}}
	for _, s := range secrets {
		var cfg map[string]dockerConfigEntry
		switch data := s.Data; {
		case s.Type == corev1.SecretTypeDockerConfigJson && len(data[corev1.DockerConfigJsonKey]) > 0:
			var doc struct {
				Auths map[string]dockerConfigEntry `json:"auths"`
			}
			if err := json.Unmarshal(data[corev1.DockerConfigJsonKey], &doc); err != nil {
				return nil, fmt.Errorf("reading image pull secret %s/%s: %w", s.Namespace, s.Name, err)
			}
			cfg = doc.Auths
		case s.Type == corev1.SecretTypeDockercfg && len(data[corev1.DockerConfigKey]) > 0:
			if err := json.Unmarshal(data[corev1.DockerConfigKey], &cfg); err != nil {
				return nil, fmt.Errorf("reading image pull secret %s/%s: %w", s.Namespace, s.Name, err)
			}
		default:
			continue
		}
		// Map order is random; add each Secret's entries in key order so
		// that Lookup's answer does not vary between calls.
		for _, loc := range slices.Sorted(maps.Keys(cfg)) {
			c, err := cfg[loc].credential()
			if err != nil {
				return nil, fmt.Errorf("reading image pull secret %s/%s, entry %q: %w", s.Namespace, s.Name, loc, err)
			}
			key, ok := keyringKey(loc)
			if !ok {
				continue
			}
			if _, seen := k.creds[key]; !seen {
				k.keys = append(k.keys, key)
			}
			k.creds[key] = append(k.creds[key], c)
		}
	}
	slices.Sort(k.keys)
	slices.Reverse(k.keys)
	return k, nil
}

// credential decodes the entry; "auth" (base64 of "user:password", padded or
// not) takes precedence over the separate fields.
func (e dockerConfigEntry) credential() (Credential, error) {
	if e.Auth == "" {
		return Credential{Username: e.Username, Password: e.Password}, nil
	}
	enc := base64.RawStdEncoding
	if strings.HasSuffix(strings.TrimSpace(e.Auth), "=") {
		enc = base64.StdEncoding
	}
	b, err := enc.DecodeString(e.Auth)
	if err != nil {
		return Credential{}, fmt.Errorf("decoding auth: %w", err)
	}
	user, pass, ok := strings.Cut(string(b), ":")
	if !ok {
		return Credential{}, fmt.Errorf("auth is not base64 of user:password")
	}
	return Credential{Username: user, Password: pass}, nil
}

// keyringKey turns a dockercfg location ("https://index.docker.io/v1/",
// "quay.io/org", "*.example.com:5000") into "host[:port][/path]", dropping
// the scheme and a /v1/ or /v2/ API prefix as the docker client does.
func keyringKey(loc string) (string, bool) {
	if !strings.HasPrefix(loc, "https://") && !strings.HasPrefix(loc, "http://") {
		loc = "https://" + loc
	}
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" {
		return "", false
	}
	p := u.Path
	if strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/v2/") {
		p = p[3:]
	}
	if p == "" || p == "/" {
		return u.Host, true
	}
	return u.Host + p, true
}

// Lookup returns the credentials to try, in order, for an image repository
// ("docker.io/library/busybox", or any reference ParseReference accepts):
// every entry whose host matches (globs per dot-separated label, same number
// of labels, same port) and whose path is a prefix of the repository's,
// most specific first; otherwise the Docker Hub entry for Docker Hub images.
// Empty means pull anonymously.
func (k *Keyring) Lookup(image string) []Credential {
	if k == nil || len(k.keys) == 0 {
		return nil
	}
	target := image
	if r, err := ParseReference(image); err == nil {
		target = r.Name()
	}
	var out []Credential
	for _, key := range k.keys {
		if keyMatches(key, target) {
			out = append(out, k.creds[key]...)
		}
	}
	if len(out) == 0 && isDockerHub(target) {
		out = append(out, k.creds[dockerHubLegacy]...)
	}
	return out
}

// isDockerHub reports whether a repository name is pulled from Docker Hub.
func isDockerHub(repo string) bool {
	first, _, found := strings.Cut(repo, "/")
	switch {
	case first == "":
		return false
	case !found:
		return true
	case first == dockerHub || first == dockerHubLegacy:
		return true
	}
	return !strings.ContainsAny(first, ".:")
}

// keyMatches reports whether the keyring key matches the repository name.
func keyMatches(key, repo string) bool {
	kh, kp, _ := strings.Cut(key, "/")
	rh, rp, _ := strings.Cut(repo, "/")
	if !strings.HasPrefix("/"+rp, "/"+kp) {
		return false
	}
	kLabels, kPort := splitHost(kh)
	rLabels, rPort := splitHost(rh)
	if kPort != rPort || len(kLabels) != len(rLabels) {
		return false
	}
	for i, glob := range kLabels {
		if ok, err := path.Match(glob, rLabels[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

func splitHost(hostport string) (labels []string, port string) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, ""
	}
	return strings.Split(host, "."), port
}
