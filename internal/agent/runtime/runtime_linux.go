package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Config configures a Runtime.
type Config struct {
	// RunDir holds sandboxes, bundles and the OCI runtimes' state; it
	// should be on a tmpfs (it means nothing after a reboot). Default
	// /run/berth.
	RunDir string
	// CgroupParent is the cgroup under which pods get pod<UID>/<container
	// ID>. Default /berth.
	CgroupParent string
	// Runtimes maps RuntimeClass handler names to OCI runtime binaries
	// (paths or names looked up in PATH). Default {"runc": "runc",
	// "crun": "crun"}; the handler "" means "runc".
	Runtimes map[string]string
	// ShimCommand is the argv that starts a shim, to which the container's
	// directory is appended; the command must call RunShim. Default the
	// running executable with the argument "shim".
	ShimCommand []string
}

// Runtime creates sandboxes and containers on this node. It keeps no state
// in memory that is not also on disk.
type Runtime struct {
	cfg        Config
	cgroupMode CgroupMode
	bounding   []string
	swap       bool
}

// New checks the host and returns a Runtime.
func New(cfg Config) (*Runtime, error) {
	if cfg.RunDir == "" {
		cfg.RunDir = "/run/berth"
	}
	runDir, err := filepath.Abs(cfg.RunDir)
	if err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	cfg.RunDir = runDir
	if cfg.CgroupParent == "" {
		cfg.CgroupParent = "/berth"
	}
	if !path.IsAbs(cfg.CgroupParent) {
		return nil, fmt.Errorf("cgroup parent %q is not absolute", cfg.CgroupParent)
	}
	if cfg.Runtimes == nil {
		cfg.Runtimes = map[string]string{"runc": "runc", "crun": "crun"}
	}
	if cfg.ShimCommand == nil {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding the shim executable: %w", err)
		}
		cfg.ShimCommand = []string{exe, "shim"}
	}
	mode, err := DetectCgroupMode()
	if err != nil {
		return nil, err
	}
	bounding, err := boundingCapabilities()
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"sandboxes", "containers"} {
		if err := os.MkdirAll(filepath.Join(cfg.RunDir, d), 0o700); err != nil {
			return nil, fmt.Errorf("creating run directory: %w", err)
		}
	}
	return &Runtime{
		cfg:        cfg,
		cgroupMode: mode,
		bounding:   bounding,
		swap:       swapAccounting(mode),
	}, nil
}

// CgroupMode returns the host's cgroup layout.
func (r *Runtime) CgroupMode() CgroupMode { return r.cgroupMode }

func (r *Runtime) podCgroup(uid string) string {
	return path.Join(r.cfg.CgroupParent, "pod"+uid)
}

// State is a container's life-cycle state.
type State string

const (
	// StateCreated: the process exists but has not been started.
	StateCreated State = "created"
	// StateRunning: the process runs.
	StateRunning State = "running"
	// StateExited: the process ended; Container.ExitCode says how.
	StateExited State = "exited"
	// StateUnknown: the runtime and the shim's files disagree or are gone.
	StateUnknown State = "unknown"
)

// Container is what the node knows about one container.
type Container struct {
	ID        string
	SandboxID string
	Handler   string
	State     State
	// Pid is the process in the host's PID namespace, while it runs.
	Pid int
	// ExitCode is the process's exit status, or 128 plus the signal that
	// killed it. OOMKilled says the kernel's OOM killer killed a process
	// of the container.
	ExitCode  int
	OOMKilled bool
	// Reason explains StateUnknown.
	Reason      string
	CreatedAt   time.Time
	StartedAt   time.Time
	FinishedAt  time.Time
	Labels      map[string]string
	Annotations map[string]string
	LogPath     string
	// CgroupPath is the container's cgroup, relative to the roots of the
	// hierarchies (the v2 one, or each v1 controller's).
	CgroupPath string
}

// meta is the container's description kept in its directory.
type meta struct {
	ID          string            `json:"id"`
	SandboxID   string            `json:"sandboxID"`
	Handler     string            `json:"handler"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	LogPath     string            `json:"logPath"`
	CgroupPath  string            `json:"cgroupPath,omitempty"`
	CreatedAt   time.Time         `json:"createdAt"`
}

// shimConfig tells the shim what to run; written by Create, read by RunShim.
type shimConfig struct {
	ID          string     `json:"id"`
	Runtime     string     `json:"runtime"`
	RuntimeRoot string     `json:"runtimeRoot"`
	LogPath     string     `json:"logPath"`
	LogMaxSize  int64      `json:"logMaxSize"`
	TTY         bool       `json:"tty"`
	Stdin       bool       `json:"stdin"`
	StdinOnce   bool       `json:"stdinOnce"`
	CgroupMode  CgroupMode `json:"cgroupMode"`
	CgroupPath  string     `json:"cgroupPath"`
}

// exitStatus is written by the shim when the container's process ends.
type exitStatus struct {
	ExitCode   int       `json:"exitCode"`
	OOMKilled  bool      `json:"oomKilled"`
	FinishedAt time.Time `json:"finishedAt"`
}

// Files in a container's directory.
const (
	fileMeta    = "meta.json"
	fileShim    = "shim.json"
	fileStatus  = "status.json"
	fileStarted = "started"
	filePid     = "pid"
	fileShimPid = "shim.pid"
	fileConsole = "console.sock"
)

func (r *Runtime) containerDir(id string) string {
	return filepath.Join(r.cfg.RunDir, "containers", id)
}

func (r *Runtime) runtimeRoot(handler string) string {
	return filepath.Join(r.cfg.RunDir, "oci", handler)
}

func (r *Runtime) runtimeBinary(handler string) (string, error) {
	if handler == "" {
		handler = "runc"
	}
	bin, ok := r.cfg.Runtimes[handler]
	if !ok {
		return "", fmt.Errorf("no runtime for handler %q", handler)
	}
	if filepath.Base(bin) == "crun" && r.cgroupMode == CgroupHybrid {
		return "", fmt.Errorf("runtime handler %q: crun does not support the hybrid cgroup layout of this host; use runc or boot with cgroup v2", handler)
	}
	return bin, nil
}

// Create makes the container's bundle and starts its shim, which creates the
// container; it returns once the container is created (not started) or
// creation failed, in which case nothing is left behind (the cleanup runs
// even when ctx has ended).
func (r *Runtime) Create(ctx context.Context, cfg ContainerConfig, s *Sandbox) error {
	if err := validName(cfg.ID); err != nil {
		return fmt.Errorf("creating container: %w", err)
	}
	if cfg.LogPath == "" {
		return fmt.Errorf("creating container %s: no log path", cfg.ID)
	}
	handler := cfg.Handler
	if handler == "" {
		handler = "runc"
	}
	bin, err := r.runtimeBinary(handler)
	if err != nil {
		return fmt.Errorf("creating container %s: %w", cfg.ID, err)
	}
	spec, err := r.Spec(cfg, s)
	if err != nil {
		return fmt.Errorf("creating container %s: building spec: %w", cfg.ID, err)
	}
	dir := r.containerDir(cfg.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("creating container %s: %w", cfg.ID, err)
	}
	maxSize := cfg.LogMaxSize
	if maxSize == 0 {
		maxSize = 10 << 20
	}
	err = errors.Join(
		writeJSON(filepath.Join(dir, "config.json"), spec),
		writeJSON(filepath.Join(dir, fileMeta), meta{
			ID: cfg.ID, SandboxID: s.Config.ID, Handler: handler,
			Labels: cfg.Labels, Annotations: cfg.Annotations,
			LogPath: cfg.LogPath, CgroupPath: spec.Linux.CgroupsPath, CreatedAt: time.Now(),
		}),
		writeJSON(filepath.Join(dir, fileShim), shimConfig{
			ID: cfg.ID, Runtime: bin, RuntimeRoot: r.runtimeRoot(handler),
			LogPath: cfg.LogPath, LogMaxSize: maxSize, TTY: cfg.TTY, Stdin: cfg.Stdin,
			StdinOnce: cfg.StdinOnce, CgroupMode: r.cgroupMode, CgroupPath: spec.Linux.CgroupsPath,
		}),
	)
	if err == nil {
		err = r.startShim(dir)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("creating container %s: %w", cfg.ID, err), r.remove(context.WithoutCancel(ctx), cfg.ID, handler))
	}
	return nil
}

// startShim starts the shim for the container in dir, in a session of its
// own, and waits for its report on a pipe: "" once the container is
// created, or why it was not. The shim runs as long as the container; a
// goroutine reaps it if it ends while the agent runs. Its standard error
// goes to the container's shim.log.
func (r *Runtime) startShim(dir string) error {
	rd, wr, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("starting shim: %w", err)
	}
	defer rd.Close()
	logPath := filepath.Join(dir, "shim.log")
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		wr.Close()
		return fmt.Errorf("starting shim: %w", err)
	}
	args := append(append([]string{}, r.cfg.ShimCommand[1:]...), dir)
	// Not bound to a context: the shim outlives the request, and the agent.
	cmd := exec.Command(r.cfg.ShimCommand[0], args...)
	cmd.ExtraFiles = []*os.File{wr}
	cmd.Env = append(os.Environ(), shimReportEnv+"=3")
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/" // hold no directory of the agent's
	err = cmd.Start()
	wr.Close()
	logFile.Close()
	if err != nil {
		return fmt.Errorf("starting shim: %w", err)
	}
	go func() { _ = cmd.Wait() }()
	msg, err := io.ReadAll(rd)
	if err != nil {
		return fmt.Errorf("reading shim report: %w", err)
	}
	switch {
	case len(msg) == 0:
		return fmt.Errorf("shim ended without a report: %s", tail(logPath, 1024))
	case string(msg) != "ok":
		return errors.New(string(msg))
	}
	return nil
}

// tail returns up to the last n bytes of the file at path, trimmed; "" when
// it cannot be read.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	b := make([]byte, min(fi.Size(), n))
	if _, err := f.ReadAt(b, fi.Size()-int64(len(b))); err != nil {
		return ""
	}
	return string(bytes.TrimSpace(b))
}

// Start starts a created container.
func (r *Runtime) Start(ctx context.Context, id string) error {
	m, err := r.meta(id)
	if err != nil {
		return fmt.Errorf("starting container: %w", err)
	}
	if _, err := r.oci(ctx, m.Handler, "start", id); err != nil {
		return fmt.Errorf("starting container %s: %w", id, err)
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if err := writeFile(filepath.Join(r.containerDir(id), fileStarted), []byte(now)); err != nil {
		return fmt.Errorf("starting container %s: %w", id, err)
	}
	return nil
}

// Kill sends sig to the container's process. Killing a container that has
// exited is no error.
func (r *Runtime) Kill(ctx context.Context, id string, sig syscall.Signal) error {
	m, err := r.meta(id)
	if err != nil {
		return fmt.Errorf("killing container: %w", err)
	}
	if _, err := r.oci(ctx, m.Handler, "kill", id, strconv.Itoa(int(sig))); err != nil {
		c, serr := r.State(ctx, id)
		if serr == nil && c.State == StateExited {
			return nil
		}
		return fmt.Errorf("killing container %s: %w", id, err)
	}
	return nil
}

// Wait blocks until the container has exited and its shim has recorded the
// exit, or ctx ends. It also returns, with StateUnknown, a container whose
// shim is gone without recording an exit.
func (r *Runtime) Wait(ctx context.Context, id string) (Container, error) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		c, err := r.State(ctx, id)
		if err != nil {
			return Container{}, err
		}
		if c.State == StateExited || c.State == StateUnknown {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return c, fmt.Errorf("waiting for container %s: %w", id, ctx.Err())
		case <-t.C:
		}
	}
}

// Delete removes a container: its process is killed if it runs (use Kill
// first for a graceful stop), then the runtime's state and the bundle are
// removed. The log file stays. Deleting a missing container is no error.
func (r *Runtime) Delete(ctx context.Context, id string) error {
	m, err := r.meta(id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting container: %w", err)
	}
	c, err := r.State(ctx, id)
	if err != nil {
		return fmt.Errorf("deleting container %s: %w", id, err)
	}
	if c.State == StateCreated || c.State == StateRunning {
		if _, err := r.oci(ctx, m.Handler, "kill", id, "9"); err != nil {
			return fmt.Errorf("deleting container %s: %w", id, err)
		}
		if _, err := r.Wait(ctx, id); err != nil {
			return fmt.Errorf("deleting container %s: %w", id, err)
		}
	}
	if err := r.remove(ctx, id, m.Handler); err != nil {
		return fmt.Errorf("deleting container %s: %w", id, err)
	}
	return nil
}

// remove deletes the runtime's state of a container and its directory.
func (r *Runtime) remove(ctx context.Context, id, handler string) error {
	if _, err := r.oci(ctx, handler, "delete", "--force", id); err != nil && !errors.Is(err, errNotExist) {
		return err
	}
	return os.RemoveAll(r.containerDir(id))
}

func (r *Runtime) meta(id string) (meta, error) {
	var m meta
	if err := validName(id); err != nil {
		return m, err
	}
	b, err := os.ReadFile(filepath.Join(r.containerDir(id), fileMeta))
	if err != nil {
		return m, fmt.Errorf("container %s: %w", id, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("container %s: %w", id, err)
	}
	return m, nil
}

// ociState is the part of "runc state" that berth reads.
type ociState struct {
	ID     string    `json:"id"`
	Pid    int       `json:"pid"`
	Status string    `json:"status"`
	Create time.Time `json:"created"`
}

// State returns what the node knows of one container.
func (r *Runtime) State(ctx context.Context, id string) (Container, error) {
	m, err := r.meta(id)
	if err != nil {
		return Container{}, err
	}
	var st *ociState
	out, err := r.oci(ctx, m.Handler, "state", id)
	switch {
	case err == nil:
		st = new(ociState)
		if err := json.Unmarshal(out, st); err != nil {
			return Container{}, fmt.Errorf("container %s: parsing runtime state: %w", id, err)
		}
	case !errors.Is(err, errNotExist):
		return Container{}, fmt.Errorf("container %s: %w", id, err)
	}
	return r.container(m, st), nil
}

// List returns every container on the node, found from the bundles and the
// runtimes' state.
func (r *Runtime) List(ctx context.Context) ([]Container, error) {
	entries, err := os.ReadDir(filepath.Join(r.cfg.RunDir, "containers"))
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	states := map[string]map[string]*ociState{}
	var out []Container
	for _, e := range entries {
		m, err := r.meta(e.Name())
		if errors.Is(err, fs.ErrNotExist) {
			continue // being created or deleted
		}
		if err != nil {
			return nil, fmt.Errorf("listing containers: %w", err)
		}
		byID, ok := states[m.Handler]
		if !ok {
			byID, err = r.ociList(ctx, m.Handler)
			if err != nil {
				return nil, fmt.Errorf("listing containers: %w", err)
			}
			states[m.Handler] = byID
		}
		out = append(out, r.container(m, byID[m.ID]))
	}
	return out, nil
}

// listAttempts bounds the listings ociList makes when one fails on a
// container that went meanwhile.
const listAttempts = 3

func (r *Runtime) ociList(ctx context.Context, handler string) (map[string]*ociState, error) {
	var out []byte
	var err error
	for range listAttempts {
		// runc list fails when a container's state directory goes between
		// its reading of the root directory and its stat of the entry (a
		// concurrent delete); the next listing no longer sees it.
		out, err = r.oci(ctx, handler, "list", "--format", "json")
		if err == nil || !strings.Contains(err.Error(), "no such file or directory") {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	var list []*ociState
	if t := bytes.TrimSpace(out); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		if err := json.Unmarshal(t, &list); err != nil {
			return nil, fmt.Errorf("parsing runtime list: %w", err)
		}
	}
	byID := make(map[string]*ociState, len(list))
	for _, s := range list {
		byID[s.ID] = s
	}
	return byID, nil
}

// container merges the bundle's metadata, the runtime's state (nil when the
// runtime does not know the container) and the shim's files.
func (r *Runtime) container(m meta, st *ociState) Container {
	dir := r.containerDir(m.ID)
	c := Container{
		ID: m.ID, SandboxID: m.SandboxID, Handler: m.Handler,
		Labels: m.Labels, Annotations: m.Annotations, LogPath: m.LogPath,
		CgroupPath: m.CgroupPath, CreatedAt: m.CreatedAt,
	}
	if b, err := os.ReadFile(filepath.Join(dir, fileStarted)); err == nil {
		c.StartedAt, _ = time.Parse(time.RFC3339Nano, string(b))
	}
	var exit exitStatus
	if b, err := os.ReadFile(filepath.Join(dir, fileStatus)); err == nil {
		if err := json.Unmarshal(b, &exit); err != nil {
			c.State, c.Reason = StateUnknown, "unreadable exit status: "+err.Error()
			return c
		}
		c.State, c.ExitCode, c.OOMKilled, c.FinishedAt = StateExited, exit.ExitCode, exit.OOMKilled, exit.FinishedAt
		return c
	}
	switch {
	case st == nil:
		c.State, c.Reason = StateUnknown, "the runtime does not know the container and no exit was recorded"
	case st.Status == "created" || st.Status == "creating":
		c.State, c.Pid = StateCreated, st.Pid
	case st.Status == "running" || st.Status == "paused":
		c.State, c.Pid = StateRunning, st.Pid
	case st.Status == "stopped" && shimAlive(dir):
		// The shim is about to record the exit.
		c.State, c.Pid = StateRunning, st.Pid
	default:
		c.State, c.Reason = StateUnknown, "the container stopped and its shim recorded no exit"
	}
	return c
}

// shimAlive reports whether the shim whose pid is in dir still runs.
func shimAlive(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, fileShimPid))
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil {
		return false
	}
	return syscall.Kill(pid, 0) == nil
}

// errNotExist is returned by oci when the runtime does not know the
// container.
var errNotExist = errors.New("container does not exist")

// oci runs the OCI runtime of handler and returns its standard output.
func (r *Runtime) oci(ctx context.Context, handler string, args ...string) ([]byte, error) {
	bin, err := r.runtimeBinary(handler)
	if err != nil {
		return nil, err
	}
	full := append([]string{"--root", r.runtimeRoot(handler)}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "does not exist") || strings.Contains(msg, "No such file or directory") {
			return nil, fmt.Errorf("%s %s: %w", bin, args[0], errNotExist)
		}
		return nil, fmt.Errorf("%s %s: %w: %s", bin, args[0], err, msg)
	}
	return stdout.Bytes(), nil
}

func validName(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") || len(id) > 200 {
		return fmt.Errorf("invalid id %q", id)
	}
	return nil
}

// writeFile writes a file atomically: readers see the old or the new
// content, never a part.
func writeFile(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

func writeJSON(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", name, err)
	}
	return writeFile(name, b)
}

// RemoveCgroupParent removes Config.CgroupParent from every cgroup
// hierarchy, once no pod cgroup is left under it (when uninstalling, and
// in tests).
func (r *Runtime) RemoveCgroupParent() error {
	if err := removeCgroup(r.cgroupMode, r.cfg.CgroupParent); err != nil {
		return fmt.Errorf("removing cgroup parent: %w", err)
	}
	return nil
}
