package runtime

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as the shim and as a stand-in agent process:
// TestMain runs those roles when the first argument names them.
const (
	shimRole  = "berth-test-shim"
	agentRole = "berth-test-agent"
)

func TestMain(m *testing.M) {
	if len(os.Args) >= 2 {
		switch os.Args[1] {
		case shimRole:
			if err := RunShim(os.Args[2]); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(0)
		case agentRole:
			if err := runTestAgent(os.Args[2:]); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	os.Exit(m.Run())
}

// needRuntime skips the test unless it runs as root with runc and
// busybox-static installed.
func needRuntime(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (namespaces, mounts, cgroups, runc)")
	}
	for _, bin := range []string{"runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s (apt-get install runc)", bin)
		}
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox (apt-get install busybox-static)")
	}
}

// busyboxRootfs returns a root filesystem holding busybox and its applets.
func busyboxRootfs(t *testing.T) string {
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
	for _, applet := range []string{"sh", "sleep", "cat", "id", "nc", "wget", "ip", "hostname", "echo", "test", "touch", "mkdir", "dd", "seq", "ping", "grep", "readlink", "ls", "tr", "rmdir"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
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

// testConfig returns a Config whose state and cgroups are the test's own.
func testConfig(t *testing.T) Config {
	return Config{
		RunDir:       t.TempDir(),
		CgroupParent: fmt.Sprintf("/berth-test-%d", rand.Uint32()),
		ShimCommand:  []string{os.Args[0], shimRole},
	}
}

// newTestRuntime returns a Runtime whose containers, sandboxes and cgroups
// are removed when the test ends.
func newTestRuntime(t *testing.T, cfg Config) *Runtime {
	t.Helper()
	rt, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanUp(t, rt) })
	return rt
}

func cleanUp(t *testing.T, rt *Runtime) {
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
	if err := removeCgroup(rt.cgroupMode, rt.cfg.CgroupParent); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

func newSandbox(t *testing.T, rt *Runtime, cfg SandboxConfig) *Sandbox {
	t.Helper()
	s, err := rt.CreateSandbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// container fills a ContainerConfig for a busybox command.
func container(t *testing.T, id, rootfs string, args ...string) ContainerConfig {
	return ContainerConfig{
		ID:      id,
		Rootfs:  rootfs,
		Args:    args,
		Env:     []string{"PATH=/bin"},
		LogPath: filepath.Join(t.TempDir(), id+".log"),
	}
}

// run creates and starts a container and waits for its exit.
func run(t *testing.T, rt *Runtime, s *Sandbox, cfg ContainerConfig) (Container, []logRecord) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start(t, rt, s, cfg)
	c, err := rt.Wait(ctx, cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c, readLog(t, cfg.LogPath)
}

func start(t *testing.T, rt *Runtime, s *Sandbox, cfg ContainerConfig) {
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

type logRecord struct {
	Stream  string
	Partial bool
	Content string
}

// readLog parses a CRI log file, checking each record's form.
func readLog(t *testing.T, path string) []logRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []logRecord
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
		out = append(out, logRecord{Stream: parts[1], Partial: parts[2] == "P", Content: parts[3]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// stdout returns the full lines a container wrote to stdout.
func stdout(recs []logRecord) []string {
	var out []string
	for _, r := range recs {
		if r.Stream == "stdout" {
			out = append(out, r.Content)
		}
	}
	return out
}

// runTestAgent plays an agent that creates and starts a container, says so
// on stdout, and then waits to be killed. Arguments: run dir, cgroup parent,
// rootfs, log path.
func runTestAgent(args []string) error {
	rt, err := New(Config{RunDir: args[0], CgroupParent: args[1], ShimCommand: []string{os.Args[0], shimRole}})
	if err != nil {
		return err
	}
	s, err := rt.CreateSandbox(SandboxConfig{ID: "agentpod", Name: "agentpod"})
	if err != nil {
		return err
	}
	ctx := context.Background()
	cfg := ContainerConfig{
		ID: "survivor", Rootfs: args[2], LogPath: args[3], Env: []string{"PATH=/bin"},
		Labels: map[string]string{"io.kubernetes.container.name": "survivor"},
		Args:   []string{"sh", "-c", "echo before; until test -e /tmp/go; do sleep 0.05; done; echo after; exit 3"},
	}
	if err := rt.Create(ctx, cfg, s); err != nil {
		return err
	}
	if err := rt.Start(ctx, cfg.ID); err != nil {
		return err
	}
	fmt.Println("started")
	// Wait to be killed; the test holds stdin open.
	_, err = io.Copy(io.Discard, os.Stdin)
	return err
}

// waitLog waits until a container has written the line last to stdout and
// returns its stdout lines.
func waitLog(t *testing.T, path, last string) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var out []string
		if _, err := os.Stat(path); err == nil {
			out = stdout(readLog(t, path))
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
