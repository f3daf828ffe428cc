package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"berth.dev/berth/internal/version"
)

// outcome is what one probe run decided.
type outcome int

const (
	success outcome = iota
	// warning is a success that kubelet reports with a warning event.
	warning
	failure
)

// maxBody is how much of an HTTP response body kubelet keeps as output.
const maxBody = 10 << 10

// userAgent is what kubelet sends on HTTP and gRPC probes.
const userAgent = "kube-probe/" + version.Major + "." + version.Minor

// ExecFunc runs cmd in a container and returns its exit code and combined
// output. An error means the command could not be run at all.
type ExecFunc func(ctx context.Context, containerID string, cmd []string) (exitCode int, output []byte, err error)

// target is what a probe handler needs to know of its container.
type target struct {
	podIP       string
	container   *corev1.Container
	containerID string
	exec        ExecFunc
}

// run runs handler once within timeout. An error means the probe could not
// be run (bad port, unknown handler); kubelet counts that as a failure too.
func (t target) run(ctx context.Context, h *corev1.ProbeHandler, timeout time.Duration) (outcome, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case h.Exec != nil:
		return t.runExec(ctx, h.Exec.Command, timeout)
	case h.HTTPGet != nil:
		return t.runHTTP(ctx, h.HTTPGet)
	case h.TCPSocket != nil:
		return t.runTCP(ctx, h.TCPSocket)
	case h.GRPC != nil:
		return t.runGRPC(ctx, h.GRPC, timeout)
	}
	return failure, "", errors.New("missing probe handler")
}

func (t target) runExec(ctx context.Context, cmd []string, timeout time.Duration) (outcome, string, error) {
	if t.exec == nil {
		return failure, "", errors.New("exec probes are not supported")
	}
	code, out, err := t.exec(ctx, t.containerID, cmd)
	if ctx.Err() == context.DeadlineExceeded {
		return failure, fmt.Sprintf("command %q timed out", strings.Join(cmd, " ")), nil
	}
	if err != nil {
		return failure, "", fmt.Errorf("running probe command: %w", err)
	}
	if code != 0 {
		return failure, string(out), nil
	}
	return success, string(out), nil
}

// resolvePort finds a probe's port: a number, or the name of a container port.
func (t target) resolvePort(p intstr.IntOrString) (int, error) {
	port := -1
	if p.Type == intstr.Int {
		port = p.IntValue()
	} else {
		for _, cp := range t.container.Ports {
			if cp.Name == p.StrVal {
				port = int(cp.ContainerPort)
			}
		}
		if port < 0 {
			return 0, fmt.Errorf("couldn't find port: %v in %v", p.StrVal, t.container.Name)
		}
	}
	if port <= 0 || port > 65535 {
		return 0, fmt.Errorf("invalid port number: %v", port)
	}
	return port, nil
}

func (t target) runHTTP(ctx context.Context, g *corev1.HTTPGetAction) (outcome, string, error) {
	port, err := t.resolvePort(g.Port)
	if err != nil {
		return failure, "", err
	}
	host := g.Host
	if host == "" {
		host = t.podIP
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if path != "" && !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u, err := url.Parse(scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + path)
	if err != nil {
		return failure, "", fmt.Errorf("building probe URL: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return failure, "", fmt.Errorf("building probe request: %w", err)
	}
	// The probe's headers replace kubelet's defaults of the same name.
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	for name, value := range map[string]string{"User-Agent": userAgent, "Accept": "*/*"} {
		if _, set := req.Header[name]; !set {
			req.Header.Set(name, value)
		}
	}
	client := &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:    &tls.Config{InsecureSkipVerify: true}, // kubelet does not verify probe targets
			DisableKeepAlives:  true,
			DisableCompression: true,
			Proxy:              nil,
		},
		CheckRedirect: sameHostRedirects,
	}
	resp, err := client.Do(req)
	if err != nil {
		return failure, err.Error(), nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return failure, "", fmt.Errorf("reading probe response: %w", err)
	}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return warning, fmt.Sprintf("Probe terminated redirects, Response body: %v", string(b)), nil
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return success, string(b), nil
	}
	return failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode), nil
}

// sameHostRedirects follows redirects to the probed host only, at most 10,
// as kubelet does.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

func (t target) runTCP(ctx context.Context, s *corev1.TCPSocketAction) (outcome, string, error) {
	port, err := t.resolvePort(s.Port)
	if err != nil {
		return failure, "", err
	}
	host := s.Host
	if host == "" {
		host = t.podIP
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return failure, err.Error(), nil
	}
	conn.Close()
	return success, "", nil
}

func (t target) runGRPC(ctx context.Context, g *corev1.GRPCAction, timeout time.Duration) (outcome, string, error) {
	if g.Port <= 0 || g.Port > 65535 {
		return failure, "", fmt.Errorf("invalid port number: %v", g.Port)
	}
	service := ""
	if g.Service != nil {
		service = *g.Service
	}
	addr := net.JoinHostPort(t.podIP, strconv.Itoa(int(g.Port)))
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUserAgent(userAgent),
	)
	if err != nil {
		return failure, fmt.Sprintf("error: failed to connect service at %q: %+v", addr, err), nil
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service}, grpc.WaitForReady(false))
	if err != nil {
		st, _ := status.FromError(err)
		switch st.Code() {
		case codes.Unimplemented:
			return failure, fmt.Sprintf("error: this server does not implement the grpc health protocol (grpc.health.v1.Health): %s", st.Message()), nil
		case codes.DeadlineExceeded:
			return failure, fmt.Sprintf("timeout: health rpc did not complete within %v", timeout), nil
		case codes.Unavailable:
			return failure, fmt.Sprintf("error: failed to connect service at %q: %s", addr, st.Message()), nil
		}
		return failure, fmt.Sprintf("error: health rpc probe failed: %+v", err), nil
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return failure, fmt.Sprintf("service unhealthy (responded with %q)", resp.GetStatus().String()), nil
	}
	return success, "service healthy", nil
}
