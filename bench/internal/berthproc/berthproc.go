// Package berthproc builds the berth binary for the benchmarks that run
// it, and reads what its processes use.
package berthproc

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Build builds berth.dev/berth/cmd/berth into a temporary directory of tb
// and returns its path.
func Build(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "berth")
	ctx, cancel := context.WithTimeout(tb.Context(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "berth.dev/berth/cmd/berth").CombinedOutput()
	if err != nil {
		tb.Fatalf("building berth: %v\n%s", err, out)
	}
	return bin
}

// Field reads a size field ("VmRSS:    1234 kB") of /proc/PID/file
// (status, smaps_rollup), in bytes.
func Field(pid int, file, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), field+":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing %s %q of process %d: %w", field, v, pid, err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s in /proc/%d/%s", field, pid, file)
}
