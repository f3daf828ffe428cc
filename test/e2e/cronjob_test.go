package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const nightlyCronJob = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  timeZone: Europe/Paris
  successfulJobsHistoryLimit: 1
  jobTemplate:
    metadata:
      labels:
        app: nightly
    spec:
      backoffLimit: 0
      template:
        metadata:
          annotations:
            sim.berth.dev/exit-code: "0"
        spec:
          restartPolicy: Never
          nodeSelector:
            type: sim
          containers:
          - name: report
            image: busybox
            command: ["true"]
`

// TestCronJobManualRun: `kubectl create job --from=cronjob/x` makes a Job
// from a CronJob's template on the client side; berth accepts it, runs it
// to completion on a simulated node, and the CronJob controller counts it
// as upstream does: never active, but its success is the CronJob's
// lastSuccessfulTime.
func TestCronJobManualRun(t *testing.T) {
	s := startServer(t)
	startSim(t, s, "1")
	waitFor(t, 30*time.Second, "a Ready sim node", func() bool {
		return strings.Count(s.kubectl(t, "get", "nodes", "--no-headers"), " Ready ") == 1
	})
	manifest := filepath.Join(t.TempDir(), "cronjob.yaml")
	if err := os.WriteFile(manifest, []byte(nightlyCronJob), 0o600); err != nil {
		t.Fatal(err)
	}
	s.kubectl(t, "apply", "-f", manifest)
	if got := s.kubectl(t, "get", "cronjob", "nightly", "--no-headers"); !strings.Contains(got, "0 3 * * *") || !strings.Contains(got, "Europe/Paris") {
		t.Errorf("kubectl get cronjob: %q", got)
	}

	s.kubectl(t, "create", "job", "manual", "--from=cronjob/nightly")
	s.kubectl(t, "wait", "--for=condition=complete", "job/manual", "--timeout=60s")
	got := s.kubectl(t, "get", "job", "manual", "-o",
		`jsonpath={.metadata.annotations.cronjob\.kubernetes\.io/instantiate} {.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name} {.metadata.labels.app} {.status.succeeded}`)
	if got != "manual CronJob/nightly nightly 1" {
		t.Errorf("manual job: %q, want %q", got, "manual CronJob/nightly nightly 1")
	}
	waitFor(t, 30*time.Second, "the CronJob's lastSuccessfulTime", func() bool {
		return s.kubectl(t, "get", "cronjob", "nightly", "-o", "jsonpath={.status.lastSuccessfulTime}") != ""
	})
	if got := s.kubectl(t, "get", "cronjob", "nightly", "-o", "jsonpath={.status.active}{.status.lastScheduleTime}"); got != "" {
		t.Errorf("the manual run made the CronJob active or scheduled: %q", got)
	}

	// A second manual run: the history limit of 1 leaves only it.
	s.kubectl(t, "create", "job", "manual-2", "--from=cronjob/nightly")
	s.kubectl(t, "wait", "--for=condition=complete", "job/manual-2", "--timeout=60s")
	waitFor(t, 30*time.Second, "job/manual trimmed", func() bool {
		return strings.TrimSpace(s.kubectl(t, "get", "jobs", "-o", "name")) == "job.batch/manual-2"
	})
}
