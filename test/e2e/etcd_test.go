package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startEtcd runs a one-member etcd on loopback for the test, or skips.
func startEtcd(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd is not installed (Debian: etcd-server); skipping the etcd datastore test")
	}
	client, peer := freePort(t), freePort(t)
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", client)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peer)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--data-dir", t.TempDir(), "--name", "e2e",
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "e2e="+peerURL)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting etcd: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("etcd log:\n%s", log.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(clientURL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return fmt.Sprintf("127.0.0.1:%d", client)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd not healthy within 20s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEtcdDatastore runs berth on a real etcd: the same kubectl workflow
// works, watches see changes, and state outlives the server process.
func TestEtcdDatastore(t *testing.T) {
	endpoint := startEtcd(t)
	s := startServer(t, "--datastore", "etcd://"+endpoint)

	s.kubectl(t, "create", "namespace", "shop")
	s.kubectl(t, "create", "deployment", "web", "-n", "shop", "--image=nginx:1.27", "--replicas=3")
	if got := s.kubectl(t, "get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.spec.replicas}"); got != "3" {
		t.Errorf("replicas = %q, want 3", got)
	}
	watch := s.kubectlWith(kubectlPath(t)).start(t, "get", "configmaps", "-n", "shop", "-w", "--output-watch-events")
	s.kubectl(t, "create", "configmap", "seen", "-n", "shop", "--from-literal=k=v")
	watch.waitForLine(t, "ADDED", "seen")
	s.kubectl(t, "scale", "deploy", "web", "-n", "shop", "--replicas=1")

	if err := s.stop(); err != nil {
		t.Fatalf("stopping berth: %v", err)
	}
	s.restart(t)
	if got := s.kubectl(t, "get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.spec.replicas}"); got != "1" {
		t.Errorf("after restart, replicas = %q, want 1", got)
	}
	if got := s.kubectl(t, "get", "configmap", "seen", "-n", "shop", "-o", "jsonpath={.data.k}"); got != "v" {
		t.Errorf("after restart, configmap data = %q, want v", got)
	}
}
