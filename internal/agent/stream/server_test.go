package stream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/utils/exec"

	"berth.dev/berth/internal/agent/stream"
	"berth.dev/berth/internal/agent/stream/streamtest"
	"berth.dev/berth/internal/metrics"
)

// startServer serves a fake node with pod ns/p and container c on
// loopback; it returns the node and a client config for it with the API
// server's identity.
func startServer(t *testing.T, scrape metrics.Scrape) (*streamtest.Node, *rest.Config, *testCA) {
	t.Helper()
	ca := newTestCA(t)
	node := streamtest.Start(t, streamtest.Pod{
		Namespace: "ns", Name: "p", UID: "uid1", Containers: []string{"c"},
		FailStderr: "it failed", FailCode: 3,
		Attached: func(_ stream.Container, tty bool) string { return fmt.Sprintf("attached tty=%v\n", tty) },
	}, stream.Config{
		Certificate: stream.StaticCertificate(ca.tlsCert(t, "node1", true)), ClientCAs: ca.pool(),
		ResourceMetrics:       func(context.Context) (metrics.Scrape, error) { return scrape, nil },
		StreamCreationTimeout: 5 * time.Second,
	})
	certPEM, keyPEM := ca.issue(t, stream.APIServerUser, false)
	return node, &rest.Config{Host: "https://" + node.Addr(), TLSClientConfig: rest.TLSClientConfig{CAData: ca.pem, CertData: certPEM, KeyData: keyPEM}}, ca
}

func newExecutor(t *testing.T, cfg *rest.Config, kind, path string) remotecommand.Executor {
	t.Helper()
	u, err := url.Parse(cfg.Host + path)
	if err != nil {
		t.Fatal(err)
	}
	var ex remotecommand.Executor
	if kind == "websocket" {
		ex, err = remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	} else {
		ex, err = remotecommand.NewSPDYExecutor(cfg, "POST", u)
	}
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func TestExecAndAttach(t *testing.T) {
	_, cfg, _ := startServer(t, metrics.Scrape{})
	type result struct {
		Stdout, Stderr string
		ExitCode       int
		Err            string
	}
	tests := []struct {
		name  string
		path  string
		stdin string
		tty   bool
		want  result
	}{
		{name: "exec output", path: "/exec/ns/p/c?command=echo&command=hello&command=world&output=1&error=1",
			want: result{Stdout: "hello world\n"}},
		{name: "exec stdin", path: "/exec/ns/p/c?command=cat&input=1&output=1", stdin: "some input\n",
			want: result{Stdout: "some input\n"}},
		{name: "exec exit code and stderr", path: "/exec/ns/p/c?command=fail&output=1&error=1",
			want: result{Stderr: "it failed\n", ExitCode: 3, Err: "command terminated with exit code 3"}},
		{name: "exec failure", path: "/exec/ns/p/c?command=nope&output=1",
			want: result{Err: `Internal error occurred: no such command "nope"`}},
		{name: "attach", path: "/attach/ns/p/c?input=1&output=1&tty=1", stdin: "typed\n", tty: true,
			want: result{Stdout: "attached tty=true\ntyped\n"}},
	}
	for _, kind := range []string{"spdy", "websocket"} {
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				opts := remotecommand.StreamOptions{Stdout: &stdout, Tty: tt.tty}
				if strings.Contains(tt.path, "error=1") {
					opts.Stderr = &stderr
				}
				if strings.Contains(tt.path, "input=1") {
					opts.Stdin = strings.NewReader(tt.stdin)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
				defer cancel()
				err := newExecutor(t, cfg, kind, tt.path).StreamWithContext(ctx, opts)
				got := result{Stdout: stdout.String(), Stderr: stderr.String()}
				if err != nil {
					got.Err = err.Error()
					var exitErr exec.ExitError
					if errors.As(err, &exitErr) {
						got.ExitCode = exitErr.ExitStatus()
					}
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	}
}

// sizeQueue hands out terminal sizes, then ends.
type sizeQueue struct {
	sizes chan remotecommand.TerminalSize
}

func (q sizeQueue) Next() *remotecommand.TerminalSize {
	s, ok := <-q.sizes
	if !ok {
		return nil
	}
	return &s
}

func TestExecResize(t *testing.T) {
	for _, kind := range []string{"spdy", "websocket"} {
		t.Run(kind, func(t *testing.T) {
			node, cfg, _ := startServer(t, metrics.Scrape{})
			q := sizeQueue{sizes: make(chan remotecommand.TerminalSize, 2)}
			q.sizes <- remotecommand.TerminalSize{Width: 80, Height: 24}
			q.sizes <- remotecommand.TerminalSize{Width: 100, Height: 40}
			close(q.sizes)
			var stdout lockedBuffer
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				errc <- newExecutor(t, cfg, kind, "/exec/ns/p/c?command=size&output=1&tty=1").StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Tty: true, TerminalSizeQueue: q})
			}()
			waitFor(t, func() bool { return stdout.String() == "80x24\n100x40\n" })
			// The fake command ends when the resize stream does, which the
			// client closes only when it ends; end it.
			cancel()
			<-errc
			if diff := cmp.Diff([]stream.TermSize{{80, 24}, {100, 40}}, node.Resizes()); diff != "" {
				t.Errorf("resizes (-want +got):\n%s", diff)
			}
		})
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAuthentication(t *testing.T) {
	node, cfg, ca := startServer(t, metrics.Scrape{})
	other := newTestCA(t)
	tests := []struct {
		name     string
		cert     func() ([]byte, []byte)
		wantCode int
		wantErr  bool
	}{
		{name: "API server", cert: func() ([]byte, []byte) { return cfg.CertData, cfg.KeyData }, wantCode: http.StatusOK},
		{name: "another user of the cluster CA", cert: func() ([]byte, []byte) { return ca.issue(t, "system:node:n2", false) }, wantCode: http.StatusForbidden},
		{name: "a certificate of another CA", cert: func() ([]byte, []byte) { return other.issue(t, stream.APIServerUser, false) }, wantErr: true},
		{name: "no certificate", cert: func() ([]byte, []byte) { return nil, nil }, wantErr: true},
	}
	node.AppendLog(t, "c", false, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rest.CopyConfig(cfg)
			c.CertData, c.KeyData = tt.cert()
			rt, err := rest.TransportFor(c)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := (&http.Client{Transport: rt}).Get(cfg.Host + "/containerLogs/ns/p/c")
			if tt.wantErr {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("got %s, want a TLS error", resp.Status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Errorf("got %s, want %d", resp.Status, tt.wantCode)
			}
		})
	}
}

func TestResourceMetrics(t *testing.T) {
	now := time.UnixMilli(1700000000000)
	scrape := metrics.Scrape{
		Node:       metrics.Point{CPUSeconds: 10, MemoryBytes: 1 << 30, Time: now},
		Containers: []metrics.ContainerPoint{{Namespace: "ns", Pod: "p", Container: "c", Point: metrics.Point{CPUSeconds: 1, MemoryBytes: 1 << 20, Time: now}}},
	}
	_, cfg, ca := startServer(t, scrape)
	get := func(certPEM, keyPEM []byte) *http.Response {
		c := rest.CopyConfig(cfg)
		c.CertData, c.KeyData = certPEM, keyPEM
		rt, err := rest.TransportFor(c)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := (&http.Client{Transport: rt}).Get(cfg.Host + metrics.ResourcePath)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := get(cfg.CertData, cfg.KeyData)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != metrics.TextContentType {
		t.Fatalf("got %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	got, err := metrics.ParseText(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(scrape, got); d != "" {
		t.Errorf("scrape (-want +got):\n%s", d)
	}
	if resp := get(ca.issue(t, "system:node:n2", false)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another user got %s, want 403", resp.Status)
	}
}

func TestPortForward(t *testing.T) {
	for _, kind := range []string{"spdy", "tunnel"} {
		t.Run(kind, func(t *testing.T) {
			node, cfg, _ := startServer(t, metrics.Scrape{})
			u, _ := url.Parse(cfg.Host + "/portForward/ns/p")
			var dialer httpstream.Dialer
			if kind == "tunnel" {
				d, err := portforward.NewSPDYOverWebsocketDialer(u, cfg)
				if err != nil {
					t.Fatal(err)
				}
				dialer = d
			} else {
				rt, up, err := spdy.RoundTripperFor(cfg)
				if err != nil {
					t.Fatal(err)
				}
				dialer = spdy.NewDialer(up, &http.Client{Transport: rt}, "POST", u)
			}
			stop, ready := make(chan struct{}), make(chan struct{})
			var errOut lockedBuffer
			pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:8080", "0:1"}, stop, ready, io.Discard, &errOut)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error)
			go func() { done <- pf.ForwardPorts() }()
			select {
			case <-ready:
			case err := <-done:
				t.Fatal(err)
			case <-time.After(20 * time.Second):
				t.Fatal("port forward not ready")
			}
			ports, err := pf.GetPorts()
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local))
				if err != nil {
					t.Fatal(err)
				}
				msg := fmt.Sprintf("ping %d\n", i)
				c.Write([]byte(msg))
				got := make([]byte, len(msg))
				c.SetDeadline(time.Now().Add(20 * time.Second))
				if _, err := io.ReadFull(c, got); err != nil {
					t.Fatal(err)
				}
				if string(got) != msg {
					t.Errorf("echo got %q, want %q", got, msg)
				}
				c.Close()
			}
			// A port the pod refuses: the node reports its error on the
			// error stream (client-go logs it) and the connection ends.
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[1].Local))
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.Copy(io.Discard, c); err != nil {
				t.Errorf("refused port: %v, want the connection closed", err)
			}
			c.Close()
			close(stop)
			<-done
			if diff := cmp.Diff([]uint16{8080, 8080, 1}, node.Dials()); diff != "" {
				t.Errorf("dials (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPortForwardWebSocketV4(t *testing.T) {
	_, cfg, _ := startServer(t, metrics.Scrape{})
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := websocket.Dialer{TLSClientConfig: tlsCfg, Subprotocols: []string{"v4.channel.k8s.io"}, HandshakeTimeout: 20 * time.Second}
	wsURL := "wss" + strings.TrimPrefix(cfg.Host, "https") + "/portForward/ns/p?ports=8080"
	ws, resp, err := d.DialContext(t.Context(), wsURL, nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	read := func() []byte {
		t.Helper()
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Each channel starts with the port, little-endian.
	got := [][]byte{read(), read()}
	if diff := cmp.Diff([][]byte{{0, 0x90, 0x1f}, {1, 0x90, 0x1f}}, got); diff != "" {
		t.Fatalf("port prefixes (-want +got):\n%s", diff)
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, append([]byte{0}, "ping\n"...)); err != nil {
		t.Fatal(err)
	}
	var echoed []byte
	for len(echoed) < len("ping\n") {
		b := read()
		if b[0] != 0 {
			t.Fatalf("message on channel %d: %q", b[0], b[1:])
		}
		echoed = append(echoed, b[1:]...)
	}
	if string(echoed) != "ping\n" {
		t.Errorf("echo got %q", echoed)
	}
}
