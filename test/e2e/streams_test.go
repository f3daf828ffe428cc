package e2e

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"berth.dev/berth/internal/agent/stream"
)

// streamNode is a node's streaming server run by the test process on
// loopback, with fake containers: what berth server proxies kubectl logs,
// exec and port-forward to.
type streamNode struct {
	uid    types.UID
	logDir string
	echo   string

	mu      sync.Mutex // guards running
	running bool
}

func (n *streamNode) lookup(ns, pod, container string) (stream.Container, error) {
	if ns != "default" || pod != "p" || (container != "" && container != "c") {
		return stream.Container{}, stream.ErrNotFound
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return stream.Container{PodUID: n.uid, Name: container, ID: "cid", Running: n.running}, nil
}

func (n *streamNode) exec(_ context.Context, _ stream.Container, cmd []string, tty bool, s stream.Streams) (int, error) {
	switch cmd[0] {
	case "echo":
		fmt.Fprintln(s.Stdout, strings.Join(cmd[1:], " "))
		return 0, nil
	case "cat":
		_, err := io.Copy(s.Stdout, s.Stdin)
		return 0, err
	case "fail":
		fmt.Fprintln(s.Stderr, "bad things")
		return 42, nil
	case "tar":
		// kubectl cp from a pod runs `tar cf - PATH`: one file here.
		if len(cmd) < 4 || cmd[1] != "cf" || cmd[2] != "-" {
			return 2, fmt.Errorf("unexpected tar %v", cmd[1:])
		}
		content := "file from the pod\n"
		tw := tar.NewWriter(s.Stdout)
		if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(cmd[len(cmd)-1], "/"), Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			return 1, err
		}
		io.WriteString(tw, content)
		return 0, tw.Close()
	}
	return 0, fmt.Errorf("%s: not found", cmd[0])
}

func (n *streamNode) attach(context.Context, stream.Container, bool, stream.Streams) error {
	return errors.New("attach is not used here")
}

func (n *streamNode) logPaths(uid types.UID, container string) (string, string) {
	return filepath.Join(n.logDir, "current.log"), ""
}

func (n *streamNode) dialPod(ctx context.Context, uid types.UID, port uint16) (net.Conn, error) {
	if uid != n.uid || port != 8080 {
		return nil, errors.New("connection refused")
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", n.echo)
}

func (n *streamNode) appendLog(t *testing.T, s string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(n.logDir, "current.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// startStreamNode serves a fake node on loopback with the server's own
// serving certificate (issued by the cluster CA for 127.0.0.1), registers
// it as Node n1 and creates pod default/p on it.
func startStreamNode(t *testing.T, s *server) *streamNode {
	t.Helper()
	ctx := t.Context()
	pkiDir := filepath.Join(s.dataDir, "pki")
	cert, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, "apiserver.crt"), filepath.Join(pkiDir, "apiserver.key"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(pkiDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509Pool(t, caPEM)

	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	node := &streamNode{logDir: t.TempDir(), echo: echo.Addr().String(), running: true}
	srv, err := stream.New(stream.Config{
		Certificate: stream.StaticCertificate(cert), ClientCAs: pool,
		Lookup: node.lookup, Exec: node.exec, Attach: node.attach, LogPaths: node.logPaths, DialPod: node.dialPod,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Serve(sctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	cs := s.clientset(t)
	n, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(ln.Addr().(*net.TCPAddr).Port)
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	node.uid = pod.UID
	return node
}

func TestKubectlLogsExecPortForward(t *testing.T) {
	s := startServer(t)
	node := startStreamNode(t, s)
	node.appendLog(t, "2026-01-01T00:00:01Z stdout F one\n2026-01-01T00:00:02Z stderr F two\n2026-01-01T00:00:03Z stdout F three\n")

	t.Run("logs", func(t *testing.T) {
		if got := s.kubectl(t, "logs", "p"); got != "one\ntwo\nthree\n" {
			t.Errorf("kubectl logs: %q", got)
		}
		if got := s.kubectl(t, "logs", "p", "--tail=1", "--timestamps"); got != "2026-01-01T00:00:03Z three\n" {
			t.Errorf("kubectl logs --tail=1 --timestamps: %q", got)
		}
		r := s.kubectlErr(t, "logs", "p", "--previous")
		if want := `Error from server (BadRequest): previous terminated container "c" in pod "default/p" not found`; !strings.Contains(r.stderr, want) {
			t.Errorf("kubectl logs --previous: %s\nwant %q", r, want)
		}
	})

	// Both protocols kubectl speaks: WebSocket (its default) and SPDY.
	for _, proto := range []struct {
		name string
		env  []string
	}{{"websocket", nil}, {"spdy", []string{"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false"}}} {
		env := proto.env
		t.Run("exec over "+proto.name, func(t *testing.T) {
			k := s.kubectlWith(kubectlPath(t))
			if r := k.exec(t, env, "exec", "p", "--", "echo", "hello", "there"); r.code != 0 || r.stdout != "hello there\n" {
				t.Errorf("kubectl exec echo: %s", r)
			}
			r := k.exec(t, env, "exec", "p", "--", "fail")
			if r.code != 42 || !strings.Contains(r.stderr, "bad things") {
				t.Errorf("kubectl exec fail: %s\nwant exit 42 and the command's stderr", r)
			}
			cmd := exec.CommandContext(t.Context(), k.bin, k.args([]string{"exec", "-i", "p", "--", "cat"})...)
			cmd.Env = append(cleanEnv(), env...)
			cmd.Stdin = strings.NewReader("from stdin\n")
			out, err := cmd.Output()
			if err != nil || string(out) != "from stdin\n" {
				t.Errorf("kubectl exec -i cat: %q, %v", out, err)
			}
		})
	}

	t.Run("cp", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "copied")
		s.kubectl(t, "cp", "default/p:/tmp/data.txt", dst)
		b, err := os.ReadFile(dst)
		if err != nil || string(b) != "file from the pod\n" {
			t.Fatalf("kubectl cp: %q, %v", b, err)
		}
	})

	t.Run("port-forward", func(t *testing.T) {
		pf := s.kubectlWith(kubectlPath(t)).start(t, "port-forward", "pod/p", ":8080")
		re := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 8080`)
		var port string
		deadline := time.Now().Add(eventTimeout)
		for port == "" {
			if m := re.FindStringSubmatch(pf.output()); m != nil {
				port = m[1]
				continue
			}
			if time.Now().After(deadline) {
				t.Fatalf("kubectl port-forward did not start:\n%s", pf.output())
			}
			time.Sleep(readyPoll)
		}
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write([]byte("through the pod\n")); err != nil {
			t.Fatal(err)
		}
		got, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || got != "through the pod\n" {
			t.Fatalf("echo through kubectl port-forward: %q, %v", got, err)
		}
	})

	t.Run("logs -f", func(t *testing.T) {
		f := s.kubectlWith(kubectlPath(t)).start(t, "logs", "-f", "p", "--tail=1")
		f.waitForLine(t, "three")
		node.appendLog(t, "2026-01-01T00:00:04Z stdout F four\n")
		f.waitForLine(t, "four")
	})
}

func x509Pool(t *testing.T, caPEM []byte) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA certificate in ca.crt")
	}
	return p
}
