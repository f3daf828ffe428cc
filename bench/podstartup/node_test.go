package podstartup

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"berth.dev/berth/bench/internal/berthproc"
	"berth.dev/berth/test/images/testimages"
	"berth.dev/berth/test/nodecleanup"
)

const (
	// clusterCIDR is the server's --cluster-cidr: a range of its own, so
	// that its routes do not meet those of other servers on the machine.
	clusterCIDR = "10.47.0.0/16"
	// nodeName is the server's node.
	nodeName = "podstartup"
	// image is the busybox test image, imported before the server starts.
	image = "berth.test/busybox:v1"

	// setupTimeout bounds the server's start: ready, its Node Ready with a
	// pod range, the default ServiceAccount there.
	setupTimeout = 2 * time.Minute
	// stopTimeout is how long the server has to exit after SIGTERM.
	stopTimeout = 30 * time.Second
)

var (
	logLevel = flag.String("podstartup.log-level", "info", "the server's --log-level")
	logPath  = flag.String("podstartup.log", "", "append the server's log to this file (default: a temporary file, printed on failure)")
)

// node is a running `berth server` with its node agent.
type node struct {
	dataDir string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd.Wait has returned
	err     error         // cmd.Wait's result, set before exited is closed
	client  kubernetes.Interface
}

// startNode builds berth, imports the busybox image into a new data
// directory and starts the server with its agent. It returns once the
// Node is Ready with a pod range and the default namespace has its
// ServiceAccount and root CA ConfigMap. When b ends the server is stopped
// and the host cleaned up; pods must have been deleted by then.
func startNode(b *testing.B) *node {
	b.Helper()
	nodecleanup.NeedContainers(b)
	bin := berthproc.Build(b)
	n := &node{dataDir: b.TempDir(), exited: make(chan struct{})}
	b.Cleanup(func() { nodecleanup.CleanUp(b, n.dataDir, netip.MustParsePrefix(clusterCIDR)) })

	bb, err := testimages.Busybox(testimages.Path)
	if err != nil {
		b.Fatal(err)
	}
	archive := filepath.Join(b.TempDir(), "busybox.tar")
	if err := testimages.WriteDocker(archive, map[string]v1.Image{image: bb}); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command(bin, "image", "import", "--data-dir", n.dataDir, archive).CombinedOutput(); err != nil {
		b.Fatalf("berth image import: %v\n%s", err, out)
	}

	n.logPath = *logPath
	if n.logPath == "" {
		n.logPath = filepath.Join(b.TempDir(), "berth.log")
	}
	logFile, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close() // the child has its own descriptor
	n.cmd = exec.Command(bin, "server",
		"--data-dir", n.dataDir,
		"--bind-address", "127.0.0.1",
		"--https-port", "0",
		"--kubelet-port", "0",
		"--advertise-address", "127.0.0.1",
		"--cluster-cidr", clusterCIDR,
		"--node-name", nodeName,
		"--log-level", *logLevel)
	n.cmd.Stdout, n.cmd.Stderr = logFile, logFile
	if err := n.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() {
		n.err = n.cmd.Wait()
		close(n.exited)
	}()
	b.Cleanup(func() { n.stop(b) })

	ctx, cancel := context.WithTimeout(b.Context(), setupTimeout)
	defer cancel()
	if err := n.waitReady(ctx); err != nil {
		b.Fatalf("%v\nserver log: %s", err, n.logPath)
	}
	return n
}

// waitReady waits for the admin kubeconfig, then for the Node to be Ready
// with a pod range, then for the default ServiceAccount and the root CA
// ConfigMap that pods' token volumes need.
func (n *node) waitReady(ctx context.Context) error {
	kubeconfig := filepath.Join(n.dataDir, "admin.kubeconfig")
	poll := func(what string, cond func(context.Context) (bool, error)) error {
		err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			select {
			case <-n.exited:
				return false, fmt.Errorf("berth server exited: %v", n.err)
			default:
			}
			return cond(ctx)
		})
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		return nil
	}
	err := poll("the admin kubeconfig", func(context.Context) (bool, error) {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return false, nil // not written yet
		}
		cfg.ContentType = "application/vnd.kubernetes.protobuf"
		cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
		cfg.QPS = -1 // no client-side rate limit
		// PodSecurity warns that the pods are not "restricted".
		cfg.WarningHandler = rest.NoWarnings{}
		n.client, err = kubernetes.NewForConfig(cfg)
		return err == nil, err
	})
	if err != nil {
		return err
	}
	err = poll("node "+nodeName+" Ready with a pod range", func(ctx context.Context) (bool, error) {
		nd, err := n.client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range nd.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue && nd.Spec.PodCIDR != "", nil
			}
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	err = poll("the default ServiceAccount", func(ctx context.Context) (bool, error) {
		_, err := n.client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		return err
	}
	return poll("the kube-root-ca.crt ConfigMap", func(ctx context.Context) (bool, error) {
		_, err := n.client.CoreV1().ConfigMaps(metav1.NamespaceDefault).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil, nil
	})
}

// stop deletes the pods left in the default namespace (after a failure),
// then sends SIGTERM and waits for the process, killing it after
// stopTimeout. A server that does not exit cleanly fails b.
func (n *node) stop(b *testing.B) {
	b.Helper()
	select {
	case <-n.exited:
		b.Errorf("berth server had exited: %v\nserver log: %s", n.err, n.logPath)
		return
	default:
	}
	if n.client != nil {
		n.deleteAll(b)
	}
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Error(err)
		return
	}
	select {
	case <-n.exited:
		if n.err != nil {
			b.Errorf("berth server: %v\nserver log: %s", n.err, n.logPath)
		}
	case <-time.After(stopTimeout):
		n.cmd.Process.Kill()
		<-n.exited
		b.Errorf("berth server still running %v after SIGTERM; killed\nserver log: %s", stopTimeout, n.logPath)
	}
}

// deleteAll deletes every pod in the default namespace and waits until
// they are gone, so that the agent removes their containers.
func (n *node) deleteAll(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pods := n.client.CoreV1().Pods(metav1.NamespaceDefault)
	if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil && !apierrors.IsNotFound(err) {
		b.Errorf("deleting pods: %v", err)
		return
	}
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		l, err := pods.List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0, nil
	})
	if err != nil {
		b.Errorf("pods still there after deleting them: %v", err)
	}
}

// memory is the resident memory of a server and its container shims.
type memory struct {
	// server is the server process's VmRSS, serverAnon the part of it
	// that is not file-backed (RssAnon: the Go heap, stacks, runtime);
	// the rest is mostly the berth binary's pages, shared with the shims.
	server, serverAnon int64
	// shimsRSS and shimsPSS are the sums of the shims' VmRSS and of their
	// proportional set sizes (Pss: pages shared with other processes,
	// such as the berth binary's text, count as a share).
	shimsRSS, shimsPSS int64
	shims              int
}

// memory reads the resident memory of the server process and of its
// container shims (`berth shim` processes whose container directory is
// under the agent's run directory).
func (n *node) memory() (memory, error) {
	var m memory
	var err error
	if m.server, err = berthproc.Field(n.cmd.Process.Pid, "status", "VmRSS"); err != nil {
		return m, err
	}
	if m.serverAnon, err = berthproc.Field(n.cmd.Process.Pid, "status", "RssAnon"); err != nil {
		return m, err
	}
	runDir := nodecleanup.RunDir(n.dataDir) + "/"
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return m, err
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue // gone meanwhile
		}
		args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		if len(args) < 3 || args[1] != "shim" || !strings.HasPrefix(args[len(args)-1], runDir) {
			continue
		}
		rss, err := berthproc.Field(pid, "status", "VmRSS")
		if err != nil {
			return m, err
		}
		pss, err := berthproc.Field(pid, "smaps_rollup", "Pss")
		if err != nil {
			return m, err
		}
		m.shimsRSS += rss
		m.shimsPSS += pss
		m.shims++
	}
	return m, nil
}
