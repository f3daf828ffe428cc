package image

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"
)

// registry is a docker-registry (Debian's distribution registry) serving
// on a loopback port.
type registry struct {
	host string // 127.0.0.1:PORT
	auth authn.Authenticator
}

// startRegistry runs docker-registry on a free loopback port with its
// storage in a temporary directory; with user set, it requires that user
// and password (htpasswd, bcrypt).
func startRegistry(t *testing.T, user, password string) registry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("needs docker-registry (apt-get install docker-registry)")
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s/data
  delete:
    enabled: true
http:
  addr: %s
`, dir, host)
	r := registry{host: host, auth: authn.Anonymous}
	if user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: berth-test\n    path: %s/htpasswd\n", dir)
		r.auth = &authn.Basic{Username: user, Password: password}
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Env = []string{"PATH=/usr/bin:/bin"} // no REGISTRY_* overrides
	log, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("registry log:\n%s", b)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry on %s did not start: %v", host, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

func (r registry) push(t *testing.T, ref string, img v1.Image) v1.Hash {
	t.Helper()
	n, err := name.ParseReference(r.host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(n, img, remote.WithAuth(r.auth)); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestPull(t *testing.T) {
	needRoot(t)
	reg := startRegistry(t, "", "")
	img := twoLayerImage(t)
	digest := reg.push(t, "test/layers:v1", img)
	s := newStore(t, t.TempDir())
	ctx := context.Background()

	got, err := s.Pull(ctx, reg.host+"/test/layers:v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	rawManifest, _ := img.RawManifest()
	want := &Image{
		ID:             digestOf(t, img.ConfigName),
		RepoTags:       []string{reg.host + "/test/layers:v1"},
		RepoDigests:    []string{reg.host + "/test/layers@" + digest.String()},
		ManifestDigest: digest.String(),
		Size:           int64(len(rawManifest)) + m.Config.Size + m.Layers[0].Size + m.Layers[1].Size,
		Layers:         diffIDs(t, img),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Pull (-want +got):\n%s", diff)
	}
	if got.ImageID() != want.RepoDigests[0] {
		t.Errorf("ImageID = %q, want the repo digest", got.ImageID())
	}
	// Stored once, found by either name.
	for _, ref := range []string{reg.host + "/test/layers:v1", reg.host + "/test/layers@" + digest.String()} {
		if _, err := s.Get(ref); err != nil {
			t.Errorf("Get(%q): %v", ref, err)
		}
	}
	// Pulling by digest adds nothing new.
	if _, err := s.Pull(ctx, reg.host+"/test/layers@"+digest.String(), nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*Image{want}, s.List()); diff != "" {
		t.Errorf("List after pulling by digest (-want +got):\n%s", diff)
	}

	_, err = s.Pull(ctx, reg.host+"/test/layers:missing", nil)
	if err == nil || !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
		t.Errorf("pulling a missing tag = %v, want the registry's MANIFEST_UNKNOWN", err)
	}
	if _, err := s.Pull(ctx, "Invalid/Name", nil); !errors.Is(err, ErrInvalidName) {
		t.Errorf("pulling an invalid name = %v, want ErrInvalidName", err)
	}
}

func TestPullConcurrently(t *testing.T) {
	needRoot(t)
	reg := startRegistry(t, "", "")
	reg.push(t, "test/layers:v1", twoLayerImage(t))
	s := newStore(t, t.TempDir())
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := s.Pull(context.Background(), reg.host+"/test/layers:v1", nil)
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.List()); n != 1 {
		t.Errorf("%d images after concurrent pulls, want 1", n)
	}
}

func TestPullMultiPlatform(t *testing.T) {
	needRoot(t)
	reg := startRegistry(t, "", "")
	mine := synthetic(t, "for "+runtime.GOARCH)
	other := synthetic(t, "for another machine")
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}},
		mutate.IndexAddendum{Add: mine, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}}},
	)
	n, err := name.ParseReference(reg.host+"/test/multi:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(n, idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t, t.TempDir())
	got, err := s.Pull(context.Background(), reg.host+"/test/multi:v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := digestOf(t, mine.ConfigName); got.ID != want {
		t.Errorf("pulled image %s, want this platform's %s", got.ID, want)
	}
	if want := digestOf(t, mine.Digest); got.ManifestDigest != want {
		t.Errorf("manifest digest %s, want %s", got.ManifestDigest, want)
	}
	if diff := cmp.Diff([]string{reg.host + "/test/multi@" + idxDigest.String()}, got.RepoDigests); diff != "" {
		t.Errorf("repo digests, by the index's digest (-want +got):\n%s", diff)
	}
}

func TestPullWithCredentials(t *testing.T) {
	needRoot(t)
	reg := startRegistry(t, "puller", "s3cret")
	reg.push(t, "private/app:v1", synthetic(t, "private"))
	ref := reg.host + "/private/app:v1"
	ctx := context.Background()

	tests := []struct {
		name    string
		secrets []corev1.Secret
		wantErr string
	}{
		{name: "anonymous", wantErr: "UNAUTHORIZED"},
		{name: "other registry's secret", secrets: []corev1.Secret{
			dockerConfigJSONSecret("s", `{"quay.io": {"username": "puller", "password": "s3cret"}}`),
		}, wantErr: "UNAUTHORIZED"},
		{name: "wrong password", secrets: []corev1.Secret{
			dockerConfigJSONSecret("s", `{"`+reg.host+`": {"username": "puller", "password": "wrong"}}`),
		}, wantErr: "UNAUTHORIZED"},
		{name: "dockerconfigjson", secrets: []corev1.Secret{
			dockerConfigJSONSecret("s", `{"`+reg.host+`": {"auth": "`+basicAuth("puller", "s3cret")+`"}}`),
		}},
		{name: "dockercfg with a path", secrets: []corev1.Secret{
			dockercfgSecret("s", `{"http://`+reg.host+`/private": {"username": "puller", "password": "s3cret"}}`),
		}},
		{name: "a wrong then a right credential", secrets: []corev1.Secret{
			dockerConfigJSONSecret("a", `{"`+reg.host+`/private": {"username": "puller", "password": "wrong"}}`),
			dockerConfigJSONSecret("b", `{"`+reg.host+`": {"username": "puller", "password": "s3cret"}}`),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, t.TempDir())
			_, err := s.Pull(ctx, ref, tt.secrets)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Pull = %v, want an error with the registry's %s", err, tt.wantErr)
			}
			if len(s.List()) != 0 {
				t.Error("an image was stored")
			}
		})
	}
}

// failTransport fails the test if a request reaches it.
type failTransport struct{ t *testing.T }

func (f failTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.t.Errorf("request to %s was sent", req.URL)
	return nil, errors.New("not sent")
}

func TestPlainHTTPOnlyToLoopbackAndInsecureRegistries(t *testing.T) {
	set, err := parseInsecure([]string{"registry.lan:5000", "mirror.lan", "10.9.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]bool{
		"127.0.0.1:5000":    true,
		"127.1.2.3":         true,
		"[::1]:5000":        true,
		"localhost:5000":    true,
		"LOCALHOST":         true,
		"registry.lan:5000": true,
		"registry.lan:5001": false,
		"registry.lan":      false,
		"mirror.lan:443":    true,
		"10.9.8.7:5000":     true,
		"10.8.0.1:5000":     false,
		"192.168.1.1:5000":  false,
		"a.localhost:5000":  false,
		"docker.io":         false,
	}
	for host, want := range tests {
		if got := set.allows(host); got != want {
			t.Errorf("allows(%q) = %v, want %v", host, got, want)
		}
	}
	g := &schemeGuard{base: failTransport{t}, insecure: set}
	req, _ := http.NewRequest(http.MethodGet, "http://192.168.1.1:5000/v2/", nil)
	if _, err := g.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "refusing plain HTTP") {
		t.Errorf("RoundTrip = %v, want a refusal", err)
	}
	if _, err := parseInsecure([]string{"http://x/"}); err == nil {
		t.Error("parseInsecure accepted a URL")
	}
}
