package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startSim runs `berth sim` against s with n nodes until the test ends;
// extraArgs go to `berth sim`.
func startSim(t *testing.T, s *server, n string, extraArgs ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, berthBinary, append([]string{"sim", "--kubeconfig", s.kubeconfig, "--nodes", n, "--lease-duration", "10s"}, extraArgs...)...)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting berth sim: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("berth sim log:\n%s", log.String())
		}
	})
}

// TestDeploymentStory: a Deployment on simulated nodes rolls out, scales,
// rolls to a new image and back, as kubectl users drive it.
func TestDeploymentStory(t *testing.T) {
	s := startServer(t)
	startSim(t, s, "3")
	waitFor(t, 30*time.Second, "3 Ready sim nodes", func() bool {
		return strings.Count(s.kubectl(t, "get", "nodes", "--no-headers"), " Ready ") == 3
	})
	s.kubectl(t, "create", "deployment", "web", "--image=nginx:1.26", "--replicas=3")
	s.kubectl(t, "rollout", "status", "deployment/web", "--timeout=60s")
	if got := s.kubectl(t, "get", "deployment", "web", "-o", "jsonpath={.status.availableReplicas}"); got != "3" {
		t.Errorf("available replicas = %q, want 3", got)
	}

	s.kubectl(t, "scale", "deployment/web", "--replicas=5")
	s.kubectl(t, "rollout", "status", "deployment/web", "--timeout=60s")
	s.kubectl(t, "scale", "deployment/web", "--replicas=2")
	waitFor(t, 30*time.Second, "2 pods after scaling down", func() bool {
		return len(strings.Fields(s.kubectl(t, "get", "pods", "-l", "app=web", "-o", "name"))) == 2
	})

	s.kubectl(t, "set", "image", "deployment/web", "nginx=nginx:1.27")
	s.kubectl(t, "rollout", "status", "deployment/web", "--timeout=60s")
	if got := s.kubectl(t, "get", "rs", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.spec.template.spec.containers[0].image}={.spec.replicas} {end}"); !strings.Contains(got, "nginx:1.27=2") || !strings.Contains(got, "nginx:1.26=0") {
		t.Errorf("ReplicaSets after set image: %s", got)
	}
	if got := s.kubectl(t, "rollout", "history", "deployment/web"); !strings.Contains(got, "1 ") || !strings.Contains(got, "2 ") {
		t.Errorf("rollout history:\n%s", got)
	}
	s.kubectl(t, "rollout", "undo", "deployment/web")
	s.kubectl(t, "rollout", "status", "deployment/web", "--timeout=60s")
	if got := s.kubectl(t, "get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.metadata.annotations.deployment\\.kubernetes\\.io/revision}"); got != "nginx:1.26 3" {
		t.Errorf("after rollout undo: %q, want image nginx:1.26 at revision 3", got)
	}

	// A paused Deployment takes template changes without rolling them out;
	// resume rolls them out, restart rolls the same template again.
	revision := func() string {
		return s.kubectl(t, "get", "deployment", "web", "-o", "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}")
	}
	s.kubectl(t, "rollout", "pause", "deployment/web")
	s.kubectl(t, "set", "image", "deployment/web", "nginx=nginx:1.28")
	waitFor(t, 30*time.Second, "the paused Deployment to report it", func() bool {
		return s.kubectl(t, "get", "deployment", "web", "-o", `jsonpath={.status.conditions[?(@.type=="Progressing")].reason}`) == "DeploymentPaused"
	})
	if got := revision(); got != "3" {
		t.Errorf("paused Deployment rolled out: revision %s, want 3", got)
	}
	s.kubectl(t, "rollout", "resume", "deployment/web")
	s.kubectl(t, "rollout", "status", "deployment/web", "--timeout=60s")
	if got := revision(); got != "4" {
		t.Errorf("after resume: revision %s, want 4", got)
	}
	s.kubectl(t, "rollout", "restart", "deployment/web")
	s.kubectl(t, "rollout", "status", "deployment/web", "--timeout=60s")
	if got := s.kubectl(t, "get", "deployment", "web", "-o", "jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt} {.metadata.annotations.deployment\\.kubernetes\\.io/revision}"); !strings.HasSuffix(got, " 5") || strings.HasPrefix(got, " ") {
		t.Errorf("after rollout restart: %q, want a restartedAt annotation at revision 5", got)
	}
}
