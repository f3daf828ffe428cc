package stream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

// followPoll is how often a followed log is checked for new records, a
// rotation, and whether its container still runs.
const followPoll = 100 * time.Millisecond

// logOptions are kubelet's containerLogs query parameters.
type logOptions struct {
	follow, previous, timestamps bool
	// tail is the number of last records to show; -1 for all.
	tail int64
	// since drops records older than it; zero for none.
	since time.Time
	// limit is how many bytes to send at most; 0 for no limit.
	limit int64
}

func (s *Server) parseLogOptions(r *http.Request) (logOptions, error) {
	q := r.URL.Query()
	o := logOptions{tail: -1}
	var err error
	boolParam := func(name string) bool {
		v := q.Get(name)
		if v == "" {
			return false
		}
		b, perr := strconv.ParseBool(v)
		if perr != nil {
			err = fmt.Errorf("invalid %s %q", name, v)
		}
		return b
	}
	intParam := func(name string, min int64) int64 {
		v := q.Get(name)
		if v == "" {
			return -1
		}
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || n < min {
			err = fmt.Errorf("invalid %s %q", name, v)
		}
		return n
	}
	o.follow, o.previous, o.timestamps = boolParam("follow"), boolParam("previous"), boolParam("timestamps")
	o.tail = intParam("tailLines", 0)
	if l := intParam("limitBytes", 1); l > 0 {
		o.limit = l
	}
	if secs := intParam("sinceSeconds", 1); secs > 0 {
		o.since = s.cfg.Clock.Now().Add(-time.Duration(secs) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" {
		t, perr := time.Parse(time.RFC3339, v)
		if perr != nil {
			err = fmt.Errorf("invalid sinceTime %q", v)
		}
		o.since = t
	}
	return o, err
}

func (s *Server) serveLogs(w http.ResponseWriter, r *http.Request) {
	opts, err := s.parseLogOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	name := r.PathValue("container")
	pod := r.PathValue("namespace") + "/" + r.PathValue("pod")
	c, ok := s.lookup(w, r, name)
	if !ok {
		return
	}
	current, previous := s.cfg.LogPaths(c.PodUID, name)
	path := current
	if opts.previous {
		path = previous
		opts.follow = false
		if path == "" {
			http.Error(w, fmt.Sprintf("previous terminated container %q in pod %q not found", name, pod), http.StatusBadRequest)
			return
		}
	} else if path == "" {
		http.Error(w, fmt.Sprintf("container %q in pod %q is waiting to start: ContainerCreating", name, pod), http.StatusBadRequest)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		http.Error(w, fmt.Sprintf("failed to open log for container %q in pod %q: %v", name, pod, err), http.StatusBadRequest)
		return
	}

	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	lw := &logWriter{w: w, limit: opts.limit, timestamps: opts.timestamps, lineStart: true}
	if fl, ok := w.(http.Flusher); ok && opts.follow {
		lw.flush = fl.Flush
	}
	if opts.tail >= 0 {
		if _, err := f.Seek(tailStart(f, opts.tail), io.SeekStart); err != nil {
			f.Close()
			return
		}
	}
	stillRunning := func() bool {
		now, err := s.cfg.Lookup(r.PathValue("namespace"), r.PathValue("pod"), name)
		return err == nil && now.Running && now.ID == c.ID
	}
	if err := s.copyLog(r.Context(), lw, f, path, opts, stillRunning); err != nil && !errors.Is(err, errLimit) {
		s.cfg.Log.Debug("reading log failed", "pod", pod, "container", name, "err", err)
	}
}

// copyLog writes f's records to lw and, when following, the records that
// follow, across rotations, until the container stops or ctx ends. It
// closes f and any file it opens after it.
func (s *Server) copyLog(ctx context.Context, lw *logWriter, f *os.File, path string, opts logOptions, running func() bool) error {
	defer func() { f.Close() }()
	br := bufio.NewReader(f)
	var pending []byte // a record not yet ended by its newline
	stopAtEOF, reopenAtEOF := false, false
	for {
		line, err := br.ReadBytes('\n')
		if err == nil {
			line = append(pending, line...)
			pending = nil
			if werr := lw.record(line, opts.since); werr != nil {
				return werr
			}
			continue
		}
		if !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading log: %w", err)
		}
		pending = append(pending, line...)
		if lw.flush != nil {
			lw.flush()
		}
		switch {
		case !opts.follow || stopAtEOF:
			return nil
		case reopenAtEOF:
			// The rotated file is complete; go on with the new one.
			nf, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("reopening rotated log: %w", err)
			}
			f.Close()
			f, pending, reopenAtEOF = nf, nil, false
			br.Reset(f)
			continue
		}
	wait:
		for {
			ev, err := s.waitLog(ctx, f, path)
			if err != nil {
				return err
			}
			switch {
			case ev == logRotated:
				reopenAtEOF = true
				break wait
			case ev == logGrew:
				break wait
			case !running():
				// Read what the container wrote before it stopped, then end.
				stopAtEOF = true
				break wait
			}
		}
	}
}

// logEvent is what waitLog saw.
type logEvent int

const (
	logIdle logEvent = iota
	logGrew
	logRotated
)

// waitLog waits one poll period and reports whether f has grown past the
// read position or path now names a new file.
func (s *Server) waitLog(ctx context.Context, f *os.File, path string) (logEvent, error) {
	select {
	case <-ctx.Done():
		return logIdle, ctx.Err()
	case <-s.cfg.Clock.After(followPoll):
	}
	cur, err := f.Stat()
	if err != nil {
		return logIdle, fmt.Errorf("checking log: %w", err)
	}
	if st, err := os.Stat(path); err == nil && !os.SameFile(st, cur) {
		return logRotated, nil
	}
	pos, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return logIdle, fmt.Errorf("checking log: %w", err)
	}
	if cur.Size() > pos {
		return logGrew, nil
	}
	return logIdle, nil
}

// tailStart returns the offset of the n-th newline-ended record from the
// end of f.
func tailStart(f *os.File, n int64) int64 {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	size := st.Size()
	if n == 0 {
		return size
	}
	const block = 4096
	buf := make([]byte, block)
	end := size
	var count int64
	// Skip the final newline: it ends the last record, not begins one.
	for end > 0 {
		start := max(0, end-block)
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return 0
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != '\n' || start+int64(i) == size-1 {
				continue
			}
			count++
			if count == n {
				return start + int64(i) + 1
			}
		}
		end = start
	}
	return 0
}

// errLimit ends a log copy at limitBytes.
var errLimit = errors.New("limitBytes reached")

// logWriter turns CRI log records into what kubectl shows: the content,
// full records ending their line, partial ones continued by the next, each
// line led by its timestamp when asked.
type logWriter struct {
	w          io.Writer
	flush      func()
	limit      int64 // 0 for none; else bytes left
	timestamps bool
	lineStart  bool
}

// record writes one record (ending in its newline) unless it is older than
// since. Malformed records are skipped, as kubelet does.
func (lw *logWriter) record(line []byte, since time.Time) error {
	line = bytes.TrimSuffix(line, []byte("\n"))
	tsEnd := bytes.IndexByte(line, ' ')
	if tsEnd < 0 {
		return nil
	}
	ts, err := time.Parse(time.RFC3339Nano, string(line[:tsEnd]))
	if err != nil {
		return nil
	}
	rest := line[tsEnd+1:]
	streamEnd := bytes.IndexByte(rest, ' ')
	if streamEnd < 0 {
		return nil
	}
	rest = rest[streamEnd+1:]
	tag, content, _ := bytes.Cut(rest, []byte(" "))
	if !since.IsZero() && ts.Before(since) {
		return nil
	}
	var out []byte
	if lw.timestamps && lw.lineStart {
		out = append(out, ts.Format(time.RFC3339Nano)...)
		out = append(out, ' ')
	}
	out = append(out, content...)
	full := !bytes.Equal(tag, []byte("P"))
	if full {
		out = append(out, '\n')
	}
	lw.lineStart = full
	return lw.write(out)
}

func (lw *logWriter) write(p []byte) error {
	if lw.limit > 0 {
		if int64(len(p)) >= lw.limit {
			_, err := lw.w.Write(p[:lw.limit])
			lw.limit = -1
			if err != nil {
				return err
			}
			return errLimit
		}
		lw.limit -= int64(len(p))
	} else if lw.limit < 0 {
		return errLimit
	}
	_, err := lw.w.Write(p)
	return err
}
