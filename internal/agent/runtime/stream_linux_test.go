package runtime_test

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"berth.dev/berth/internal/agent/runtime"
	"berth.dev/berth/internal/agent/runtime/runtimetest"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestAttach(t *testing.T) {
	runtimetest.Need(t)
	rt := runtimetest.New(t, runtimetest.Config(t))
	rootfs := runtimetest.Rootfs(t)
	s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "attachpod", Name: "attachpod"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("stdin once", func(t *testing.T) {
		// cat echoes its input; stdin closes when the client's ends, so
		// cat exits and the session ends.
		cfg := runtimetest.Container(t, "cat", rootfs, "sh", "-c", "cat; echo done >&2")
		cfg.Stdin, cfg.StdinOnce = true, true
		runtimetest.Start(t, rt, s, cfg)
		var stdout, stderr syncBuffer
		err := rt.Attach(ctx, cfg.ID, runtime.Streams{Stdin: strings.NewReader("hello\nworld\n"), Stdout: &stdout, Stderr: &stderr})
		if err != nil {
			t.Fatal(err)
		}
		if stdout.String() != "hello\nworld\n" || stderr.String() != "done\n" {
			t.Errorf("attached stdout %q stderr %q", stdout.String(), stderr.String())
		}
		c, err := rt.Wait(ctx, cfg.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.ExitCode != 0 {
			t.Errorf("exit %d, want 0", c.ExitCode)
		}
		recs := runtimetest.ReadLog(t, cfg.LogPath)
		if diff := cmp.Diff([]string{"hello", "world"}, runtimetest.Stdout(recs)); diff != "" {
			t.Errorf("log (-want +got):\n%s", diff)
		}
		if !slices.Contains(recs, runtimetest.Record{Stream: "stderr", Content: "done"}) {
			t.Errorf("log %+v: no stderr record \"done\"", recs)
		}
	})

	t.Run("terminal with resize", func(t *testing.T) {
		// The shell waits until the terminal has the size the client set.
		cfg := runtimetest.Container(t, "tty", rootfs, "sh", "-c",
			`until [ "$(stty size)" = "30 100" ]; do sleep 0.05; done; echo resized; read line; echo "got $line"`)
		cfg.Stdin, cfg.TTY = true, true
		runtimetest.Start(t, rt, s, cfg)
		sizes := make(chan runtime.TermSize, 1)
		sizes <- runtime.TermSize{Width: 100, Height: 30}
		inR, inW := io.Pipe()
		defer inW.Close()
		var stdout syncBuffer
		errc := make(chan error, 1)
		go func() { errc <- rt.Attach(ctx, cfg.ID, runtime.Streams{Stdin: inR, Stdout: &stdout, Resize: sizes}) }()
		runtimetest.WaitLog(t, cfg.LogPath, "resized")
		if _, err := io.WriteString(inW, "ping\n"); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		// The terminal echoes the input and ends lines with \r\n.
		if !strings.Contains(stdout.String(), "got ping\r\n") {
			t.Errorf("attached output %q, want it to contain \"got ping\"", stdout.String())
		}
	})
}

func TestExec(t *testing.T) {
	runtimetest.Need(t)
	rt := runtimetest.New(t, runtimetest.Config(t))
	rootfs := runtimetest.Rootfs(t)
	s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "execpod", Name: "execpod"})
	cfg := runtimetest.Container(t, "main", rootfs, "sleep", "600")
	cfg.Env = append(cfg.Env, "FROM_CONTAINER=yes")
	cfg.User = runtime.User{UID: 1234, GID: 1234}
	runtimetest.Start(t, rt, s, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	tests := []struct {
		name                 string
		exec                 runtime.ExecConfig
		stdin                string
		size                 runtime.TermSize
		wantCode             int
		wantStdout, wantErr  string
		wantStdoutContaining string
	}{
		{
			name:       "streams, environment, identity and exit code",
			exec:       runtime.ExecConfig{Args: []string{"sh", "-c", "echo $FROM_CONTAINER $EXTRA; id -u; hostname; echo oops >&2; exit 7"}, Env: []string{"EXTRA=added"}},
			wantCode:   7,
			wantStdout: "yes added\n1234\nexecpod\n",
			wantErr:    "oops\n",
		},
		{
			name:       "stdin",
			exec:       runtime.ExecConfig{Args: []string{"cat"}},
			stdin:      "through cat",
			wantStdout: "through cat",
		},
		{
			name:                 "terminal",
			exec:                 runtime.ExecConfig{Args: []string{"sh", "-c", "test -t 0 && test -t 1 && echo on a tty"}, TTY: true},
			wantStdoutContaining: "on a tty\r\n",
		},
		{
			name: "terminal resized",
			exec: runtime.ExecConfig{Args: []string{"sh", "-c",
				`until [ "$(stty size)" = "40 120" ]; do sleep 0.05; done; echo resized`}, TTY: true},
			size:                 runtime.TermSize{Width: 120, Height: 40},
			wantStdoutContaining: "resized\r\n",
		},
	}
	t.Run("stdin left open", func(t *testing.T) {
		// The process ends without reading its stdin, which its feeder
		// keeps open: Exec still returns the exit code.
		in, feed := io.Pipe()
		defer feed.Close()
		code, err := rt.Exec(ctx, "main", runtime.ExecConfig{Args: []string{"sh", "-c", "exit 3"}}, runtime.Streams{Stdin: in})
		if err != nil || code != 3 {
			t.Errorf("Exec = %d, %v; want 3", code, err)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			streams := runtime.Streams{Stdout: &stdout, Stderr: &stderr}
			if tt.stdin != "" {
				streams.Stdin = strings.NewReader(tt.stdin)
			}
			if tt.size != (runtime.TermSize{}) {
				sizes := make(chan runtime.TermSize, 1)
				sizes <- tt.size
				streams.Resize = sizes
			}
			code, err := rt.Exec(ctx, "main", tt.exec, streams)
			if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d", code, tt.wantCode)
			}
			if tt.wantStdoutContaining != "" {
				if !strings.Contains(stdout.String(), tt.wantStdoutContaining) {
					t.Errorf("stdout %q, want it to contain %q", stdout.String(), tt.wantStdoutContaining)
				}
				return
			}
			if stdout.String() != tt.wantStdout || stderr.String() != tt.wantErr {
				t.Errorf("stdout %q stderr %q, want %q and %q", stdout.String(), stderr.String(), tt.wantStdout, tt.wantErr)
			}
		})
	}
}
