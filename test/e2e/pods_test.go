package e2e

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"berth.dev/berth/test/images/testimages"
	"berth.dev/berth/test/nodecleanup"
)

// The servers started by startNodeServer give pods addresses from
// nodeClusterCIDR, not from the default range, which other servers on the
// machine may use.
var nodeClusterCIDR = netip.MustParsePrefix("10.46.0.0/16")

// startNodeServer starts a server with its node agent, the node named
// e2e-node, and extraArgs, after importing the test images with their
// programs into its data directory. It skips unless the machine can run
// containers; what the agent leaves on the node is removed (and reported)
// after the server stopped.
func startNodeServer(t *testing.T, extraArgs ...string) *server {
	t.Helper()
	nodecleanup.NeedContainers(t)
	// The node's streaming server gets a free port, and the API server
	// reaches it at the advertise address, loopback here.
	s := newServer(t, append([]string{"--node-name", "e2e-node", "--kubelet-port", "0", "--advertise-address", "127.0.0.1",
		"--cluster-cidr", nodeClusterCIDR.String()}, extraArgs...)...)
	s.withAgent = true
	t.Cleanup(func() { nodecleanup.CleanUp(t, s.dataDir, netip.Prefix{}) })
	importTestImages(t, s.dataDir, "server", "whoami")
	s.start(t)
	return s
}

// testProgramPorts are the ports the test programs' images expose.
var testProgramPorts = map[string][]string{"server": {"8080/tcp"}}

// importTestImages imports berth.test/busybox:v1 and, for each of
// programs, berth.test/NAME:v1 with the program test/images/NAME into the
// image store of dataDir, whose server or agent is not running (the store
// is locked while they run).
func importTestImages(t *testing.T, dataDir string, programs ...string) {
	t.Helper()
	bb, err := testimages.Busybox(testimages.Path)
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]v1.Image{"berth.test/busybox:v1": bb}
	for _, name := range programs {
		img, err := testimages.Program(bb, buildTestProgram(t, name), testProgramPorts[name]...)
		if err != nil {
			t.Fatal(err)
		}
		images["berth.test/"+name+":v1"] = img
	}
	archive := filepath.Join(t.TempDir(), "images.tar")
	if err := testimages.WriteDocker(archive, images); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(berthBinary, "image", "import", "--data-dir", dataDir, archive).CombinedOutput(); err != nil {
		t.Fatalf("berth image import: %v\n%s", err, out)
	}
}

// buildTestProgram compiles the static program of a test image
// (test/images/NAME) and returns its path.
func buildTestProgram(t *testing.T, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "berth.dev/berth/test/images/"+name)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, b)
	}
	return out
}

func TestServerAgentRunsPods(t *testing.T) {
	s := startNodeServer(t, "--metric-resolution", "1s")

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
	// kubectl top reads the usage the API server scraped from the node's
	// cgroups.
	kubectl := s.kubectlWith(kubectlPath(t))
	top := regexp.MustCompile(`(?m)^sleeper\s+\d+m\s+\d+Mi\s*$`)
	waitFor(t, 30*time.Second, "kubectl top pod shows the pod's usage", func() bool {
		r := kubectl.exec(t, nil, "top", "pod", "sleeper")
		return r.code == 0 && top.MatchString(r.stdout)
	})
	waitFor(t, 30*time.Second, "kubectl top node shows the node", func() bool {
		r := kubectl.exec(t, nil, "top", "node", "e2e-node")
		return r.code == 0 && regexp.MustCompile(`(?m)^e2e-node\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%\s*$`).MatchString(r.stdout)
	})
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
