package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"berth.dev/berth/internal/auth/pki"
	"berth.dev/berth/internal/store"
	"berth.dev/berth/internal/store/bolt"
)

// testServer is a real API server running in-process: TLS with the
// cluster PKI, client certificates, a bolt store in a temporary directory
// and the built-in resources. Everything it starts ends in stop, which t's
// cleanup calls.
type testServer struct {
	api   *Server
	store *bolt.Store
	// reads counts the reads that reach the store.
	reads *countingStore
	pki   *pki.PKI
	url   string
	// admin is a client configuration for the admin user (system:masters).
	admin *rest.Config
	// http is an HTTP client with the admin certificate, for raw requests.
	http *http.Client
	// stop stops the server and closes the store; later calls do nothing.
	stop func()
}

// countingStore counts the Get and List calls that reach the store.
type countingStore struct {
	store.Store
	gets, lists atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, key string) (store.KeyValue, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

func (c *countingStore) List(ctx context.Context, prefix string, opts store.ListOptions) (store.ListResult, error) {
	c.lists.Add(1)
	return c.Store.List(ctx, prefix, opts)
}

// startTestServer starts a server on a new data directory.
func startTestServer(t *testing.T) *testServer {
	t.Helper()
	return startTestServerIn(t, t.TempDir())
}

// startTestServerIn starts a server whose PKI and store live in dir, which
// may hold those of a stopped server, and waits until /readyz answers 200.
func startTestServerIn(t *testing.T, dir string) *testServer {
	t.Helper()
	return startTestServerWithIn(t, dir, nil)
}

// startTestServerWith starts a server on a new data directory after
// configure has changed its configuration.
func startTestServerWith(t *testing.T, configure func(*Config)) *testServer {
	t.Helper()
	return startTestServerWithIn(t, t.TempDir(), configure)
}

func startTestServerWithIn(t *testing.T, dir string, configure func(*Config)) *testServer {
	t.Helper()
	keys, err := pki.Ensure(pki.Config{Dir: filepath.Join(dir, "pki")})
	if err != nil {
		t.Fatalf("pki.Ensure: %v", err)
	}
	st, err := bolt.New(bolt.Config{Path: filepath.Join(dir, "state.db")})
	if err != nil {
		t.Fatalf("bolt.New: %v", err)
	}
	reads := &countingStore{Store: st}
	// Configured as berth server configures it.
	cfg, err := NewConfig(reads, keys, Options{})
	if err != nil {
		st.Close()
		t.Fatalf("NewConfig: %v", err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The kubernetes Service's endpoint: a documentation address, never dialled.
	cfg.AdvertiseAddress, cfg.Port = netip.MustParseAddr("192.0.2.10"), 6443
	if configure != nil {
		configure(&cfg)
	}
	api, err := New(cfg)
	if err != nil {
		st.Close()
		t.Fatalf("apiserver.New: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	var runEnded atomic.Bool
	go func() {
		err := api.Run(ctx)
		runEnded.Store(true)
		runDone <- err
	}()

	srv := httptest.NewUnstartedServer(api.Handler())
	srv.EnableHTTP2 = true
	srv.TLS = keys.ServingTLSConfig()
	// Request contexts derive from ctx, so that cancelling it ends watches.
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()

	ts := &testServer{api: api, store: st, reads: reads, pki: keys, url: srv.URL}
	ts.stop = sync.OnceFunc(func() {
		cancel()
		srv.CloseClientConnections()
		srv.Close()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("closing store: %v", err)
		}
	})
	t.Cleanup(ts.stop)

	certPEM, keyPEM := keys.AdminCert()
	ts.admin = ts.config(certPEM, keyPEM)
	if ts.http, err = rest.HTTPClientFor(ts.admin); err != nil {
		t.Fatalf("admin HTTP client: %v", err)
	}

	// Wait for readiness anonymously, as a load balancer would.
	anonHTTP, err := rest.HTTPClientFor(ts.config(nil, nil))
	if err != nil {
		t.Fatalf("anonymous HTTP client: %v", err)
	}
	err = wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		if runEnded.Load() {
			return false, errors.New("Run returned before the server was ready")
		}
		resp, err := anonHTTP.Get(ts.url + "/readyz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("server not ready: %v", err)
	}
	return ts
}

// config returns a client configuration presenting the given client
// certificate (none when certPEM is nil).
func (ts *testServer) config(certPEM, keyPEM []byte) *rest.Config {
	return &rest.Config{
		Host:    ts.url,
		Timeout: 30 * time.Second,
		QPS:     -1, // no client-side rate limit
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   ts.pki.CAPEM(),
			CertData: certPEM,
			KeyData:  keyPEM,
		},
	}
}

// userConfig returns a client configuration for a user with a certificate
// from the cluster CA.
func (ts *testServer) userConfig(t *testing.T, name string, groups ...string) *rest.Config {
	t.Helper()
	certPEM, keyPEM, err := ts.pki.IssueClientCert(name, groups, time.Hour)
	if err != nil {
		t.Fatalf("IssueClientCert: %v", err)
	}
	return ts.config(certPEM, keyPEM)
}

// clientset returns a typed client for the admin user.
func (ts *testServer) clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(ts.admin)
	if err != nil {
		t.Fatalf("kubernetes.NewForConfig: %v", err)
	}
	return cs
}

// protoClientset returns a typed client for the admin user that sends and
// accepts protobuf.
func (ts *testServer) protoClientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	cfg := rest.CopyConfig(ts.admin)
	cfg.ContentType = mediaProtobuf
	cfg.AcceptContentTypes = mediaProtobuf
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("kubernetes.NewForConfig: %v", err)
	}
	return cs
}

// dynamic returns a dynamic client for the admin user.
func (ts *testServer) dynamic(t *testing.T) *dynamic.DynamicClient {
	t.Helper()
	dc, err := dynamic.NewForConfig(ts.admin)
	if err != nil {
		t.Fatalf("dynamic.NewForConfig: %v", err)
	}
	return dc
}

// namespace creates a namespace for one test.
func (ts *testServer) namespace(t *testing.T, name string) string {
	t.Helper()
	// Privileged: these tests count warnings, and Pod Security's default
	// restricted warning is not theirs to count.
	_, err := ts.clientset(t).CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			"pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/warn": "privileged", "pod-security.kubernetes.io/audit": "privileged",
		}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	return name
}

// rawResponse is the outcome of a raw request.
type rawResponse struct {
	code   int
	header http.Header
	body   []byte
}

// do sends a raw request as the admin user; header holds extra headers as
// name, value pairs.
func (ts *testServer) do(t *testing.T, method, path string, body []byte, header ...string) rawResponse {
	t.Helper()
	return doWith(t, ts.http, method, ts.url+path, body, header...)
}

func doWith(t *testing.T, c *http.Client, method, url string, body []byte, header ...string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return rawResponse{code: resp.StatusCode, header: resp.Header, body: b}
}

// wantStatus checks that err is an API error with the given code, reason
// and message.
func wantStatus(t *testing.T, err error, code int32, reason metav1.StatusReason, message string) metav1.Status {
	t.Helper()
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not an API status, want %d %s %q", err, err, code, reason, message)
	}
	st := se.Status()
	if st.Code != code || st.Reason != reason || st.Message != message {
		t.Errorf("status = %d %s %q, want %d %s %q", st.Code, st.Reason, st.Message, code, reason, message)
	}
	return st
}

// decodeStatus decodes a JSON Status response body.
func decodeStatus(t *testing.T, r rawResponse) metav1.Status {
	t.Helper()
	var st metav1.Status
	if err := json.Unmarshal(r.body, &st); err != nil {
		t.Fatalf("decoding Status from %d %q: %v", r.code, r.body, err)
	}
	if st.Kind != "Status" || st.APIVersion != "v1" {
		t.Errorf("Status body has kind %q apiVersion %q, want Status v1", st.Kind, st.APIVersion)
	}
	return st
}

// testDeployment returns a Deployment with one container "app".
func testDeployment(name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
			},
		},
	}
}

// testPod returns a Pod with one container "app".
func testPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
	}
}

// testConfigMap returns a ConfigMap with the given labels.
func testConfigMap(name string, labels map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Data:       map[string]string{"k": "v"},
	}
}
