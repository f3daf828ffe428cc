package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth.dev/berth/test/images/testimages"
)

func TestImageImportAndList(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: image layers keep their owners")
	}
	if err := testimages.CheckBusybox(testimages.Path); err != nil {
		t.Skipf("needs a static busybox: %v", err)
	}
	bb, err := testimages.Busybox(testimages.Path)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	if err := testimages.WriteDocker(archive, map[string]v1.Image{"busybox:test": bb}); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := Command()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetArgs(args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("berth %s: %v", strings.Join(args, " "), err)
		}
		return out.String()
	}
	id, err := bb.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := run("image", "import", "--data-dir", dataDir, archive), "imported docker.io/library/busybox:test "+id.String()+"\n"; got != want {
		t.Errorf("import printed %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "agent", "images", "images", id.Hex+".json")); err != nil {
		t.Errorf("image record not under <data-dir>/agent/images: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(run("image", "ls", "--data-dir", dataDir)), "\n")
	if len(lines) != 2 {
		t.Fatalf("ls printed %q, want a header and one image", lines)
	}
	if f := strings.Fields(lines[1]); len(f) != 4 || f[0] != "docker.io/library/busybox" || f[1] != "test" || f[2] != id.Hex[:13] {
		t.Errorf("ls row %q, want docker.io/library/busybox test %s SIZE", lines[1], id.Hex[:13])
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1kB", 1234567: "1.23MB", 5e9: "5GB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
