package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAutoscaleStory: on simulated nodes serving resource metrics,
// kubectl top shows the pods' usage, and a HorizontalPodAutoscaler made
// with kubectl autoscale scales a Deployment whose pods use more CPU than
// its target.
func TestAutoscaleStory(t *testing.T) {
	s := startServer(t, "--metric-resolution", "1s")
	startSim(t, s, "2", "--ca-dir", filepath.Join(s.dataDir, "pki"))
	waitFor(t, 30*time.Second, "2 Ready sim nodes", func() bool {
		return strings.Count(s.kubectl(t, "get", "nodes", "--no-headers"), " Ready ") == 2
	})
	manifest := filepath.Join(t.TempDir(), "web.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
      annotations:
        sim.berth.dev/cpu-usage: 150m
        sim.berth.dev/memory-usage: 64Mi
    spec:
      containers:
      - name: web
        image: nginx:1.27
        resources:
          requests: {cpu: 100m}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	s.kubectl(t, "apply", "-f", manifest)
	s.kubectl(t, "rollout", "status", "deployment/web", "--timeout=60s")

	kubectl := s.kubectlWith(kubectlPath(t))
	top := regexp.MustCompile(`(?m)^web-\S+\s+150m\s+64Mi\s*$`)
	waitFor(t, 30*time.Second, "kubectl top pods shows the pod's usage", func() bool {
		r := kubectl.exec(t, nil, "top", "pods")
		return r.code == 0 && top.MatchString(r.stdout)
	})
	waitFor(t, 30*time.Second, "kubectl top nodes shows the nodes", func() bool {
		r := kubectl.exec(t, nil, "top", "nodes")
		return r.code == 0 && strings.Contains(r.stdout, "sim-0") && strings.Contains(r.stdout, "sim-1")
	})

	// The metrics resources themselves, printed as metrics-server prints them.
	// The window is the time between the node's two samples, to the
	// millisecond ("1.001s" as well as "1s").
	podMetrics := regexp.MustCompile(`(?m)^NAME\s+CPU\s+MEMORY\s+WINDOW\s*\nweb-\S+\s+150m\s+64Mi\s+\d+(\.\d+)?m?s\s*$`)
	if got := s.kubectl(t, "get", "podmetrics"); !podMetrics.MatchString(got) {
		t.Errorf("kubectl get podmetrics:\n%s", got)
	}

	s.kubectl(t, "autoscale", "deploy/web", "--cpu-percent=50", "--min=1", "--max=5")
	targets := regexp.MustCompile(`(?m)^web\s+Deployment/web\s+cpu: 150%/50%\s+1\s+5\s+`)
	waitFor(t, 60*time.Second, "kubectl get hpa shows the CPU target and usage", func() bool {
		return targets.MatchString(s.kubectl(t, "get", "hpa"))
	})
	waitFor(t, 90*time.Second, "the Deployment scaled up to the maximum", func() bool {
		return s.kubectl(t, "get", "deployment", "web", "-o", "jsonpath={.spec.replicas}") == "5"
	})
	waitFor(t, 60*time.Second, "the HPA reports being limited by maxReplicas", func() bool {
		return s.kubectl(t, "get", "hpa", "web", "-o", `jsonpath={.status.conditions[?(@.type=="ScalingLimited")].reason}`) == "TooManyReplicas"
	})
}
