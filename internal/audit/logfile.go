package audit

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// backupTime is how rotated files are named, as lumberjack (upstream's
// rotating writer) names them: audit-2006-01-02T15-04-05.000.log.
const backupTime = "2006-01-02T15-04-05.000"

// LogConfig configures a LogSink.
type LogConfig struct {
	// Path of the log file; "-" writes to Stdout instead (no rotation).
	Path string
	// MaxSize is the size in bytes at which the file is rotated; 0 never
	// rotates.
	MaxSize int64
	// MaxAge removes rotated files older than this; 0 keeps them.
	MaxAge time.Duration
	// MaxBackups is how many rotated files are kept; 0 keeps all.
	MaxBackups int
	// Stdout is where "-" writes; nil means os.Stdout.
	Stdout io.Writer
	Logger *slog.Logger
	// Now is the clock of rotation names and ages; nil means time.Now.
	Now func() time.Time
}

// LogSink writes events as JSON lines, synchronously, to a file it rotates
// by size (the file and its directory are private: 0600 and 0700), or to
// stdout. Write errors are logged, never returned to requests.
//
// Rotation follows lumberjack's (upstream's rotating writer) file naming
// and limits, but is done here: lumberjack starts a cleanup goroutine per
// logger that nothing stops, and creates directories 0755.
type LogSink struct {
	cfg LogConfig
	log *slog.Logger

	mu     sync.Mutex // guards f, size, out, failed and line
	f      *os.File   // nil when writing to stdout or after Close
	out    io.Writer
	size   int64
	failed bool   // the last write failed; logged once until one succeeds
	line   []byte // reused for event and newline
}

var _ Sink = (*LogSink)(nil)

// NewLogSink opens (creating, or appending to) the log file.
func NewLogSink(cfg LogConfig) (*LogSink, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	s := &LogSink{cfg: cfg, log: cfg.Logger.With("component", "audit-log")}
	if cfg.Path == "-" {
		s.out = cfg.Stdout
		return s, nil
	}
	if cfg.Path == "" {
		return nil, errors.New("audit log: no path")
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	if err := s.openLocked(); err != nil {
		return nil, err
	}
	return s, nil
}

// openLocked opens the log file for appending, private to its owner.
func (s *LogSink) openLocked() error {
	f, err := os.OpenFile(s.cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	fi, err := f.Stat()
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("audit log: %w", err)
	}
	s.f, s.out, s.size = f, f, fi.Size()
	return nil
}

// Process writes event and a newline, rotating first if the file would
// grow past MaxSize.
func (s *LogSink) Process(event []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return
	}
	s.line = append(append(s.line[:0], event...), '\n')
	line := s.line
	var err error
	if s.f != nil && s.cfg.MaxSize > 0 && s.size > 0 && s.size+int64(len(line)) > s.cfg.MaxSize {
		err = s.rotateLocked()
	}
	if err == nil && s.out != nil {
		var n int
		n, err = s.out.Write(line)
		s.size += int64(n)
	}
	switch {
	case err != nil && !s.failed:
		s.failed = true
		s.log.Error("writing the audit log failed", "path", s.cfg.Path, "err", err)
	case err == nil && s.failed:
		s.failed = false
		s.log.Info("writing the audit log works again", "path", s.cfg.Path)
	}
}

// rotateLocked renames the file to its backup name, opens a new one and
// removes the backups MaxBackups and MaxAge do not keep.
func (s *LogSink) rotateLocked() error {
	if err := s.f.Close(); err != nil {
		s.log.Warn("closing the audit log failed", "err", err)
	}
	s.f, s.out = nil, nil
	dir, base := filepath.Split(s.cfg.Path)
	ext := filepath.Ext(base)
	prefix := strings.TrimSuffix(base, ext) + "-"
	backup := filepath.Join(dir, prefix+s.cfg.Now().UTC().Format(backupTime)+ext)
	if err := os.Rename(s.cfg.Path, backup); err != nil {
		return fmt.Errorf("rotating: %w", err)
	}
	if err := s.openLocked(); err != nil {
		return err
	}
	s.prune(dir, prefix, ext)
	return nil
}

// prune removes old backups, newest kept first.
func (s *LogSink) prune(dir, prefix, ext string) {
	entries, err := os.ReadDir(filepath.Clean(dir))
	if err != nil {
		s.log.Warn("listing audit log backups failed", "err", err)
		return
	}
	type backup struct {
		name string
		t    time.Time
	}
	var backups []backup
	for _, e := range entries {
		name := e.Name()
		stamp, ok := strings.CutPrefix(name, prefix)
		if !ok || !strings.HasSuffix(stamp, ext) || e.IsDir() {
			continue
		}
		t, err := time.Parse(backupTime, strings.TrimSuffix(stamp, ext))
		if err != nil {
			continue
		}
		backups = append(backups, backup{name, t})
	}
	slices.SortFunc(backups, func(a, b backup) int { return b.t.Compare(a.t) })
	cutoff := s.cfg.Now().Add(-s.cfg.MaxAge)
	for i, b := range backups {
		if (s.cfg.MaxBackups > 0 && i >= s.cfg.MaxBackups) || (s.cfg.MaxAge > 0 && b.t.Before(cutoff)) {
			if err := os.Remove(filepath.Join(dir, b.name)); err != nil {
				s.log.Warn("removing an audit log backup failed", "file", b.name, "err", err)
			}
		}
	}
}

// Close closes the file; later events are dropped.
func (s *LogSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out = nil
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
