package e2e

import (
	"archive/tar"
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"berth.dev/berth/internal/agent/stream"
	"berth.dev/berth/internal/agent/stream/streamtest"
)

// startStreamNode serves a fake node on loopback with the server's own
// serving certificate (issued by the cluster CA for 127.0.0.1), registers
// it as Node n1 and creates pod default/p, container c, on it: what berth
// server proxies kubectl logs, exec, cp and port-forward to.
func startStreamNode(t *testing.T, s *server) *streamtest.Node {
	t.Helper()
	pkiDir := filepath.Join(s.dataDir, "pki")
	cert, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, "apiserver.crt"), filepath.Join(pkiDir, "apiserver.key"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(pkiDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	node := streamtest.Start(t, streamtest.Pod{
		Namespace: "default", Name: "p", Containers: []string{"c"},
		FailStderr: "bad things", FailCode: 42,
		Commands: map[string]streamtest.Command{"tar": tarFromPod},
	}, stream.Config{Certificate: stream.StaticCertificate(cert), ClientCAs: x509Pool(t, caPEM)})
	node.Register(t, s.clientset(t), "n1")
	return node
}

// tarFromPod answers kubectl cp from a pod, which runs `tar cf - PATH`,
// with one file.
func tarFromPod(_ stream.Container, args []string, _ bool, s stream.Streams) (int, error) {
	if len(args) < 3 || args[0] != "cf" || args[1] != "-" {
		return 2, fmt.Errorf("unexpected tar %v", args)
	}
	content := "file from the pod\n"
	tw := tar.NewWriter(s.Stdout)
	if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(args[len(args)-1], "/"), Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		return 1, err
	}
	io.WriteString(tw, content)
	return 0, tw.Close()
}

func TestKubectlLogsExecPortForward(t *testing.T) {
	s := startServer(t)
	node := startStreamNode(t, s)
	node.AppendLog(t, "c", false, "2026-01-01T00:00:01Z stdout F one\n2026-01-01T00:00:02Z stderr F two\n2026-01-01T00:00:03Z stdout F three\n")

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
		node.AppendLog(t, "c", false, "2026-01-01T00:00:04Z stdout F four\n")
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
