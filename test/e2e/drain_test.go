package e2e

import (
	"strings"
	"testing"
	"time"
)

// fakeNode is a Node as an agent registers it; no agent runs in these
// tests, so its pods stay Pending, but the scheduler places them on it.
const fakeNode = `apiVersion: v1
kind: Node
metadata: {name: NAME, labels: {kubernetes.io/hostname: NAME}}
status:
  capacity: {cpu: "4", memory: 8Gi, pods: "110"}
  allocatable: {cpu: "4", memory: 8Gi, pods: "110"}
  conditions: [{type: Ready, status: "True", reason: KubeletReady, message: ready}]
`

// TestSchedulingAndDrain: the ReplicaSet controller creates the pods of a
// Deployment's ReplicaSet-like workload, the scheduler binds them, and
// kubectl drain cordons the node and evicts them; their replacements find
// no schedulable node and say why.
func TestSchedulingAndDrain(t *testing.T) {
	s := startServer(t)
	s.kubectl(t, "apply", "-f", writeManifest(t, "node.yaml", strings.ReplaceAll(fakeNode, "NAME", "n1")))
	s.kubectl(t, "apply", "-f", writeManifest(t, "rs.yaml", `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: busybox, resources: {requests: {cpu: 100m}}}]}
`))
	waitFor(t, 30*time.Second, "2 pods bound to n1", func() bool {
		return strings.Count(s.kubectl(t, "get", "pods", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}"), "n1") == 2
	})

	// No agent runs to finish graceful deletions: ask for none.
	out := s.kubectl(t, "drain", "n1", "--grace-period=0", "--timeout=60s")
	if !strings.Contains(out, "node/n1 cordoned") || !strings.Contains(out, "evicting pod") && !strings.Contains(out, "evicted") {
		t.Errorf("kubectl drain:\n%s", out)
	}
	if got := s.kubectl(t, "get", "node", "n1"); !strings.Contains(got, "SchedulingDisabled") {
		t.Errorf("node not cordoned:\n%s", got)
	}
	waitFor(t, 30*time.Second, "replacement pods unschedulable on the cordoned node", func() bool {
		ev := s.kubectl(t, "get", "events", "--field-selector", "reason=FailedScheduling", "-o", "jsonpath={.items[*].message}")
		return strings.Contains(ev, "node(s) were unschedulable")
	})
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
