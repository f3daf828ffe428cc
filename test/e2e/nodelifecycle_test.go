package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// simProcess runs `berth sim` against s with extra flags; the returned
// function kills it, as a machine that loses power. It is killed when the
// test ends in any case.
func simProcess(t *testing.T, s *server, args ...string) (kill func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, berthBinary, append([]string{"sim", "--kubeconfig", s.kubeconfig}, args...)...)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting berth sim: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	kill = func() {
		cancel() // SIGKILL
		<-done
	}
	t.Cleanup(func() {
		kill()
		if t.Failed() {
			t.Logf("berth sim %v log:\n%s", args, log.String())
		}
	})
	return kill
}

// TestNodeFailure: a simulated node's machine dies; once its Lease is
// older than the grace period it is Unknown and tainted unreachable, its
// pods are evicted after their tolerationSeconds, and the Deployment's
// pods run on the remaining nodes.
func TestNodeFailure(t *testing.T) {
	s := startServer(t, "--node-monitor-grace-period=8s")
	simProcess(t, s, "--prefix", "live-", "--nodes", "2", "--lease-duration", "4s")
	killDoomed := simProcess(t, s, "--prefix", "doomed-", "--nodes", "1", "--lease-duration", "4s")
	waitFor(t, 30*time.Second, "3 Ready sim nodes", func() bool {
		return strings.Count(s.kubectl(t, "get", "nodes", "--no-headers"), " Ready ") == 3
	})

	// Every pod starts on the doomed node: the others are cordoned, and
	// carry the unschedulable taint for it.
	s.kubectl(t, "cordon", "live-0", "live-1")
	waitFor(t, 20*time.Second, "the unschedulable taint on cordoned nodes", func() bool {
		out := s.kubectl(t, "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.spec.taints[*].key}{"\n"}{end}`)
		return strings.Count(out, "node.kubernetes.io/unschedulable") == 2 && !strings.Contains(lineOf(out, "doomed-0="), "unschedulable")
	})
	s.kubectl(t, "apply", "-f", writeManifest(t, "web.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: nginx}]
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
`))
	s.kubectl(t, "rollout", "status", "deployment/web", "--timeout=30s")
	if got := s.kubectl(t, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].spec.nodeName}"); strings.Count(got, "doomed-0") != 3 {
		t.Fatalf("pods on %q, want all on doomed-0", got)
	}
	s.kubectl(t, "uncordon", "live-0", "live-1")

	killDoomed()
	waitFor(t, 30*time.Second, "doomed-0 NotReady (Unknown) and tainted unreachable", func() bool {
		ready := s.kubectl(t, "get", "node", "doomed-0", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status} {.spec.taints[*].key}`)
		return strings.HasPrefix(ready, "Unknown ") && strings.Contains(ready, "node.kubernetes.io/unreachable")
	})
	waitFor(t, 40*time.Second, "3 web pods running on the live nodes", func() bool {
		out := s.kubectl(t, "get", "pods", "-l", "app=web", "-o",
			`jsonpath={range .items[?(@.status.phase=="Running")]}{.metadata.deletionTimestamp}|{.spec.nodeName}{"\n"}{end}`)
		live := 0
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "|live-") {
				live++
			}
		}
		return live == 3
	})
	s.kubectl(t, "rollout", "status", "deployment/web", "--timeout=30s")
	if got := s.kubectl(t, "get", "node", "doomed-0", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].message}`); got != "Kubelet stopped posting node status." {
		t.Errorf("doomed-0 Ready message %q", got)
	}
}

// lineOf returns the first line of out that starts with prefix.
func lineOf(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
