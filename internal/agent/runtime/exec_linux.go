package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// execWaitDelay bounds how long Exec waits for the streams once the
// process ended, and for the process once ctx ended and it was asked to
// stop.
const execWaitDelay = 2 * time.Second

// ExecConfig describes a process to run in a running container.
type ExecConfig struct {
	Args []string
	// Env is added to the container's environment.
	Env []string
	// Cwd is the working directory; "" means the container's.
	Cwd string
	// TTY gives the process a terminal.
	TTY bool
}

// Exec runs a process in a running container, with the container's user,
// capabilities, seccomp profile and namespaces, connected to streams, and
// returns its exit code (128 plus the signal that killed it). The process
// is a child of the caller, not of the shim: it ends with the session.
// When ctx ends the process is sent SIGTERM, and SIGKILL is sent to the
// OCI runtime after a grace period.
func (r *Runtime) Exec(ctx context.Context, id string, cfg ExecConfig, streams Streams) (int, error) {
	code, err := r.exec(ctx, id, cfg, streams)
	if err != nil {
		return 0, fmt.Errorf("exec in container %s: %w", id, err)
	}
	return code, nil
}

func (r *Runtime) exec(ctx context.Context, id string, cfg ExecConfig, streams Streams) (int, error) {
	if len(cfg.Args) == 0 {
		return 0, errors.New("no args")
	}
	m, err := r.meta(id)
	if err != nil {
		return 0, err
	}
	bin, err := r.runtimeBinary(m.Handler)
	if err != nil {
		return 0, err
	}
	dir := r.containerDir(id)
	var spec specs.Spec
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err == nil {
		err = json.Unmarshal(b, &spec)
	}
	if err != nil {
		return 0, fmt.Errorf("reading the container's spec: %w", err)
	}
	proc := *spec.Process
	proc.Args = cfg.Args
	proc.Env = append(slices.Clone(proc.Env), cfg.Env...)
	if cfg.Cwd != "" {
		proc.Cwd = cfg.Cwd
	}
	proc.Terminal = cfg.TTY
	name := fmt.Sprintf("exec-%08x", rand.Uint32())
	procFile := filepath.Join(dir, name+".json")
	if err := writeJSON(procFile, proc); err != nil {
		return 0, err
	}
	defer os.Remove(procFile)

	// With a terminal, the runtime's own stdio is a terminal of ours: it
	// makes the process's terminal and relays between the two, taking the
	// size from ours when signalled SIGWINCH.
	cmd := exec.CommandContext(ctx, bin, "--root", r.runtimeRoot(m.Handler), "exec", "--process", procFile, id)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = execWaitDelay
	var master *os.File
	if cfg.TTY {
		var slave *os.File
		master, slave, err = openPTY()
		if err != nil {
			return 0, err
		}
		defer master.Close()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		err = cmd.Start()
		slave.Close()
	} else {
		cmd.Stdout, cmd.Stderr = streams.Stdout, streams.Stderr
		if streams.Stdin != nil {
			// A pipe of ours rather than exec's copying, which Wait would
			// wait for while Stdin stays open after the process ended.
			var in, feed *os.File
			if in, feed, err = os.Pipe(); err != nil {
				return 0, err
			}
			defer feed.Close()
			cmd.Stdin = in
			go func() {
				io.Copy(feed, streams.Stdin)
				feed.Close()
			}()
			err = cmd.Start()
			in.Close()
		} else {
			err = cmd.Start()
		}
	}
	if err != nil {
		return 0, err
	}
	var copiers sync.WaitGroup
	if cfg.TTY {
		done := make(chan struct{})
		defer close(done)
		copiers.Go(func() {
			if streams.Stdout != nil {
				io.Copy(streams.Stdout, master)
			} else {
				io.Copy(io.Discard, master)
			}
		})
		if streams.Stdin != nil {
			go io.Copy(master, streams.Stdin)
		}
		if streams.Resize != nil {
			go resizeLoop(master, cmd.Process, streams.Resize, done)
		}
	}
	err = cmd.Wait()
	if master != nil {
		// The terminal's output ends (EIO) once the process and its
		// children are gone; a stray holder is cut off after a delay.
		drained := make(chan struct{})
		go func() {
			copiers.Wait()
			close(drained)
		}()
		select {
		case <-drained:
		case <-time.After(execWaitDelay):
			master.Close()
			<-drained
		}
	}
	// The runtime exits with the process's status. Wait's error may also
	// be ErrWaitDelay: a Stdin still open after the process ended.
	switch {
	case ctx.Err() != nil:
		return 0, ctx.Err()
	case cmd.ProcessState != nil && cmd.ProcessState.Exited():
		return cmd.ProcessState.ExitCode(), nil
	}
	return 0, err
}

// openPTY makes a terminal pair; the master side is non-blocking, so that
// Close ends a Read.
func openPTY() (master, slave *os.File, err error) {
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening a terminal: %w", err)
	}
	master = os.NewFile(uintptr(m), "ptmx")
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlocking the terminal: %w", err)
	}
	n, err := unix.IoctlGetUint32(m, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("naming the terminal: %w", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("opening the terminal: %w", err)
	}
	return master, slave, nil
}

// resizeLoop resizes the runtime's terminal and tells the runtime, which
// passes the size on to the process's.
func resizeLoop(master *os.File, runtime *os.Process, sizes <-chan TermSize, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case sz, ok := <-sizes:
			if !ok {
				return
			}
			if resize(master, sz) == nil {
				runtime.Signal(syscall.SIGWINCH)
			}
		}
	}
}
