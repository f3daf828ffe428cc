// Package runtimetest helps tests run real containers: a busybox root
// filesystem, a runtime.Runtime whose state, containers, sandboxes and
// cgroups go away with the test, and reading of CRI log files. The test
// binary doubles as the shim, so a package using it must call Main from its
// TestMain.
package runtimetest

import (
	"bufio"
	"context"
	"debug/elf"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"berth.dev/berth/internal/agent/runtime"
)

// shimRole is the first argument with which the test binary is the shim.
const shimRole = "berth-test-shim"

// Main runs the shim when the test binary was started as one, and the
// tests otherwise.
func Main(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == shimRole {
		if err := runtime.RunShim(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// ShimCommand is the Config.ShimCommand that runs the test binary as the
// shim.
func ShimCommand() []string { return []string{os.Args[0], shimRole} }

// Need skips the test unless it runs as root with runc and a static busybox
// (Debian's busybox-static) installed.
func Need(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (namespaces, mounts, cgroups, runc)")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("needs runc (apt-get install runc)")
	}
	f, err := elf.Open("/bin/busybox")
	if err != nil {
		t.Skip("needs /bin/busybox (apt-get install busybox-static)")
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Skip("needs a static /bin/busybox (apt-get install busybox-static)")
		}
	}
}

// applets are the busybox commands the root filesystem offers.
var applets = []string{
	"sh", "sleep", "cat", "id", "nc", "wget", "ip", "hostname", "echo",
	"test", "touch", "mkdir", "rmdir", "dd", "seq", "ping", "grep",
	"readlink", "ls", "tr", "stty", "env",
}

// Rootfs returns a new root filesystem holding busybox and its applets in
// /bin, and empty /etc/hosts, /etc/hostname and /etc/resolv.conf.
func Rootfs(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range applets {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"hosts", "hostname", "resolv.conf"} {
		if err := os.WriteFile(filepath.Join(root, "etc", f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// Config returns a runtime.Config whose run directory and cgroup parent are
// the test's own.
func Config(t testing.TB) runtime.Config {
	return runtime.Config{
		RunDir:       t.TempDir(),
		CgroupParent: fmt.Sprintf("/berth-test-%d", rand.Uint32()),
		ShimCommand:  ShimCommand(),
	}
}

// New returns a Runtime whose containers, sandboxes and cgroup parent are
// removed when the test ends.
func New(t testing.TB, cfg runtime.Config) *runtime.Runtime {
	t.Helper()
	rt, err := runtime.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanUp(t, rt) })
	return rt
}

func cleanUp(t testing.TB, rt *runtime.Runtime) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := rt.List(ctx)
	if err != nil {
		t.Errorf("cleanup: %v", err)
	}
	for _, c := range cs {
		if err := rt.Delete(ctx, c.ID); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
	sbs, err := rt.Sandboxes()
	if err != nil {
		t.Errorf("cleanup: %v", err)
	}
	for _, s := range sbs {
		if err := rt.RemoveSandbox(s.Config.ID); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
	if err := rt.RemoveCgroupParent(); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

// Sandbox creates a sandbox.
func Sandbox(t testing.TB, rt *runtime.Runtime, cfg runtime.SandboxConfig) *runtime.Sandbox {
	t.Helper()
	s, err := rt.CreateSandbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Container fills a ContainerConfig for a busybox command, logging to a
// file in a temporary directory.
func Container(t testing.TB, id, rootfs string, args ...string) runtime.ContainerConfig {
	return runtime.ContainerConfig{
		ID:      id,
		Rootfs:  rootfs,
		Args:    args,
		Env:     []string{"PATH=/bin"},
		LogPath: filepath.Join(t.TempDir(), id+".log"),
	}
}

// Start creates and starts a container.
func Start(t testing.TB, rt *runtime.Runtime, s *runtime.Sandbox, cfg runtime.ContainerConfig) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := rt.Create(ctx, cfg, s); err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(ctx, cfg.ID); err != nil {
		t.Fatal(err)
	}
}

// Run creates and starts a container, waits for its exit and returns it
// with its log.
func Run(t testing.TB, rt *runtime.Runtime, s *runtime.Sandbox, cfg runtime.ContainerConfig) (runtime.Container, []Record) {
	t.Helper()
	Start(t, rt, s, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := rt.Wait(ctx, cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c, ReadLog(t, cfg.LogPath)
}

// Record is one record of a CRI log file.
type Record struct {
	Stream  string
	Partial bool
	Content string
}

// ReadLog parses a CRI log file, failing the test on a malformed record.
func ReadLog(t testing.TB, path string) []Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), " ", 4)
		if len(parts) != 4 {
			t.Fatalf("log line %q: not <time> <stream> <tag> <content>", sc.Text())
		}
		if _, err := time.Parse(time.RFC3339Nano, parts[0]); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if parts[1] != "stdout" && parts[1] != "stderr" || parts[2] != "F" && parts[2] != "P" {
			t.Fatalf("log line %q: bad stream or tag", sc.Text())
		}
		out = append(out, Record{Stream: parts[1], Partial: parts[2] == "P", Content: parts[3]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Stdout returns the contents of the stdout records.
func Stdout(recs []Record) []string {
	var out []string
	for _, r := range recs {
		if r.Stream == "stdout" {
			out = append(out, r.Content)
		}
	}
	return out
}

// WaitLog waits until the container logging to path has written last as its
// latest stdout line, and returns its stdout lines.
func WaitLog(t testing.TB, path, last string) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var out []string
		if _, err := os.Stat(path); err == nil {
			out = Stdout(ReadLog(t, path))
			if len(out) > 0 && out[len(out)-1] == last {
				return out
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("log %s: %q, waited for %q", path, out, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
