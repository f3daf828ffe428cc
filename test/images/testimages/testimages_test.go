package testimages_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth.dev/berth/internal/agent/image"
	"berth.dev/berth/test/images/testimages"
)

func TestBusyboxIsReproducible(t *testing.T) {
	if err := testimages.CheckBusybox(testimages.Path); err != nil {
		t.Skipf("needs a static busybox: %v", err)
	}
	var digests []v1.Hash
	for range 2 {
		img, err := testimages.Busybox(testimages.Path)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds gave %s and %s", digests[0], digests[1])
	}
}

// buildProgram compiles one of the test programs statically.
func buildProgram(t *testing.T, name string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command to build the test programs")
	}
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command(gobin, "build", "-trimpath", "-o", out, "../"+name)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, b)
	}
	return out
}

// rootfs writes the images as an OCI archive, imports it into an image
// store and prepares a root filesystem of the image named ref.
func rootfs(t *testing.T, images map[string]v1.Image, ref string) string {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "images.oci.tar")
	if err := testimages.WriteOCI(archive, images); err != nil {
		t.Fatal(err)
	}
	s, err := image.New(image.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Import(context.Background(), archive); err != nil {
		t.Fatal(err)
	}
	dir, cleanup, err := s.Prepare(strings.NewReplacer("/", "-", ":", "-").Replace(ref), ref)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cleanup(); err != nil {
			t.Error(err)
		}
	})
	return dir
}

func chrootCommand(root string, args ...string) *exec.Cmd {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/bin"}
	return cmd
}

// TestProgramImages builds the server and whoami images as
// scripts/test-images does and runs their programs in their root
// filesystems.
func TestProgramImages(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: image layers keep their owners, root filesystems are mounted")
	}
	if err := testimages.CheckBusybox(testimages.Path); err != nil {
		t.Skipf("needs a static busybox: %v", err)
	}
	base, err := testimages.Busybox(testimages.Path)
	if err != nil {
		t.Fatal(err)
	}
	server, err := testimages.Program(base, buildProgram(t, "server"), "8080/tcp")
	if err != nil {
		t.Fatal(err)
	}
	whoami, err := testimages.Program(base, buildProgram(t, "whoami"))
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]v1.Image{"berth.test/server:v1": server, "berth.test/whoami:v1": whoami}

	t.Run("whoami", func(t *testing.T) {
		root := rootfs(t, images, "berth.test/whoami:v1")
		out, err := chrootCommand(root, "/whoami").Output()
		if err != nil {
			t.Fatalf("whoami: %v", err)
		}
		got := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			k, v, _ := strings.Cut(line, "=")
			got[k] = v
		}
		// No /proc in a bare chroot: the status lines report the error.
		for k, want := range map[string]string{"uid": "0", "gid": "0", "root_writable": "true"} {
			if got[k] != want {
				t.Errorf("%s=%q, want %q (output %q)", k, got[k], want, out)
			}
		}
		if _, ok := got["status_error"]; !ok {
			t.Errorf("no status_error without /proc: %q", out)
		}
		// Without the capability to write, / is reported read-only.
		cmd := chrootCommand(root, "/whoami")
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
		out, err = cmd.Output()
		if err != nil {
			t.Fatalf("whoami as nobody: %v", err)
		}
		if !strings.Contains(string(out), "uid=65534\n") || !strings.Contains(string(out), "root_writable=false\n") {
			t.Errorf("whoami as nobody printed %q", out)
		}
	})

	t.Run("server", func(t *testing.T) {
		root := rootfs(t, images, "berth.test/server:v1")
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		cmd := chrootCommand(root, "/server", "-listen", addr, "-unready")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Errorf("server did not exit cleanly on SIGTERM: %v", err)
			}
		}()
		if line, err := bufio.NewReader(stderr).ReadString('\n'); err != nil || !strings.Contains(line, "listening on") {
			t.Fatalf("server said %q, %v", line, err)
		}
		go io.Copy(io.Discard, stderr)
		client := &http.Client{Timeout: 5 * time.Second}
		get := func(path string) string {
			t.Helper()
			resp, err := client.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
		}
		for _, step := range []struct{ path, want string }{
			{"/healthz", "200 ok"},
			{"/readyz", "503 failing"},
			{"/readyz/ok", "200 ok"},
			{"/readyz", "200 ok"},
			{"/healthz/fail", "200 failing"},
			{"/healthz", "503 failing"},
			{"/healthz/ok", "200 ok"},
			{"/healthz", "200 ok"},
		} {
			if got := get(step.path); got != step.want {
				t.Errorf("GET %s = %q, want %q", step.path, got, step.want)
			}
		}
	})
}
