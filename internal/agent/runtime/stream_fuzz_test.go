package runtime

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzReadFrame feeds arbitrary bytes to the attach protocol's reader: it
// must not panic, and what it accepts must encode back to the same bytes.
func FuzzReadFrame(f *testing.F) {
	var b bytes.Buffer
	writeFrame(&b, frameStdin, []byte("hello"))
	f.Add(b.Bytes())
	f.Add([]byte{frameResize, 0, 0, 0, 4, 0, 24, 0, 80})
	f.Add([]byte{frameStdout, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		kind, p, err := readFrame(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := writeFrame(&out, kind, p); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data[:out.Len()]) {
			t.Errorf("frame %x re-encodes as %x", data[:out.Len()], out.Bytes())
		}
	})
}

// FuzzLogStream checks that the records of any output, however it is cut
// into writes, join back into the output's lines.
func FuzzLogStream(f *testing.F) {
	f.Add("one\ntwo\n", uint8(3))
	f.Add(strings.Repeat("x", maxLogLine*2+5)+"\nend", uint8(200))
	f.Add("\r\n\n\n", uint8(1))
	f.Fuzz(func(t *testing.T, input string, chunk uint8) {
		path := filepath.Join(t.TempDir(), "log")
		w, err := openLog(path, 1<<30, func() time.Time { return time.Unix(0, 0) })
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		ls := &logStream{w: w, stream: "stdout"}
		n := int(chunk) + 1
		for i := 0; i < len(input); i += n {
			if _, err := ls.Write([]byte(input[i:min(i+n, len(input))])); err != nil {
				t.Fatal(err)
			}
		}
		if err := ls.Flush(); err != nil {
			t.Fatal(err)
		}
		// Rebuild the output: F records end lines, P records continue them.
		var got strings.Builder
		for rec := range strings.Lines(readFile(t, path)) {
			parts := strings.SplitN(strings.TrimSuffix(rec, "\n"), " ", 4)
			got.WriteString(parts[3])
			if parts[2] == "F" {
				got.WriteString("\n")
			}
		}
		var want strings.Builder
		for line := range strings.Lines(input) {
			if l, ok := strings.CutSuffix(line, "\n"); ok {
				line = strings.TrimSuffix(l, "\r")
			}
			want.WriteString(line)
			want.WriteString("\n")
		}
		if got.String() != want.String() {
			t.Errorf("records join into %q, want %q", got.String(), want.String())
		}
	})
}
