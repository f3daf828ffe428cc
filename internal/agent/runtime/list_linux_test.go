package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestListRetriesVanishedContainer runs ociList against a fake runc whose
// listings fail as runc's do, and counts the listings.
func TestListRetriesVanishedContainer(t *testing.T) {
	// What runc 1.1 says when a container it is listing is deleted.
	const vanished = `time="2026-01-01T00:00:00Z" level=error msg="stat /run/berth/oci/runc/gone: no such file or directory"`
	const listing = `[{"ociVersion":"1.0.2","id":"kept","pid":42,"status":"running","bundle":"/b","rootfs":"/r","created":"2026-01-01T00:00:00Z","owner":""}]`
	for _, tc := range []struct {
		name string
		// failures is how many listings fail with message before one
		// succeeds.
		failures  int
		message   string
		wantErr   bool
		wantCalls int
	}{
		{name: "no failure", wantCalls: 1},
		{name: "a container deleted during the listing", failures: 1, message: vanished, wantCalls: 2},
		{name: "deletions during every listing", failures: listAttempts, message: vanished, wantErr: true, wantCalls: listAttempts},
		{name: "another error", failures: 1,
			message: `time="2026-01-01T00:00:00Z" level=error msg="open /run/berth/oci/runc: permission denied"`, wantErr: true, wantCalls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			calls := filepath.Join(dir, "calls")
			// Each call appends a line to calls; the first failures calls
			// fail.
			script := "#!/bin/sh\necho >>" + calls + "\n" +
				"if [ $(wc -l <" + calls + ") -le " + strconv.Itoa(tc.failures) + " ]; then echo '" + tc.message + "' >&2; exit 1; fi\n" +
				"echo '" + listing + "'\n"
			fake := filepath.Join(dir, "runc")
			if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			r, err := New(Config{RunDir: filepath.Join(dir, "run"), Runtimes: map[string]string{"runc": fake}, ShimCommand: []string{"true"}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.ociList(context.Background(), "runc")
			b, _ := os.ReadFile(calls)
			if n := strings.Count(string(b), "\n"); n != tc.wantCalls {
				t.Errorf("%d listings, want %d", n, tc.wantCalls)
			}
			if tc.wantErr {
				if err == nil {
					t.Errorf("no error, listing %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for id := range got {
				ids = append(ids, id)
			}
			if diff := cmp.Diff([]string{"kept"}, ids); diff != "" {
				t.Errorf("listed (-want +got):\n%s", diff)
			}
		})
	}
}
