package bolt

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crashEnv, when set, makes TestCrash the child process writing to the
// database file it names.
const crashEnv = "BERTH_BOLT_CRASH_DB"

// TestCrash kills a process that is writing with SIGKILL and checks that
// every write it acknowledged is in the file afterwards.
func TestCrash(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	const acksBeforeKill = 300
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "state.db")
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrash$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting child: %v", err)
	}
	acked := map[string]int64{}
	killed := false
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		var key string
		var rev int64
		if _, err := fmt.Sscanf(lines.Text(), "ack %s %d", &key, &rev); err != nil {
			continue // the test framework's own output
		}
		acked[key] = rev
		if len(acked) == acksBeforeKill {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatalf("killing child: %v", err)
			}
			killed = true
		}
	}
	// Lines read after the kill were acknowledged before it, too.
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended after %d acknowledged writes (%v):\n%s", len(acked), err, stderr.String())
	}
	if status, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || status.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v\n%s", err, stderr.String())
	}

	s := newStore(t, path)
	for key, rev := range acked {
		kv, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("acknowledged write of %q at %d lost: %v", key, rev, err)
		}
		if kv.ModRevision != rev {
			t.Fatalf("%q: ModRevision %d, acknowledged %d", key, kv.ModRevision, rev)
		}
	}
	t.Logf("%d acknowledged writes survived SIGKILL", len(acked))
}

// crashChild writes from several goroutines, printing each acknowledged
// write, until it is killed.
func crashChild(path string) {
	s, err := New(Config{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; i < 100000; i++ {
				key := fmt.Sprintf("/crash/%d/%06d", g, i)
				rev, err := s.Create(context.Background(), key, []byte(strings.Repeat("v", 512)))
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				out.Lock()
				fmt.Printf("ack %s %d\n", key, rev)
				out.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(3)
}
