package e2e

import (
	"context"
	"net/netip"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"berth.dev/berth/test/images/testimages"
	"berth.dev/berth/test/nodecleanup"
)

func TestServerAgentRunsPods(t *testing.T) {
	nodecleanup.NeedContainers(t)
	// The node's streaming server gets a free port, and the API server
	// reaches it at the advertise address, loopback here.
	s := newServer(t, "--node-name", "e2e-node", "--kubelet-port", "0", "--advertise-address", "127.0.0.1")
	s.withAgent = true
	t.Cleanup(func() { nodecleanup.CleanUp(t, s.dataDir, netip.Prefix{}) })

	bb, err := testimages.Busybox(testimages.Path)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	if err := testimages.WriteDocker(archive, map[string]v1.Image{"berth.test/busybox:v1": bb}); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(berthBinary, "image", "import", "--data-dir", s.dataDir, archive).CombinedOutput(); err != nil {
		t.Fatalf("berth image import: %v\n%s", err, out)
	}
	s.start(t)

	s.kubectl(t, "run", "sleeper", "--image=berth.test/busybox:v1", "--image-pull-policy=Never", "--", "sh", "-c", "echo hello from sleeper; exec sleep 3600")
	s.kubectl(t, "wait", "--for=condition=Ready", "pod/sleeper", "--timeout=60s")
	client := s.clientset(t)
	pod, err := client.CoreV1().Pods("default").Get(context.Background(), "sleeper", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cs := pod.Status.ContainerStatuses
	if pod.Status.Phase != corev1.PodRunning || pod.Spec.NodeName != "e2e-node" || pod.Status.PodIP == "" ||
		len(cs) != 1 || cs[0].State.Running == nil || !strings.HasPrefix(cs[0].ContainerID, "runc://") {
		t.Fatalf("pod on %q: phase %s, podIP %q, containers %+v", pod.Spec.NodeName, pod.Status.Phase, pod.Status.PodIP, cs)
	}
	node, err := client.CoreV1().Nodes().Get(context.Background(), "e2e-node", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node.Status.DaemonEndpoints.KubeletEndpoint.Port == 0 {
		t.Errorf("node reports no kubelet port: %+v", node.Status.DaemonEndpoints)
	}
	// Logs and exec go through the API server to the node's streaming
	// server.
	if got := s.kubectl(t, "logs", "sleeper"); got != "hello from sleeper\n" {
		t.Errorf("kubectl logs: %q", got)
	}
	if got := s.kubectl(t, "exec", "sleeper", "--", "cat", "/etc/hostname"); got != "sleeper\n" {
		t.Errorf("kubectl exec: %q", got)
	}
	// The log of the instance before a restart stays readable.
	s.kubectl(t, "run", "restarter", "--image=berth.test/busybox:v1", "--image-pull-policy=Never", "--", "sh", "-c", "echo run; sleep 1; exit 1")
	s.kubectl(t, "wait", "--for=jsonpath={.status.containerStatuses[0].restartCount}=1", "pod/restarter", "--timeout=60s")
	if got := s.kubectl(t, "logs", "restarter", "--previous"); got != "run\n" {
		t.Errorf("kubectl logs --previous: %q", got)
	}
	s.kubectl(t, "delete", "pod", "restarter", "--grace-period=1", "--timeout=60s")
	describe := s.kubectl(t, "describe", "pod", "sleeper")
	for _, want := range []string{`Normal\s+Created`, `Normal\s+Started`, `\nStatus:\s+Running\n`} {
		if !regexp.MustCompile(want).MatchString(describe) {
			t.Errorf("kubectl describe has no %q:\n%s", want, describe)
		}
	}

	// Deletion returns once the agent has stopped and removed the
	// container (sleep, as PID 1, ignores SIGTERM: SIGKILL ends it).
	s.kubectl(t, "delete", "pod", "sleeper", "--grace-period=3", "--timeout=60s")
	if _, err := client.CoreV1().Pods("default").Get(context.Background(), "sleeper", metav1.GetOptions{}); err == nil {
		t.Errorf("pod still there after kubectl delete returned")
	}
}
