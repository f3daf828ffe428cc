// Package streamtest runs a node's streaming server over a fake node for
// tests: one pod whose containers run fake commands, write their logs to
// files in a temporary directory and echo on one port. Only tests import it.
package streamtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"berth.dev/berth/internal/agent/stream"
)

// EchoPort is the pod's one open port: a connection to it echoes what it
// reads. Dialling any other port is refused.
const EchoPort = 8080

// Command is a fake command run by exec in container c; args exclude the
// command's name.
type Command func(c stream.Container, args []string, tty bool, s stream.Streams) (int, error)

// Pod is the fake pod and how its containers behave.
type Pod struct {
	Namespace, Name string
	// UID is the pod's UID until Register takes the API's.
	UID        types.UID
	Containers []string

	// FailStderr and FailCode are what the command fail writes to stderr
	// and exits with.
	FailStderr string
	FailCode   int
	// Commands adds to the built-in commands or replaces them: echo ARGS,
	// cat (stdin to stdout), fail, and size (with a TTY, reports each
	// terminal size until the resize stream ends).
	Commands map[string]Command
	// Attached, when set, is what attach writes before it copies stdin to
	// stdout.
	Attached func(c stream.Container, tty bool) string
}

// Node is a fake node serving Pod with a stream.Server on loopback. Its
// containers start running.
type Node struct {
	pod    Pod
	logDir string
	echo   string // the loopback address behind EchoPort
	addr   *net.TCPAddr

	mu      sync.Mutex // guards uid, running, resizes and dials
	uid     types.UID
	running bool
	resizes []stream.TermSize
	dials   []uint16
}

// Start serves pod with a stream.Server made from cfg, its container
// callbacks (Lookup, Exec, Attach, LogPaths, DialPod) set to the fake
// node's, on a loopback port until the test ends.
func Start(t testing.TB, pod Pod, cfg stream.Config) *Node {
	t.Helper()
	n := &Node{pod: pod, logDir: t.TempDir(), echo: startEcho(t), uid: pod.UID, running: true}
	cfg.Lookup, cfg.Exec, cfg.Attach, cfg.LogPaths, cfg.DialPod = n.lookup, n.exec, n.attach, n.logPaths, n.dialPod
	srv, err := stream.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.addr = ln.Addr().(*net.TCPAddr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return n
}

// startEcho listens on loopback until the test ends and echoes on each
// connection; it returns the address.
func startEcho(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// Addr is the server's host:port.
func (n *Node) Addr() string { return n.addr.String() }

// Register makes the server the kubelet endpoint of a new Node named node,
// creates the pod bound to it, marks it running and takes its UID.
func (n *Node) Register(t testing.TB, c kubernetes.Interface, node string) {
	t.Helper()
	ctx := t.Context()
	obj, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	obj.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: node}, {Type: corev1.NodeInternalIP, Address: n.addr.IP.String()}}
	obj.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(n.addr.Port)
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, obj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	spec := corev1.PodSpec{NodeName: node}
	for _, name := range n.pod.Containers {
		spec.Containers = append(spec.Containers, corev1.Container{Name: name, Image: "busybox"})
	}
	pods := c.CoreV1().Pods(n.pod.Namespace)
	pod, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: n.pod.Name}, Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	if _, err := pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.uid = pod.UID
}

// SetRunning sets whether the containers run.
func (n *Node) SetRunning(running bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.running = running
}

// Resizes returns the terminal sizes the command size has seen.
func (n *Node) Resizes() []stream.TermSize {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.resizes)
}

// Dials returns the ports DialPod was asked for, in order.
func (n *Node) Dials() []uint16 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.dials)
}

// LogPath is the log file of container's current instance, or of its
// previous one. The previous instance exists while its file does.
func (n *Node) LogPath(container string, previous bool) string {
	if previous {
		return filepath.Join(n.logDir, container+".previous.log")
	}
	return filepath.Join(n.logDir, container+".log")
}

// AppendLog appends s to a log file of container, creating it if needed.
func (n *Node) AppendLog(t testing.TB, container string, previous bool, s string) {
	t.Helper()
	f, err := os.OpenFile(n.LogPath(container, previous), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func (n *Node) lookup(ns, pod, container string) (stream.Container, error) {
	if ns != n.pod.Namespace || pod != n.pod.Name || (container != "" && !slices.Contains(n.pod.Containers, container)) {
		return stream.Container{}, stream.ErrNotFound
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return stream.Container{PodUID: n.uid, Name: container, ID: "id-" + container, Running: n.running}, nil
}

func (n *Node) exec(_ context.Context, c stream.Container, cmd []string, tty bool, s stream.Streams) (int, error) {
	if f, ok := n.pod.Commands[cmd[0]]; ok {
		return f(c, cmd[1:], tty, s)
	}
	switch cmd[0] {
	case "echo":
		fmt.Fprintln(s.Stdout, strings.Join(cmd[1:], " "))
		return 0, nil
	case "cat":
		_, err := io.Copy(s.Stdout, s.Stdin)
		return 0, err
	case "fail":
		fmt.Fprintln(s.Stderr, n.pod.FailStderr)
		return n.pod.FailCode, nil
	case "size":
		if !tty {
			return 0, errors.New("size needs a tty")
		}
		for size := range s.Resize {
			n.mu.Lock()
			n.resizes = append(n.resizes, size)
			n.mu.Unlock()
			fmt.Fprintf(s.Stdout, "%dx%d\n", size.Width, size.Height)
		}
		return 0, nil
	}
	return 0, fmt.Errorf("no such command %q", cmd[0])
}

func (n *Node) attach(_ context.Context, c stream.Container, tty bool, s stream.Streams) error {
	if n.pod.Attached != nil {
		io.WriteString(s.Stdout, n.pod.Attached(c, tty))
	}
	if s.Stdin != nil {
		io.Copy(s.Stdout, s.Stdin)
	}
	return nil
}

func (n *Node) logPaths(uid types.UID, container string) (string, string) {
	n.mu.Lock()
	known := uid == n.uid
	n.mu.Unlock()
	if !known || !slices.Contains(n.pod.Containers, container) {
		return "", ""
	}
	prev := n.LogPath(container, true)
	if _, err := os.Stat(prev); err != nil {
		prev = ""
	}
	return n.LogPath(container, false), prev
}

func (n *Node) dialPod(ctx context.Context, uid types.UID, port uint16) (net.Conn, error) {
	n.mu.Lock()
	n.dials = append(n.dials, port)
	known := uid == n.uid
	n.mu.Unlock()
	if !known || port != EchoPort {
		return nil, errors.New("connection refused")
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", n.echo)
}
