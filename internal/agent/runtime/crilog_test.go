package runtime

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLogWriter(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)
	clock := func() time.Time { return t0 }
	long := strings.Repeat("x", maxLogLine+10)
	stamp := "2026-11-22T10:00:00.123456789Z "

	tests := []struct {
		name     string
		maxSize  int64
		stream   string
		input    string
		wantLog  string
		wantPrev string // the rotated file; "" when there is none
	}{
		{
			name: "lines", maxSize: 1 << 20, stream: "stdout",
			input:   "one\ntwo\r\n\nlast without newline",
			wantLog: stamp + "stdout F one\n" + stamp + "stdout F two\n" + stamp + "stdout F \n" + stamp + "stdout F last without newline\n",
		},
		{
			name: "long line split into partial records", maxSize: 1 << 20, stream: "stderr",
			input:   long + "\n",
			wantLog: stamp + "stderr P " + long[:maxLogLine] + "\n" + stamp + "stderr F " + long[maxLogLine:] + "\n",
		},
		{
			// Each record is 45 bytes: two fit in 100, the third starts a new file.
			name: "rotation keeps the previous file", maxSize: 100, stream: "stdout",
			input:    "aaaaa\nbbbbb\nccccc\nddddd\neeeee\n",
			wantPrev: stamp + "stdout F ccccc\n" + stamp + "stdout F ddddd\n",
			wantLog:  stamp + "stdout F eeeee\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.log")
			w, err := openLog(path, tt.maxSize, clock)
			if err != nil {
				t.Fatal(err)
			}
			ls := &logStream{w: w, stream: tt.stream}
			// Small reads: lines arrive in pieces.
			if _, err := io.CopyBuffer(ls, io.LimitReader(strings.NewReader(tt.input), int64(len(tt.input))), make([]byte, 7)); err != nil {
				t.Fatal(err)
			}
			if err := ls.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantLog, string(got)); diff != "" {
				t.Errorf("log (-want +got):\n%s", diff)
			}
			prev, err := os.ReadFile(path + ".1")
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantPrev, string(prev)); diff != "" {
				t.Errorf("rotated log (-want +got):\n%s", diff)
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
