package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const batchJobs = `apiVersion: batch/v1
kind: Job
metadata:
  name: short-lived
spec:
  ttlSecondsAfterFinished: 0
  template:
    metadata:
      annotations:
        sim.berth.dev/exit-code: "0"
    spec:
      restartPolicy: Never
      nodeSelector:
        type: sim
      containers:
      - name: c
        image: busybox
---
apiVersion: batch/v1
kind: Job
metadata:
  name: strict
spec:
  backoffLimit: 6
  podFailurePolicy:
    rules:
    - action: FailJob
      onExitCodes:
        operator: In
        values: [3]
  template:
    metadata:
      annotations:
        sim.berth.dev/exit-code: "3"
    spec:
      restartPolicy: Never
      nodeSelector:
        type: sim
      containers:
      - name: c
        image: busybox
`

// TestJobTTLAndFailurePolicy: on simulated nodes, a Job with
// ttlSecondsAfterFinished 0 is deleted once complete, and a pod failure
// policy fails a Job on its first matching exit code despite its
// backoffLimit.
func TestJobTTLAndFailurePolicy(t *testing.T) {
	s := startServer(t)
	startSim(t, s, "1")
	waitFor(t, 30*time.Second, "a Ready sim node", func() bool {
		return strings.Count(s.kubectl(t, "get", "nodes", "--no-headers"), " Ready ") == 1
	})
	manifest := filepath.Join(t.TempDir(), "jobs.yaml")
	if err := os.WriteFile(manifest, []byte(batchJobs), 0o600); err != nil {
		t.Fatal(err)
	}
	s.kubectl(t, "apply", "-f", manifest)

	s.kubectl(t, "wait", "--for=condition=failed", "job/strict", "--timeout=60s")
	got := s.kubectl(t, "get", "job", "strict", "-o", `jsonpath={.status.conditions[?(@.type=="Failed")].reason} {.status.failed}`)
	if got != "PodFailurePolicy 1" {
		t.Errorf("strict job: %q, want %q", got, "PodFailurePolicy 1")
	}
	s.kubectl(t, "wait", "--for=delete", "job/short-lived", "--timeout=60s")
}
