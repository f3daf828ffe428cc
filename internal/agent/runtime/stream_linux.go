package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The attach protocol, spoken on the shim's attach socket: frames of a kind
// byte, a big-endian uint32 length and the payload.
const (
	frameStdin    byte = 1 // client to shim: bytes for the container's stdin
	frameStdinEOF byte = 2 // client to shim: the client's stdin ended
	frameResize   byte = 3 // client to shim: uint16 height, uint16 width
	frameStdout   byte = 4 // shim to client
	frameStderr   byte = 5 // shim to client
)

const (
	fileAttach = "attach.sock"
	// maxFrame bounds a frame's payload.
	maxFrame = 1 << 20
	// clientWriteTimeout drops an attached client that does not read its
	// output, so it cannot stall the container's output.
	clientWriteTimeout = 10 * time.Second
)

func writeFrame(w io.Writer, kind byte, p []byte) error {
	var hdr [5]byte
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	if _, err := w.Write(append(hdr[:], p...)); err != nil {
		return err
	}
	return nil
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return hdr[0], p, nil
}

// session is the shim's side of a container's streams: it logs the
// output, copies it to attached clients, and feeds the clients' input to
// the container's stdin (or terminal).
type session struct {
	log       *slog.Logger
	in        *os.File // the container's stdin, or the terminal; nil if none
	term      *os.File // the terminal's master side; nil without one
	tty       bool
	stdinOnce bool

	mu       sync.Mutex // guards clients and inClosed
	clients  map[*net.UnixConn]*sync.Mutex
	inClosed bool
	handlers sync.WaitGroup
}

// pump logs r as stream and copies it to the attached clients until r
// ends.
func (s *session) pump(w *logWriter, stream string, kind byte, r io.Reader) {
	ls := &logStream{w: w, stream: stream}
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := ls.Write(buf[:n]); werr != nil {
				s.log.Error("logging output", "stream", stream, "err", werr)
			}
			s.broadcast(kind, buf[:n])
		}
		if err != nil {
			if ferr := ls.Flush(); ferr != nil {
				s.log.Error("logging output", "stream", stream, "err", ferr)
			}
			// A terminal's master reads EIO once the container's side closes.
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) && !errors.Is(err, syscall.EIO) {
				s.log.Error("reading output", "stream", stream, "err", err)
			}
			return
		}
	}
}

func (s *session) broadcast(kind byte, p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, wmu := range s.clients {
		wmu.Lock()
		c.SetWriteDeadline(time.Now().Add(clientWriteTimeout))
		err := writeFrame(c, kind, p)
		wmu.Unlock()
		if err != nil {
			s.log.Warn("dropping an attached client", "err", err)
			c.Close()
			delete(s.clients, c)
		}
	}
}

// serve accepts attach clients on ln until it is closed.
func (s *session) serve(ln *net.UnixListener) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.clients[c] = new(sync.Mutex)
		s.mu.Unlock()
		s.handlers.Go(func() { s.handle(c) })
	}
}

// handle reads a client's input until it leaves.
func (s *session) handle(c *net.UnixConn) {
	defer func() {
		s.mu.Lock()
		delete(s.clients, c)
		s.mu.Unlock()
		c.Close()
		if s.stdinOnce {
			s.closeStdin()
		}
	}()
	for {
		kind, p, err := readFrame(c)
		if err != nil {
			return
		}
		switch kind {
		case frameStdin:
			if s.in != nil {
				if _, err := s.in.Write(p); err != nil {
					s.log.Warn("writing stdin", "err", err)
				}
			}
		case frameStdinEOF:
			if s.stdinOnce {
				s.closeStdin()
			}
		case frameResize:
			if s.term != nil && len(p) == 4 {
				sz := TermSize{Height: binary.BigEndian.Uint16(p), Width: binary.BigEndian.Uint16(p[2:])}
				if err := resize(s.term, sz); err != nil {
					s.log.Warn("resizing the terminal", "err", err)
				}
			}
		}
	}
}

// closeStdin ends the container's stdin; with a terminal it sends EOF
// (^D), since closing the master would hang up the whole terminal.
func (s *session) closeStdin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.in == nil || s.inClosed {
		return
	}
	s.inClosed = true
	if s.tty {
		s.in.Write([]byte{4})
		return
	}
	s.in.Close()
}

// end disconnects every client and waits for their handlers.
func (s *session) end() {
	s.mu.Lock()
	for c := range s.clients {
		c.Close()
	}
	s.mu.Unlock()
	s.handlers.Wait()
}

// TermSize is a terminal's size in characters.
type TermSize struct {
	Width, Height uint16
}

// Streams are a caller's ends of a container's or an exec'd process's
// stdio. Nil members are not connected.
type Streams struct {
	// Stdin is read until EOF and fed to the process. A Read still blocked
	// when the session ends is abandoned; the caller should then close
	// whatever feeds it.
	Stdin io.Reader
	// Stdout and Stderr receive the output; with a terminal all of it goes
	// to Stdout.
	Stdout, Stderr io.Writer
	// Resize sets the terminal's size, for processes with one.
	Resize <-chan TermSize
}

// Attach connects streams to a created or running container's stdio until
// its output ends (the container exited) or ctx ends. Output written before
// Attach is in the log, not in streams. Ending Stdin closes the container's
// stdin if it was created with StdinOnce; otherwise input simply stops.
func (r *Runtime) Attach(ctx context.Context, id string, streams Streams) error {
	if err := validName(id); err != nil {
		return fmt.Errorf("attaching: %w", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", filepath.Join(r.containerDir(id), fileAttach))
	if err != nil {
		return fmt.Errorf("attaching to container %s: %w", id, err)
	}
	defer conn.Close()

	var wmu sync.Mutex // guards writes to conn
	send := func(kind byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return writeFrame(conn, kind, p)
	}
	done := make(chan struct{})
	defer close(done)
	if streams.Stdin != nil {
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := streams.Stdin.Read(buf)
				if n > 0 && send(frameStdin, buf[:n]) != nil {
					return
				}
				if err != nil {
					send(frameStdinEOF, nil)
					return
				}
			}
		}()
	}
	if streams.Resize != nil {
		go func() {
			for {
				select {
				case <-done:
					return
				case sz, ok := <-streams.Resize:
					if !ok {
						return
					}
					var p [4]byte
					binary.BigEndian.PutUint16(p[:], sz.Height)
					binary.BigEndian.PutUint16(p[2:], sz.Width)
					if send(frameResize, p[:]) != nil {
						return
					}
				}
			}
		}()
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	for {
		kind, p, err := readFrame(conn)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("attaching to container %s: %w", id, ctx.Err())
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("attaching to container %s: %w", id, err)
		}
		var w io.Writer
		switch kind {
		case frameStdout:
			w = streams.Stdout
		case frameStderr:
			w = streams.Stderr
		}
		if w != nil {
			if _, err := w.Write(p); err != nil {
				return fmt.Errorf("attaching to container %s: %w", id, err)
			}
		}
	}
}

// resize sets a terminal's size. It does not use term.Fd, which would make
// the file blocking and so deaf to Close while read.
func resize(term *os.File, sz TermSize) error {
	rc, err := term.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	err = rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: sz.Height, Col: sz.Width})
	})
	return errors.Join(err, ierr)
}
