package e2e

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// berthBinary is the berth binary TestMain built; empty when it could not,
// and then skipReason says why. Both are written once, before any test runs.
var (
	berthBinary string
	skipReason  string
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(buildAndRun(m))
}

// buildAndRun builds ./cmd/berth into a temporary directory and runs the
// tests. A failed build fails the package; a missing toolchain skips it.
func buildAndRun(m *testing.M) int {
	if testing.Short() {
		skipReason = "-short: end-to-end tests start real servers"
		return m.Run()
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		skipReason = "the go toolchain is not on PATH, so the berth binary cannot be built"
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "berth-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "berth")
	out, err := exec.Command(goTool, "build", "-o", bin, "berth.dev/berth/cmd/berth").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building berth: %v\n%s", err, out)
		return 1
	}
	berthBinary = bin
	return m.Run()
}

const (
	readyTimeout = 20 * time.Second
	readyPoll    = 20 * time.Millisecond
	stopTimeout  = 10 * time.Second
)

// server is one berth server process with its own data directory and port.
// It is not safe for concurrent use; tests drive it from one goroutine.
type server struct {
	dataDir    string
	port       int
	kubeconfig string
	logPath    string
	cacheDir   string // kubectl's discovery cache, private to this server

	// extraArgs are passed to every start of `berth server`.
	extraArgs []string
	// withAgent runs the server's node agent; without it the server is
	// started with --disable-agent.
	withAgent bool

	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	result error         // cmd.Wait's error, valid once exited is closed
}

// startServer starts berth on a fresh data directory and a free loopback
// port and waits until /readyz answers. The server is stopped when the test
// ends; if the test failed, the server's log is printed. extraArgs go to
// `berth server`.
func startServer(t *testing.T, extraArgs ...string) *server {
	t.Helper()
	s := newServer(t, extraArgs...)
	s.start(t)
	return s
}

// newServer prepares a server on a fresh data directory without starting
// it: the test may put things in the data directory, or set withAgent,
// and then call start.
func newServer(t *testing.T, extraArgs ...string) *server {
	t.Helper()
	if berthBinary == "" {
		t.Skip(skipReason)
	}
	return &server{dataDir: t.TempDir(), cacheDir: t.TempDir(), extraArgs: extraArgs}
}

// start starts the server on a free loopback port and waits until /readyz
// answers.
func (s *server) start(t *testing.T) {
	t.Helper()
	s.kubeconfig = filepath.Join(s.dataDir, "admin.kubeconfig")
	s.logPath = filepath.Join(t.TempDir(), "berth.log")
	t.Cleanup(func() {
		if s.running() {
			if err := s.stop(); err != nil {
				t.Errorf("stopping berth: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("berth server log (%s):\n%s", s.logPath, s.logTail())
		}
	})
	for attempt := 1; ; attempt++ {
		s.port = freePort(t)
		err := s.launch(t)
		if err == nil {
			return
		}
		if !errors.Is(err, errPortTaken) || attempt == 5 {
			t.Fatalf("starting berth: %v", err)
		}
	}
}

// restart starts the server again on the same data directory and port.
func (s *server) restart(t *testing.T) {
	t.Helper()
	if s.running() {
		t.Fatal("restart: berth is still running")
	}
	if err := s.launch(t); err != nil {
		t.Fatalf("restarting berth: %v", err)
	}
}

var errPortTaken = errors.New("port already in use")

// launch runs the binary and waits until it is ready or has exited.
func (s *server) launch(t *testing.T) error {
	t.Helper()
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child has its own descriptor
	fmt.Fprintf(logFile, "=== e2e: starting berth on port %d\n", s.port)
	logStart, err := logFile.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	args := []string{"server",
		"--data-dir", s.dataDir,
		"--bind-address", "127.0.0.1",
		"--https-port", strconv.Itoa(s.port)}
	if !s.withAgent {
		args = append(args, "--disable-agent")
	}
	cmd := exec.Command(berthBinary, append(args, s.extraArgs...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) {
		s.result = cmd.Wait()
		close(exited)
	}(s.exited)

	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-s.exited:
			if strings.Contains(s.logSince(logStart), "address already in use") {
				return fmt.Errorf("port %d: %w", s.port, errPortTaken)
			}
			return fmt.Errorf("berth exited before it was ready: %v", s.result)
		default:
		}
		if s.ready() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("/readyz did not answer 200 within %v", readyTimeout)
		}
		time.Sleep(readyPoll)
	}
}

// ready reports whether this server answers /readyz with 200. It trusts
// only the cluster CA of the admin kubeconfig, so another process that got
// hold of the port is never mistaken for ours.
func (s *server) ready() bool {
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig)
	if err != nil {
		return false // not written yet
	}
	code, err := getStatus(cfg, "/readyz")
	return err == nil && code == http.StatusOK
}

// getStatus sends GET path with cfg's credentials and returns the status.
func getStatus(cfg *rest.Config, path string) (int, error) {
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (s *server) running() bool {
	if s.exited == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits for the exit. A server that is still running
// after stopTimeout is killed, and stop reports that as an error, as it does
// a non-zero exit.
func (s *server) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-s.exited:
		if s.result != nil {
			return fmt.Errorf("exit after SIGTERM: %w", s.result)
		}
		return nil
	case <-time.After(stopTimeout):
		s.kill()
		return fmt.Errorf("still running %v after SIGTERM; killed", stopTimeout)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// logSince returns the server's log from byte offset on.
func (s *server) logSince(offset int64) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil || offset > int64(len(b)) {
		return ""
	}
	return string(b[offset:])
}

// logTail returns the end of the server's log.
func (s *server) logTail() string {
	const max = 64 << 10
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(b) > max {
		b = append([]byte("...\n"), b[len(b)-max:]...)
	}
	return string(b)
}

// restConfig returns a client configuration from the admin kubeconfig,
// without client-side rate limiting.
func (s *server) restConfig(t *testing.T) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig)
	if err != nil {
		t.Fatalf("loading %s: %v", s.kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	return cfg
}

// clientset returns a typed client for the admin kubeconfig.
func (s *server) clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(s.restConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// kubectlCmd runs one kubectl binary against one server, with its own
// discovery cache and none of the caller's kubectl environment.
type kubectlCmd struct {
	bin        string
	kubeconfig string
	cacheDir   string
}

// result is what one kubectl run produced.
type result struct {
	stdout, stderr string
	code           int // the exit code
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

const kubectlTimeout = time.Minute

// exec runs kubectl with args and the extra environment env. It fails the
// test only if kubectl could not run or outlived kubectlTimeout.
func (k kubectlCmd) exec(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), kubectlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, k.args(args)...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("kubectl %s: no answer within %v\n%s", strings.Join(args, " "), kubectlTimeout, r)
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return r
}

func (k kubectlCmd) args(args []string) []string {
	return append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir}, args...)
}

// run runs kubectl and returns its stdout; it fails the test, showing
// stderr, unless kubectl exits 0.
func (k kubectlCmd) run(t *testing.T, args ...string) string {
	t.Helper()
	r := k.exec(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("kubectl %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// runErr runs kubectl that is expected to fail and returns what it printed;
// it fails the test if kubectl exits 0.
func (k kubectlCmd) runErr(t *testing.T, args ...string) result {
	t.Helper()
	r := k.exec(t, nil, args...)
	if r.code == 0 {
		t.Fatalf("kubectl %s: succeeded, want an error\n%s", strings.Join(args, " "), r)
	}
	return r
}

// cleanEnv is the test's environment without variables that change what
// kubectl does.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "KUBECONFIG" || name == "EDITOR" || strings.HasPrefix(name, "KUBE_") || strings.HasPrefix(name, "KUBECTL_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// kubectlWith returns a runner of the kubectl binary bin against s.
func (s *server) kubectlWith(bin string) kubectlCmd {
	return kubectlCmd{bin: bin, kubeconfig: s.kubeconfig, cacheDir: s.cacheDir}
}

// kubectl runs the kubectl on PATH against s; see kubectlCmd.run.
func (s *server) kubectl(t *testing.T, args ...string) string {
	t.Helper()
	return s.kubectlWith(kubectlPath(t)).run(t, args...)
}

// kubectlErr runs the kubectl on PATH against s; see kubectlCmd.runErr.
func (s *server) kubectlErr(t *testing.T, args ...string) result {
	t.Helper()
	return s.kubectlWith(kubectlPath(t)).runErr(t, args...)
}

// kubectlPath returns the kubectl on PATH, or skips the test.
func kubectlPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not on PATH")
	}
	return p
}

// kubectlVersions are the minor versions of kubectl that may be installed
// beside the default one, as kubectl.1.27 and so on.
var kubectlVersions = []string{"1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33"}

// versionedKubectl returns the path of kubectl.<version> installed in the
// directory of the real (symlink-resolved) kubectl on PATH, or "" if there
// is none.
func versionedKubectl(t *testing.T, version string) string {
	t.Helper()
	real, err := filepath.EvalSymlinks(kubectlPath(t))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(filepath.Dir(real), "kubectl."+version)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// background is a kubectl process running until the test ends, with its
// output collected.
type background struct {
	args []string
	mu   sync.Mutex   // guards out
	out  bytes.Buffer // stdout and stderr, interleaved
}

func (b *background) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.Write(p)
}

func (b *background) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

// start runs kubectl in the background; it is killed when the test ends.
func (k kubectlCmd) start(t *testing.T, args ...string) *background {
	t.Helper()
	b := &background{args: args}
	cmd := exec.CommandContext(t.Context(), k.bin, k.args(args)...)
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = b, b
	if err := cmd.Start(); err != nil {
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	t.Cleanup(func() { _ = cmd.Wait() }) // t.Context is cancelled by now, which kills it
	return b
}

// waitForLine waits until a line of the output starts with fields.
func (b *background) waitForLine(t *testing.T, fields ...string) {
	t.Helper()
	want := strings.Join(fields, " ")
	deadline := time.Now().Add(eventTimeout)
	for {
		for _, l := range lines(b.output()) {
			if l == want || strings.HasPrefix(l, want+" ") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl %s: no line %q within %v; output:\n%s", strings.Join(b.args, " "), want, eventTimeout, b.output())
		}
		time.Sleep(readyPoll)
	}
}

// eventTimeout bounds the wait for a watch event.
const eventTimeout = 20 * time.Second
