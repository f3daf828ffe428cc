package runtime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
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

// copyStream logs r as stream until r ends. A line split across reads is
// kept whole up to maxLogLine; the last line without a newline is written
// as a full line when r ends.
func (w *logWriter) copyStream(stream string, r io.Reader) error {
	br := bufio.NewReaderSize(r, maxLogLine)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			if werr := w.record(stream, false, bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))); werr != nil {
				return werr
			}
		case errors.Is(err, bufio.ErrBufferFull):
			if werr := w.record(stream, true, line); werr != nil {
				return werr
			}
		default:
			if len(line) > 0 {
				if werr := w.record(stream, false, line); werr != nil {
					return werr
				}
			}
			// A terminal's master reads EIO once the container's side closes.
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) || errors.Is(err, syscall.EIO) {
				return nil
			}
			return fmt.Errorf("reading %s: %w", stream, err)
		}
	}
}
