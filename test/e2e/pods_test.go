package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"berth.dev/berth/internal/agent/image"
	"berth.dev/berth/internal/agent/network"
	"berth.dev/berth/internal/agent/runtime"
	"berth.dev/berth/test/images/testimages"
)

// needContainers skips unless this machine can run the server's agent.
func needContainers(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (the node agent runs containers)")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("needs runc (apt-get install runc)")
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		t.Skip("needs the CNI plugins (apt-get install containernetworking-plugins)")
	}
	if err := testimages.CheckBusybox(testimages.Path); err != nil {
		t.Skipf("needs a static busybox: %v", err)
	}
}

// nodeSuffix is what `berth server` adds to the names of its run
// directory, cgroup parent and bridge for dataDir, a directory of its own.
func nodeSuffix(dataDir string) string {
	sum := sha256.Sum256([]byte(dataDir))
	return hex.EncodeToString(sum[:6])
}

// nodeRuntime is the container runtime of the agent of a server with
// dataDir.
func nodeRuntime(dataDir string) (*runtime.Runtime, error) {
	suffix := nodeSuffix(dataDir)
	return runtime.New(runtime.Config{RunDir: "/run/berth-" + suffix, CgroupParent: "/berth-" + suffix})
}

// cleanUpNode removes what the agent of a stopped server with dataDir may
// have left: containers, root filesystems, pod networks (addresses from
// podCIDR, the node's range), sandboxes, the runtime's directory and
// cgroups, and the bridge. The names follow `berth server`'s for a data
// directory of its own.
func cleanUpNode(t *testing.T, dataDir string, podCIDR netip.Prefix) {
	suffix := nodeSuffix(dataDir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := nodeRuntime(dataDir)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	cs, err := rt.List(ctx)
	if err != nil {
		t.Errorf("cleanup: %v", err)
	}
	for _, c := range cs {
		t.Errorf("container %s left on the node", c.ID)
		if err := rt.Delete(ctx, c.ID); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
	if store, err := image.New(image.Config{Dir: filepath.Join(dataDir, "agent", "images")}); err == nil {
		for _, id := range store.Containers() {
			if err := store.Release(id); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		store.Close()
	}
	if netw, err := network.New(network.Config{
		StateDir: filepath.Join(dataDir, "agent", "cni"),
		Bridge:   "berth" + suffix[:8],
		PodCIDRs: []netip.Prefix{podCIDR},
	}); err == nil {
		ids, _ := netw.Pods()
		for _, id := range ids {
			_ = netw.Teardown(ctx, id)
		}
	}
	sbs, _ := rt.Sandboxes()
	for _, s := range sbs {
		t.Errorf("sandbox %s left on the node", s.Config.ID)
		if err := rt.RemoveSandbox(s.Config.ID); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
	if err := rt.RemoveCgroupParent(); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	if err := os.RemoveAll("/run/berth-" + suffix); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	if l, err := netlink.LinkByName("berth" + suffix[:8]); err == nil {
		_ = netlink.LinkDel(l)
	}
}

// The servers started by startNodeServer give pods addresses from
// nodeClusterCIDR, not from the default range, which other servers on the
// machine may use; their single node gets its first /24, nodePodCIDR.
// defaultPodCIDR is the first node's range with the default
// --cluster-cidr.
var (
	nodeClusterCIDR = netip.MustParsePrefix("10.46.0.0/16")
	nodePodCIDR     = netip.MustParsePrefix("10.46.0.0/24")
	defaultPodCIDR  = netip.MustParsePrefix("10.42.0.0/24")
)

// startNodeServer starts a server with its node agent, the node named
// e2e-node, and extraArgs, after importing the test images with their
// programs into its data directory. It skips unless the machine can run
// containers; what the agent leaves on the node is removed (and reported)
// after the server stopped.
func startNodeServer(t *testing.T, extraArgs ...string) *server {
	t.Helper()
	needContainers(t)
	// The node's streaming server gets a free port, and the API server
	// reaches it at the advertise address, loopback here.
	s := newServer(t, append([]string{"--node-name", "e2e-node", "--kubelet-port", "0", "--advertise-address", "127.0.0.1",
		"--cluster-cidr", nodeClusterCIDR.String()}, extraArgs...)...)
	s.withAgent = true
	t.Cleanup(func() { cleanUpNode(t, s.dataDir, nodePodCIDR) })
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
