package runtime

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// shimReportEnv says the report pipe is file descriptor 3.
const shimReportEnv = "BERTH_SHIM_REPORT_FD"

// outputDrainTimeout bounds how long the shim waits, after the container's
// process ended, for output still held open by processes it left behind
// (possible only with the host's PID namespace).
const outputDrainTimeout = 5 * time.Second

// RunShim is the body of "berth shim <container dir>". The agent starts it
// in a session of its own with a pipe as file descriptor 3 and
// BERTH_SHIM_REPORT_FD=3; the shim outlives the agent (init, or the nearest
// subreaper, adopts it). It creates the container with the OCI runtime,
// writes "ok" (or why creation failed) to the pipe and closes it, logs the
// container's output, waits for its process to end and records the exit in
// the container's directory.
func RunShim(dir string) error {
	if os.Getenv(shimReportEnv) != "3" {
		return errors.New("shim: no report pipe; the shim is started by the node agent")
	}
	// Nothing the shim starts may hold the pipe, or the agent would wait
	// for it.
	unix.CloseOnExec(3)
	report := os.NewFile(3, "report")
	defer report.Close()
	return superviseContainer(dir, report)
}

// shimStdio is the container's side and the shim's side of its stdio.
type shimStdio struct {
	// stdin, stdout and stderr are given to the OCI runtime, which passes
	// them to the container; nil means /dev/null.
	stdin, stdout, stderr *os.File
	// in is where the shim writes the container's stdin (kept open for an
	// attach); nil when stdin is closed.
	in *os.File
	// out and errOut are what the shim reads; with a terminal, out is its
	// master side and errOut is nil.
	out, errOut *os.File
}

func (s *shimStdio) closeContainerSide() {
	for _, f := range []*os.File{s.stdin, s.stdout, s.stderr} {
		if f != nil {
			f.Close()
		}
	}
}

func superviseContainer(dir string, report *os.File) error {
	fail := func(err error) error {
		report.WriteString(err.Error())
		return err
	}
	var cfg shimConfig
	b, err := os.ReadFile(filepath.Join(dir, fileShim))
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil {
		return fail(fmt.Errorf("shim: reading config: %w", err))
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "shim.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fail(fmt.Errorf("shim: %w", err))
	}
	defer logFile.Close()
	log := slog.New(slog.NewJSONHandler(logFile, nil)).With("container", cfg.ID)

	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fail(fmt.Errorf("shim: becoming subreaper: %w", err))
	}
	if err := writeFile(filepath.Join(dir, fileShimPid), []byte(strconv.Itoa(os.Getpid()))); err != nil {
		return fail(fmt.Errorf("shim: %w", err))
	}
	out, err := openLog(cfg.LogPath, cfg.LogMaxSize, time.Now)
	if err != nil {
		return fail(fmt.Errorf("shim: %w", err))
	}
	defer out.Close()

	stdio, pid, err := createContainer(dir, cfg)
	if err != nil {
		return fail(err)
	}
	sess := &session{log: log, in: stdio.in, tty: cfg.TTY, stdinOnce: cfg.StdinOnce, clients: map[*net.UnixConn]*sync.Mutex{}}
	if cfg.TTY {
		sess.term = stdio.out
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, fileAttach), Net: "unix"})
	if err != nil {
		return fail(fmt.Errorf("shim: attach socket: %w", err))
	}
	var serving sync.WaitGroup
	serving.Go(func() { sess.serve(ln) })
	if _, err := report.WriteString("ok"); err != nil {
		log.Error("reporting creation", "err", err)
	}
	report.Close()

	var copiers sync.WaitGroup
	if stdio.out != nil {
		copiers.Go(func() { sess.pump(out, "stdout", frameStdout, stdio.out) })
	}
	if stdio.errOut != nil {
		copiers.Go(func() { sess.pump(out, "stderr", frameStderr, stdio.errOut) })
	}

	status := waitProcess(pid, log)
	oom, err := oomKilled(cfg.CgroupMode, cfg.CgroupPath)
	if err != nil {
		log.Error("reading OOM kills", "err", err)
	}
	status.OOMKilled = oom

	drained := make(chan struct{})
	go func() {
		copiers.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(outputDrainTimeout):
		log.Warn("output still open after the container exited; closing it")
	}
	for _, f := range []*os.File{stdio.out, stdio.errOut, stdio.in} {
		if f != nil {
			f.Close()
		}
	}
	<-drained
	ln.Close()
	serving.Wait()
	sess.end()
	if err := writeJSON(filepath.Join(dir, fileStatus), status); err != nil {
		log.Error("recording exit", "err", err)
		return err
	}
	return nil
}

// createContainer runs "<runtime> create" with the container's stdio and
// returns the shim's side of it and the container's pid.
func createContainer(dir string, cfg shimConfig) (*shimStdio, int, error) {
	stdio := &shimStdio{}
	args := []string{
		"--root", cfg.RuntimeRoot,
		"--log", filepath.Join(dir, "oci.log"), "--log-format", "json",
		"create", "--bundle", dir, "--pid-file", filepath.Join(dir, filePid),
	}
	var console chan consoleResult
	var ln *net.UnixListener
	if cfg.TTY {
		sock := filepath.Join(dir, fileConsole)
		var err error
		ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
		if err != nil {
			return nil, 0, fmt.Errorf("shim: console socket: %w", err)
		}
		defer ln.Close()
		console = make(chan consoleResult, 1)
		go func() { console <- receiveConsole(ln) }()
		args = append(args, "--console-socket", sock)
	} else {
		var err error
		if stdio.out, stdio.stdout, err = os.Pipe(); err != nil {
			return nil, 0, fmt.Errorf("shim: %w", err)
		}
		if stdio.errOut, stdio.stderr, err = os.Pipe(); err != nil {
			return nil, 0, fmt.Errorf("shim: %w", err)
		}
		if cfg.Stdin {
			if stdio.stdin, stdio.in, err = os.Pipe(); err != nil {
				return nil, 0, fmt.Errorf("shim: %w", err)
			}
		}
	}
	cmd := exec.Command(cfg.Runtime, append(args, cfg.ID)...)
	if stdio.stdin != nil {
		cmd.Stdin = stdio.stdin
	}
	if stdio.stdout != nil {
		cmd.Stdout, cmd.Stderr = stdio.stdout, stdio.stderr
	}
	err := cmd.Run()
	stdio.closeContainerSide()
	if err != nil {
		return nil, 0, fmt.Errorf("%s create: %w: %s", filepath.Base(cfg.Runtime), err, lastRuntimeError(filepath.Join(dir, "oci.log")))
	}
	if cfg.TTY {
		ln.Close()
		res := <-console
		if res.err != nil {
			return nil, 0, fmt.Errorf("shim: receiving the terminal: %w", res.err)
		}
		stdio.out = res.master
		if cfg.Stdin {
			stdio.in = res.master
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, filePid))
	if err != nil {
		return nil, 0, fmt.Errorf("shim: reading pid: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, 0, fmt.Errorf("shim: parsing pid: %w", err)
	}
	return stdio, pid, nil
}

type consoleResult struct {
	master *os.File
	err    error
}

// receiveConsole accepts the runtime's connection on the console socket and
// receives the terminal's master side.
func receiveConsole(ln *net.UnixListener) consoleResult {
	conn, err := ln.AcceptUnix()
	if err != nil {
		return consoleResult{err: err}
	}
	defer conn.Close()
	buf := make([]byte, 256)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return consoleResult{err: err}
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return consoleResult{err: fmt.Errorf("no terminal in message: %v", err)}
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return consoleResult{err: fmt.Errorf("no terminal in message: %v", err)}
	}
	// Non-blocking, so the file is pollable and Close ends a Read.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return consoleResult{err: err}
	}
	return consoleResult{master: os.NewFile(uintptr(fds[0]), "console")}
}

// lastRuntimeError returns the last error message in the runtime's JSON log.
func lastRuntimeError(logPath string) string {
	f, err := os.Open(logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	var last string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && (rec.Level == "error" || rec.Level == "fatal") {
			last = rec.Msg
		}
	}
	return last
}

// waitProcess reaps children (the shim is their subreaper) until pid ends,
// and returns how it ended.
func waitProcess(pid int, log *slog.Logger) exitStatus {
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			// No children: the process is gone without our seeing it.
			log.Error("waiting for the container", "err", err)
			return exitStatus{ExitCode: 255, FinishedAt: time.Now().UTC()}
		}
		if wpid != pid {
			continue
		}
		st := exitStatus{FinishedAt: time.Now().UTC()}
		switch {
		case ws.Exited():
			st.ExitCode = ws.ExitStatus()
		case ws.Signaled():
			st.ExitCode = 128 + int(ws.Signal())
		}
		return st
	}
}
