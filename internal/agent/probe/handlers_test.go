package probe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

type probeResult struct {
	Outcome outcome
	Output  string
	Err     bool
}

func loopbackTarget(port int) target {
	return target{podIP: "127.0.0.1", container: &corev1.Container{Name: "c", Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: int32(port)}}}}
}

func TestHTTPProbe(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != userAgent || r.Header.Get("X-Probe") != "yes" || r.Host != "example.test" {
			http.Error(w, "bad headers", http.StatusBadRequest)
			return
		}
		w.Write([]byte("fine"))
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	mux.HandleFunc("/local", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/plain", http.StatusFound) })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://localhost:1/elsewhere")
		w.WriteHeader(http.StatusMovedPermanently)
		w.Write([]byte("moved"))
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("plain")) })
	mux.HandleFunc("/agent", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Join(r.Header.Values("User-Agent"), ",") + " " + r.Header.Get("Accept")))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	tests := []struct {
		name   string
		action corev1.HTTPGetAction
		want   probeResult
	}{
		{
			name: "success with headers and named port",
			action: corev1.HTTPGetAction{Path: "/ok", Port: intstr.FromString("web"), HTTPHeaders: []corev1.HTTPHeader{
				{Name: "X-Probe", Value: "yes"}, {Name: "Host", Value: "example.test"},
			}},
			want: probeResult{Outcome: success, Output: "fine"},
		},
		{name: "server error fails", action: corev1.HTTPGetAction{Path: "/fail", Port: intstr.FromInt32(int32(port))},
			want: probeResult{Outcome: failure, Output: "HTTP probe failed with statuscode: 503"}},
		{name: "redirect to the same host is followed", action: corev1.HTTPGetAction{Path: "/local", Port: intstr.FromInt32(int32(port))},
			want: probeResult{Outcome: success, Output: "plain"}},
		{name: "redirect to another host is a warning", action: corev1.HTTPGetAction{Path: "/away", Port: intstr.FromInt32(int32(port))},
			want: probeResult{Outcome: warning, Output: "Probe terminated redirects, Response body: moved"}},
		{name: "path without leading slash", action: corev1.HTTPGetAction{Path: "plain", Port: intstr.FromInt32(int32(port))},
			want: probeResult{Outcome: success, Output: "plain"}},
		{name: "default headers", action: corev1.HTTPGetAction{Path: "/agent", Port: intstr.FromInt32(int32(port))},
			want: probeResult{Outcome: success, Output: userAgent + " */*"}},
		{name: "probe headers replace the defaults", action: corev1.HTTPGetAction{Path: "/agent", Port: intstr.FromInt32(int32(port)),
			HTTPHeaders: []corev1.HTTPHeader{{Name: "User-Agent", Value: "mine"}, {Name: "Accept", Value: "text/plain"}}},
			want: probeResult{Outcome: success, Output: "mine text/plain"}},
		{name: "unknown port name", action: corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("nope")},
			want: probeResult{Outcome: failure, Err: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, out, err := loopbackTarget(port).run(t.Context(), &corev1.ProbeHandler{HTTPGet: &tt.action}, 5*time.Second)
			got := probeResult{Outcome: o, Output: out, Err: err != nil}
			if err != nil {
				got.Output = ""
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	t.Run("redirect loop fails", func(t *testing.T) {
		o, out, err := loopbackTarget(port).run(t.Context(), &corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/loop", Port: intstr.FromInt32(int32(port))}}, 5*time.Second)
		if err != nil || o != failure || !strings.Contains(out, "stopped after 10 redirects") {
			t.Errorf("got %v %q %v, want a failure after 10 redirects", o, out, err)
		}
	})
	t.Run("timeout fails", func(t *testing.T) {
		o, out, err := loopbackTarget(port).run(t.Context(), &corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/slow", Port: intstr.FromInt32(int32(port))}}, 100*time.Millisecond)
		if err != nil || o != failure || !strings.Contains(out, "deadline exceeded") {
			t.Errorf("got %v %q %v, want a timeout failure", o, out, err)
		}
	})
}

func TestTCPProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := ln.Addr().(*net.TCPAddr).Port
	closedLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := closedLn.Addr().(*net.TCPAddr).Port
	closedLn.Close()
	defer ln.Close()

	for _, tt := range []struct {
		name string
		port int
		want outcome
	}{{"open port succeeds", open, success}, {"closed port fails", closed, failure}} {
		t.Run(tt.name, func(t *testing.T) {
			o, out, err := loopbackTarget(tt.port).run(t.Context(), &corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(tt.port))}}, 5*time.Second)
			if err != nil || o != tt.want {
				t.Errorf("got %v %q %v, want %v", o, out, err, tt.want)
			}
		})
	}
}

func TestGRPCProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := health.NewServer()
	hs.SetServingStatus("db", healthpb.HealthCheckResponse_NOT_SERVING)
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	defer srv.Stop()
	bare := grpc.NewServer()
	bareLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go bare.Serve(bareLn)
	defer bare.Stop()

	port := func(l net.Listener) int32 { return int32(l.Addr().(*net.TCPAddr).Port) }
	tests := []struct {
		name   string
		action corev1.GRPCAction
		want   probeResult
	}{
		{name: "serving", action: corev1.GRPCAction{Port: port(ln)}, want: probeResult{Outcome: success, Output: "service healthy"}},
		{name: "not serving", action: corev1.GRPCAction{Port: port(ln), Service: ptr.To("db")},
			want: probeResult{Outcome: failure, Output: `service unhealthy (responded with "NOT_SERVING")`}},
		{name: "no health service", action: corev1.GRPCAction{Port: port(bareLn)},
			want: probeResult{Outcome: failure, Output: "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service grpc.health.v1.Health"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, out, err := loopbackTarget(0).run(t.Context(), &corev1.ProbeHandler{GRPC: &tt.action}, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, probeResult{Outcome: o, Output: out}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("nothing listening", func(t *testing.T) {
		closed := port(bareLn)
		bare.Stop()
		o, out, err := loopbackTarget(0).run(t.Context(), &corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: closed}}, time.Second)
		if err != nil || o != failure || !strings.Contains(out, "127.0.0.1:"+strconv.Itoa(int(closed))) {
			t.Errorf("got %v %q %v, want a connection failure", o, out, err)
		}
	})
}

func TestExecProbeTimeout(t *testing.T) {
	tg := target{container: &corev1.Container{}, containerID: "cid", exec: func(ctx context.Context, _ string, _ []string) (int, []byte, error) {
		<-ctx.Done()
		return -1, nil, ctx.Err()
	}}
	o, out, err := tg.run(t.Context(), &corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sleep", "9"}}}, 50*time.Millisecond)
	if diff := cmp.Diff(probeResult{Outcome: failure, Output: `command "sleep 9" timed out`}, probeResult{Outcome: o, Output: out, Err: err != nil}); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
