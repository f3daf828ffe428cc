// Package berthbin builds the berth binary for benchmarks that run it.
package berthbin

import (
	"context"
	"os/exec"
	"path/filepath"
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
