package runtime

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"time"
)

// maxLogLine is the longest line written as one record; longer lines are
// split into partial ("P") records, as containerd does.
const maxLogLine = 16 << 10

// logWriter writes a container's output in the CRI log format kubelet reads:
//
//	<RFC3339Nano time> <stdout|stderr> <F|P> <content>
//
// F ends a line, P is a part of a longer one. When the file would grow past
// maxSize it is renamed to path+".1" (replacing the previous one) and a new
// file is started. Safe for concurrent use.
type logWriter struct {
	path    string
	maxSize int64
	now     func() time.Time

	mu   sync.Mutex // guards f and size
	f    *os.File
	size int64
}

func openLog(path string, maxSize int64, now func() time.Time) (*logWriter, error) {
	w := &logWriter{path: path, maxSize: maxSize, now: now}
	if err := w.openLocked(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *logWriter) openLocked() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("opening log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening log: %w", err)
	}
	w.f, w.size = f, st.Size()
	return nil
}

// record writes one record of stream.
func (w *logWriter) record(stream string, partial bool, content []byte) error {
	tag := "F"
	if partial {
		tag = "P"
	}
	var b bytes.Buffer
	b.WriteString(w.now().UTC().Format(time.RFC3339Nano))
	b.WriteByte(' ')
	b.WriteString(stream)
	b.WriteByte(' ')
	b.WriteString(tag)
	b.WriteByte(' ')
	b.Write(content)
	b.WriteByte('\n')

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.size > 0 && w.size+int64(b.Len()) > w.maxSize {
		if err := w.rotateLocked(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(b.Bytes())
	w.size += int64(n)
	if err != nil {
		return fmt.Errorf("writing log: %w", err)
	}
	return nil
}

func (w *logWriter) rotateLocked() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("rotating log: %w", err)
	}
	if err := os.Rename(w.path, w.path+".1"); err != nil {
		return fmt.Errorf("rotating log: %w", err)
	}
	return w.openLocked()
}

func (w *logWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}

// logStream turns one output stream's bytes into log records: a record per
// line, a partial record per maxLogLine bytes of a longer line. A line is
// held until its newline (or Flush) arrives. Not safe for concurrent use;
// each stream has its own.
type logStream struct {
	w       *logWriter
	stream  string
	pending []byte
}

// Write logs the complete lines in p and keeps the rest.
func (s *logStream) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.pending = append(s.pending, p...)
			break
		}
		s.pending = append(s.pending, p[:i]...)
		p = p[i+1:]
		if err := s.emitPartials(); err != nil {
			return 0, err
		}
		if err := s.w.record(s.stream, false, bytes.TrimSuffix(s.pending, []byte("\r"))); err != nil {
			return 0, err
		}
		s.pending = s.pending[:0]
	}
	if err := s.emitPartials(); err != nil {
		return 0, err
	}
	return n, nil
}

// emitPartials writes full-size parts of the pending line as partial
// records, keeping at least one byte for the record that ends the line.
func (s *logStream) emitPartials() error {
	for len(s.pending) > maxLogLine {
		if err := s.w.record(s.stream, true, s.pending[:maxLogLine]); err != nil {
			return err
		}
		s.pending = append(s.pending[:0], s.pending[maxLogLine:]...)
	}
	return nil
}

// Flush logs a pending unterminated line as a full line.
func (s *logStream) Flush() error {
	if len(s.pending) == 0 {
		return nil
	}
	err := s.w.record(s.stream, false, s.pending)
	s.pending = s.pending[:0]
	return err
}
