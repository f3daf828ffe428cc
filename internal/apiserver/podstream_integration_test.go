package apiserver_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/utils/exec"
	"k8s.io/utils/ptr"

	"berth.dev/berth/internal/agent/stream"
	"berth.dev/berth/internal/agent/stream/streamtest"
	"berth.dev/berth/internal/apiserver/apiservertest"
)

// startNode registers node n1 at a fake node's streaming server on
// loopback and creates pod default/p, containers c and d, on it.
func startNode(t *testing.T, ts *apiservertest.Server) (*streamtest.Node, kubernetes.Interface) {
	t.Helper()
	c := kubernetes.NewForConfigOrDie(ts.Admin)
	node := streamtest.Start(t, streamtest.Pod{
		Namespace: "default", Name: "p", Containers: []string{"c", "d"},
		FailStderr: "bad things", FailCode: 42,
		Commands: map[string]streamtest.Command{"echo": func(c stream.Container, args []string, tty bool, s stream.Streams) (int, error) {
			fmt.Fprintf(s.Stdout, "%s in %s tty=%v\n", strings.Join(args, " "), c.Name, tty)
			return 0, nil
		}},
		Attached: func(c stream.Container, _ bool) string { return "attached to " + c.Name + "\n" },
	}, stream.Config{
		// The API server's serving certificate is the cluster CA's and names
		// 127.0.0.1: good enough for a node on loopback.
		Certificate: stream.StaticCertificate(ts.PKI.ServingTLSConfig().Certificates[0]), ClientCAs: ts.PKI.CAPool(),
	})
	node.Register(t, c, "n1")
	return node, c
}

func TestPodLogsThroughNode(t *testing.T) {
	ts := apiservertest.Start(t)
	node, c := startNode(t, ts)
	node.AppendLog(t, "c", false, "2026-01-01T00:00:01Z stdout F one\n2026-01-01T00:00:02Z stderr F two\n2026-01-01T00:00:03Z stdout F three\n")
	pods := c.CoreV1().Pods("default")
	logs := func(opts *corev1.PodLogOptions) (string, error) {
		// As kubectl logs reads them.
		rc, err := pods.GetLogs("p", opts).Stream(t.Context())
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}

	tests := []struct {
		name    string
		opts    corev1.PodLogOptions
		want    string
		wantErr string
	}{
		{name: "all", opts: corev1.PodLogOptions{Container: "c"}, want: "one\ntwo\nthree\n"},
		{name: "tail", opts: corev1.PodLogOptions{Container: "c", TailLines: ptr.To[int64](1)}, want: "three\n"},
		{name: "timestamps", opts: corev1.PodLogOptions{Container: "c", TailLines: ptr.To[int64](1), Timestamps: true}, want: "2026-01-01T00:00:03Z three\n"},
		{name: "no previous instance", opts: corev1.PodLogOptions{Container: "c", Previous: true},
			wantErr: `previous terminated container "c" in pod "default/p" not found`},
		{name: "container required", opts: corev1.PodLogOptions{},
			wantErr: "a container name must be specified for pod p, choose one of: [c d]"},
		{name: "unknown container", opts: corev1.PodLogOptions{Container: "x"}, wantErr: "container x is not valid for pod p"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := logs(&tt.opts)
			if tt.wantErr != "" {
				if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want a BadRequest %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	t.Run("previous", func(t *testing.T) {
		node.AppendLog(t, "c", true, "2026-01-01T00:00:00Z stdout F before the restart\n")
		got, err := logs(&corev1.PodLogOptions{Container: "c", Previous: true})
		if err != nil || got != "before the restart\n" {
			t.Fatalf("got %q, %v", got, err)
		}
	})

	t.Run("follow", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		rc, err := pods.GetLogs("p", &corev1.PodLogOptions{Container: "c", Follow: true, TailLines: ptr.To[int64](1)}).Stream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		r := bufio.NewReader(rc)
		expect := func(want string) {
			t.Helper()
			got, err := r.ReadString('\n')
			if err != nil || got != want {
				t.Fatalf("got %q, %v; want %q", got, err, want)
			}
		}
		expect("three\n")
		node.AppendLog(t, "c", false, "2026-01-01T00:00:04Z stdout F four\n")
		expect("four\n")
		node.SetRunning(false)
		if rest, err := io.ReadAll(r); err != nil || len(rest) > 0 {
			t.Fatalf("after the container stopped: %q, %v; want the end", rest, err)
		}
	})
}

func TestPodExecThroughNode(t *testing.T) {
	ts := apiservertest.Start(t)
	_, c := startNode(t, ts)
	type result struct {
		Stdout, Stderr string
		Code           int
		Err            string
	}
	tests := []struct {
		name  string
		sub   string
		opts  *corev1.PodExecOptions
		stdin string
		want  result
	}{
		{name: "stdout", sub: "exec", opts: &corev1.PodExecOptions{Container: "d", Command: []string{"echo", "hi"}, Stdout: true, Stderr: true},
			want: result{Stdout: "hi in d tty=false\n"}},
		{name: "stdin", sub: "exec", opts: &corev1.PodExecOptions{Container: "c", Command: []string{"cat"}, Stdin: true, Stdout: true}, stdin: "data\n",
			want: result{Stdout: "data\n"}},
		{name: "exit code", sub: "exec", opts: &corev1.PodExecOptions{Container: "c", Command: []string{"fail"}, Stdout: true, Stderr: true},
			want: result{Stderr: "bad things\n", Code: 42, Err: "command terminated with exit code 42"}},
		{name: "tty", sub: "exec", opts: &corev1.PodExecOptions{Container: "c", Command: []string{"echo", "t"}, Stdout: true, TTY: true},
			want: result{Stdout: "t in c tty=true\n"}},
		{name: "attach", sub: "attach", opts: &corev1.PodExecOptions{Container: "c", Stdout: true},
			want: result{Stdout: "attached to c\n"}},
	}
	for _, kind := range []string{"spdy", "websocket"} {
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				req := c.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name("p").SubResource(tt.sub)
				if tt.sub == "attach" {
					req.VersionedParams(&corev1.PodAttachOptions{Container: tt.opts.Container, Stdout: tt.opts.Stdout}, scheme.ParameterCodec)
				} else {
					req.VersionedParams(tt.opts, scheme.ParameterCodec)
				}
				var ex remotecommand.Executor
				var err error
				if kind == "websocket" {
					ex, err = remotecommand.NewWebSocketExecutor(ts.Admin, "GET", req.URL().String())
				} else {
					ex, err = remotecommand.NewSPDYExecutor(ts.Admin, "POST", req.URL())
				}
				if err != nil {
					t.Fatal(err)
				}
				var stdout, stderr bytes.Buffer
				so := remotecommand.StreamOptions{Stdout: &stdout, Tty: tt.opts.TTY}
				if tt.opts.Stderr {
					so.Stderr = &stderr
				}
				if tt.opts.Stdin {
					so.Stdin = strings.NewReader(tt.stdin)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				defer cancel()
				err = ex.StreamWithContext(ctx, so)
				got := result{Stdout: stdout.String(), Stderr: stderr.String()}
				if err != nil {
					got.Err = err.Error()
					var exitErr exec.ExitError
					if errors.As(err, &exitErr) {
						got.Code = exitErr.ExitStatus()
					}
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestPodExecAuthorization(t *testing.T) {
	ts := apiservertest.Start(t)
	_, c := startNode(t, ts)
	ctx := t.Context()
	// bob may get pods/exec but not create it: the WebSocket upgrade (a
	// GET) is refused as upstream does, and so is SPDY's POST.
	if _, err := c.RbacV1().Roles("default").Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "exec-get"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods/exec", "pods/log"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RbacV1().RoleBindings("default").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "bob"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "exec-get"},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: "bob"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ts.PKI.IssueClientCert("bob", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	bob := rest.CopyConfig(ts.Admin)
	bob.CertData, bob.KeyData = certPEM, keyPEM
	u := c.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name("p").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: "c", Command: []string{"echo"}, Stdout: true}, scheme.ParameterCodec).URL()
	for _, kind := range []string{"spdy", "websocket"} {
		t.Run(kind, func(t *testing.T) {
			var ex remotecommand.Executor
			var err error
			if kind == "websocket" {
				ex, err = remotecommand.NewWebSocketExecutor(bob, "GET", u.String())
			} else {
				ex, err = remotecommand.NewSPDYExecutor(bob, "POST", u)
			}
			if err != nil {
				t.Fatal(err)
			}
			err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard})
			if err == nil || !strings.Contains(err.Error(), "forbidden") && !strings.Contains(err.Error(), "403") {
				t.Fatalf("got %v, want forbidden", err)
			}
		})
	}
	t.Run("log with get", func(t *testing.T) {
		bc := kubernetes.NewForConfigOrDie(bob)
		_, err := bc.CoreV1().Pods("default").GetLogs("p", &corev1.PodLogOptions{Container: "c"}).Stream(ctx)
		// Allowed; the fake node has no log for c yet.
		if !apierrors.IsBadRequest(err) {
			t.Fatalf("got %v, want the node's BadRequest", err)
		}
	})
}

func TestPodPortForwardThroughNode(t *testing.T) {
	ts := apiservertest.Start(t)
	_, c := startNode(t, ts)
	u := c.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name("p").SubResource("portforward").URL()
	for _, kind := range []string{"spdy", "websocket"} {
		t.Run(kind, func(t *testing.T) {
			var dialer httpstream.Dialer
			if kind == "websocket" {
				d, err := portforward.NewSPDYOverWebsocketDialer(u, ts.Admin)
				if err != nil {
					t.Fatal(err)
				}
				dialer = d
			} else {
				rt, up, err := spdy.RoundTripperFor(ts.Admin)
				if err != nil {
					t.Fatal(err)
				}
				dialer = spdy.NewDialer(up, &http.Client{Transport: rt}, "POST", u)
			}
			stop, ready := make(chan struct{}), make(chan struct{})
			pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:8080"}, stop, ready, io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- pf.ForwardPorts() }()
			defer func() {
				close(stop)
				<-done
			}()
			select {
			case <-ready:
			case err := <-done:
				t.Fatal(err)
			case <-time.After(30 * time.Second):
				t.Fatal("port forward not ready")
			}
			ports, err := pf.GetPorts()
			if err != nil {
				t.Fatal(err)
			}
			conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := conn.Write([]byte("hello pod\n")); err != nil {
				t.Fatal(err)
			}
			got, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil || got != "hello pod\n" {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

func TestPodStreamDiscovery(t *testing.T) {
	ts := apiservertest.Start(t)
	c := kubernetes.NewForConfigOrDie(ts.Admin)
	list, err := c.Discovery().ServerResourcesForGroupVersion("v1")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range list.APIResources {
		switch r.Name {
		case "pods/log", "pods/exec", "pods/attach", "pods/portforward":
			got[r.Name] = r.Kind + " " + strings.Join(r.Verbs, ",")
		}
	}
	want := map[string]string{
		"pods/attach":      "PodAttachOptions create,get",
		"pods/exec":        "PodExecOptions create,get",
		"pods/log":         "Pod get",
		"pods/portforward": "PodPortForwardOptions create,get",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("discovery (-want +got):\n%s", diff)
	}
}
