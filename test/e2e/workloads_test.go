package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const workloadsManifest = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector:
    app: web
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.26
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: ["ReadWriteOnce"]
      resources:
        requests:
          storage: 1Gi
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels:
      app: agent
  template:
    metadata:
      labels:
        app: agent
    spec:
      containers:
      - name: agent
        image: busybox:1.36
`

// TestWorkloadsStory: a StatefulSet and a DaemonSet on simulated nodes
// roll out, roll to a new image (the StatefulSet from the highest
// ordinal down) and back, as kubectl users drive them.
func TestWorkloadsStory(t *testing.T) {
	s := startServer(t)
	startSim(t, s, "3")
	waitFor(t, 30*time.Second, "3 Ready sim nodes", func() bool {
		return strings.Count(s.kubectl(t, "get", "nodes", "--no-headers"), " Ready ") == 3
	})
	manifest := filepath.Join(t.TempDir(), "workloads.yaml")
	if err := os.WriteFile(manifest, []byte(workloadsManifest), 0o600); err != nil {
		t.Fatal(err)
	}
	s.kubectl(t, "apply", "-f", manifest)
	s.kubectl(t, "rollout", "status", "statefulset/web", "--timeout=60s")
	s.kubectl(t, "rollout", "status", "daemonset/agent", "--timeout=60s")

	const podsFmt = `jsonpath={range .items[*]}{.metadata.name}:{.metadata.labels.apps\.kubernetes\.io/pod-index}:{.spec.hostname}.{.spec.subdomain}:{.spec.volumes[0].persistentVolumeClaim.claimName} {end}`
	if got, want := s.kubectl(t, "get", "pods", "-l", "app=web", "-o", podsFmt), "web-0:0:web-0.web:data-web-0 web-1:1:web-1.web:data-web-1 web-2:2:web-2.web:data-web-2 "; got != want {
		t.Errorf("StatefulSet pods:\n got %s\nwant %s", got, want)
	}
	if got := strings.Fields(s.kubectl(t, "get", "pvc", "-o", "name")); !slices.Equal(got, []string{"persistentvolumeclaim/data-web-0", "persistentvolumeclaim/data-web-1", "persistentvolumeclaim/data-web-2"}) {
		t.Errorf("claims: %v", got)
	}
	agentNodes := func() []string {
		nodes := strings.Fields(s.kubectl(t, "get", "pods", "-l", "app=agent", "-o", `jsonpath={range .items[*]}{.spec.nodeName}={.spec.containers[0].image} {end}`))
		slices.Sort(nodes)
		return nodes
	}
	if got := agentNodes(); !slices.Equal(got, []string{"sim-0=busybox:1.36", "sim-1=busybox:1.36", "sim-2=busybox:1.36"}) {
		t.Errorf("DaemonSet pods on %v, want one per sim node", got)
	}

	// The update replaces web-2, then web-1, then web-0.
	watch := s.kubectlWith(kubectlPath(t)).start(t, "get", "pods", "-l", "app=web", "--watch", "-o", `jsonpath={.metadata.name} {.metadata.deletionTimestamp}{"\n"}`)
	watch.waitForLine(t, "web-0")
	s.kubectl(t, "set", "image", "statefulset/web", "nginx=nginx:1.27")
	s.kubectl(t, "rollout", "status", "statefulset/web", "--timeout=60s")
	if got := s.kubectl(t, "get", "pods", "-l", "app=web", "-o", `jsonpath={range .items[*]}{.spec.containers[0].image} {end}`); got != "nginx:1.27 nginx:1.27 nginx:1.27 " {
		t.Errorf("images after the update: %s", got)
	}
	var order []string
	for _, l := range lines(watch.output()) {
		if f := strings.Fields(l); len(f) == 2 && !slices.Contains(order, f[0]) {
			order = append(order, f[0])
		}
	}
	if !slices.Equal(order, []string{"web-2", "web-1", "web-0"}) {
		t.Errorf("pods replaced in the order %v, want web-2, web-1, web-0; watch output:\n%s", order, watch.output())
	}
	if got := s.kubectl(t, "rollout", "history", "statefulset/web"); !strings.Contains(got, "\n1 ") || !strings.Contains(got, "\n2 ") {
		t.Errorf("rollout history:\n%s", got)
	}
	s.kubectl(t, "rollout", "undo", "statefulset/web")
	s.kubectl(t, "rollout", "status", "statefulset/web", "--timeout=60s")
	if got := s.kubectl(t, "get", "pods", "-l", "app=web", "-o", `jsonpath={range .items[*]}{.spec.containers[0].image} {end}`); got != "nginx:1.26 nginx:1.26 nginx:1.26 " {
		t.Errorf("images after rollout undo: %s", got)
	}

	s.kubectl(t, "set", "image", "daemonset/agent", "agent=busybox:1.37")
	s.kubectl(t, "rollout", "status", "daemonset/agent", "--timeout=60s")
	waitFor(t, 30*time.Second, "old agent pods gone", func() bool {
		return slices.Equal(agentNodes(), []string{"sim-0=busybox:1.37", "sim-1=busybox:1.37", "sim-2=busybox:1.37"})
	})
	if got := s.kubectl(t, "rollout", "history", "daemonset/agent"); !strings.Contains(got, "\n1 ") || !strings.Contains(got, "\n2 ") {
		t.Errorf("DaemonSet rollout history:\n%s", got)
	}
	s.kubectl(t, "rollout", "undo", "daemonset/agent")
	s.kubectl(t, "rollout", "status", "daemonset/agent", "--timeout=60s")
	waitFor(t, 30*time.Second, "agent pods back on busybox:1.36", func() bool {
		return slices.Equal(agentNodes(), []string{"sim-0=busybox:1.36", "sim-1=busybox:1.36", "sim-2=busybox:1.36"})
	})
}
