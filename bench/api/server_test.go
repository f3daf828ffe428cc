package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"berth.dev/berth/internal/apiserver"
	"berth.dev/berth/internal/audit"
	"berth.dev/berth/internal/auth"
	"berth.dev/berth/internal/auth/pki"
	"berth.dev/berth/internal/encryption"
	"berth.dev/berth/internal/openapi"
	"berth.dev/berth/internal/registry"
	"berth.dev/berth/internal/store/bolt"
)

// namespace is where the benchmarks put their objects; the server creates
// it at start.
const namespace = "default"

// workers is the number of concurrent clients of the parallel benchmarks.
const workers = 32

// encoding is how a client encodes requests and what it accepts.
type encoding struct {
	name        string
	contentType string
	accept      string
}

var (
	protobufEncoding = encoding{
		name:        "protobuf",
		contentType: "application/vnd.kubernetes.protobuf",
		accept:      "application/vnd.kubernetes.protobuf,application/json",
	}
	jsonEncoding = encoding{
		name:        "json",
		contentType: "application/json",
		accept:      "application/json",
	}
	encodings = []encoding{protobufEncoding, jsonEncoding}
)

// startServer runs an API server as `berth server` wires it (x509
// authentication, system:masters authorization, OpenAPI and managedFields,
// the default audit policy into a log file, Secrets encrypted)
// on a loopback port, with a bolt store in a temporary directory, and
// returns an admin client configuration for it. The server is stopped
// when b ends.
func startServer(b *testing.B) *rest.Config {
	b.Helper()
	dir := b.TempDir()
	keys, err := pki.Ensure(pki.Config{Dir: filepath.Join(dir, "pki")})
	if err != nil {
		b.Fatal(err)
	}
	st, err := bolt.New(bolt.Config{Path: filepath.Join(dir, "state.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := st.Close(); err != nil {
			b.Errorf("closing store: %v", err)
		}
	})
	docs, err := openapi.New(openapi.Config{Resources: registry.Builtin()})
	if err != nil {
		b.Fatal(err)
	}
	types, err := managedfields.NewTypeConverter(docs.Models(), false)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	// Audited and encrypted as berth server is by default.
	auditLog, err := audit.NewLogSink(audit.LogConfig{Path: filepath.Join(dir, "audit", "audit.log"), MaxSize: 100 << 20, MaxBackups: 10})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { auditLog.Close() })
	encCfg, err := encryption.Ensure(filepath.Join(dir, "encryption-config.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	encrypted, err := encryption.NewStore(st, encCfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	api, err := apiserver.New(apiserver.Config{
		Store:          encrypted,
		Audit:          audit.New(audit.Config{Sinks: []audit.Sink{auditLog}}),
		Resources:      registry.Builtin(),
		Authenticators: []auth.Authenticator{&auth.X509{Roots: keys.CAPool()}},
		Authorizers:    []auth.Authorizer{auth.Masters{}},
		OpenAPI:        docs,
		TypeConverter:  types,
		// Where the kubernetes Service's Endpoints point. Endpoints may not
		// be loopback, and nothing is sent there: TEST-NET-1 will do.
		AdvertiseAddress: netip.MustParseAddr("192.0.2.1"),
		Port:             ln.Addr().(*net.TCPAddr).Port,
	})
	if err != nil {
		ln.Close()
		b.Fatal(err)
	}
	srv := &http.Server{
		Handler:           api.Handler(),
		TLSConfig:         keys.ServingTLSConfig(),
		ReadHeaderTimeout: 30 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	var runErr error
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		runErr = api.Run(ctx)
	}()
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.ServeTLS(ln, "", "") }()
	b.Cleanup(func() {
		cancel()
		srv.Close()
		<-runDone
		if runErr != nil {
			b.Errorf("api server: %v", runErr)
		}
		if err := <-serveDone; err != http.ErrServerClosed {
			b.Errorf("serving: %v", err)
		}
	})

	ready := time.NewTicker(5 * time.Millisecond)
	defer ready.Stop()
	deadline := time.After(30 * time.Second)
	for !api.Ready() {
		select {
		case <-runDone:
			b.Fatal("api server stopped before it was ready")
		case <-deadline:
			b.Fatal("api server not ready after 30s")
		case <-ready.C:
		}
	}
	certPEM, keyPEM := keys.AdminCert()
	return &rest.Config{
		Host: "https://" + ln.Addr().String(),
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   keys.CAPEM(),
			CertData: certPEM,
			KeyData:  keyPEM,
		},
		// No client-side rate limit: the server is what is measured.
		QPS: -1,
		// Loopback only, whatever the environment says; a Proxy function
		// also gives each client its own transport and connection.
		Proxy: func(*http.Request) (*url.URL, error) { return nil, nil },
	}
}

// newClient returns a clientset on its own HTTP/2 connection that speaks
// enc.
func newClient(b *testing.B, cfg *rest.Config, enc encoding) *kubernetes.Clientset {
	b.Helper()
	c := rest.CopyConfig(cfg)
	c.ContentType = enc.contentType
	c.AcceptContentTypes = enc.accept
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		b.Fatal(err)
	}
	return cs
}

// setParallelism makes b.RunParallel use about workers goroutines.
func setParallelism(b *testing.B) {
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((workers + procs - 1) / procs)
}

// reportRate reports n operations over the benchmark's elapsed time as unit.
func reportRate(b *testing.B, n int, unit string) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(n)/s, unit)
	}
}

// reportPercentiles reports the 50th and 99th percentiles of d in
// milliseconds as p50-ms and p99-ms.
func reportPercentiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	at := func(p float64) float64 {
		i := int(p * float64(len(d)-1))
		return float64(d[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// newConfigMap returns a small ConfigMap: about 200 bytes of JSON.
func newConfigMap(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: map[string]string{"app": "bench"},
		},
		Data: map[string]string{
			"config.yaml": "listen: :8080\nlog-level: info\nupstreams:\n  - http://backend-0:9000\n  - http://backend-1:9000\n",
			"mode":        "production",
		},
	}
}

// newPod returns a pod as a Deployment's ReplicaSet would create it: owner
// reference, template labels, one container with ports, environment,
// resources and a readiness probe: about 1 KB of JSON.
func newPod(name string) *corev1.Pod {
	yes := true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:         name,
			GenerateName: "web-7d4b9c8f6d-",
			Labels: map[string]string{
				"app":               "web",
				"pod-template-hash": "7d4b9c8f6d",
				"tier":              "frontend",
			},
			Annotations: map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         "apps/v1",
				Kind:               "ReplicaSet",
				Name:               "web-7d4b9c8f6d",
				UID:                "0b6c1a52-4a8e-4a4e-9a55-1f1b0c7c2a11",
				Controller:         &yes,
				BlockOwnerDeletion: &yes,
			}},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  "web",
				Image: "registry.example/web:1.27.3",
				Args:  []string{"--listen=:8080", "--metrics=:9090"},
				Ports: []corev1.ContainerPort{
					{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
					{Name: "metrics", ContainerPort: 9090, Protocol: corev1.ProtocolTCP},
				},
				Env: []corev1.EnvVar{
					{Name: "LOG_LEVEL", Value: "info"},
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{
						corev1.ResourceCPU:    resource.MustParse("100m"),
						corev1.ResourceMemory: resource.MustParse("128Mi"),
					},
					Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
				},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
					PeriodSeconds: 5,
				},
			}},
			NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
		},
	}
}

// createPods creates n pods named prefix-0 … prefix-(n-1) from workers
// goroutines.
func createPods(ctx context.Context, b *testing.B, cs *kubernetes.Clientset, prefix string, n int) {
	b.Helper()
	next := make(chan int)
	errs := make(chan error, workers)
	for range workers {
		go func() {
			for i := range next {
				if _, err := cs.CoreV1().Pods(namespace).Create(ctx, newPod(fmt.Sprintf("%s-%d", prefix, i)), metav1.CreateOptions{}); err != nil {
					errs <- err
					for range next {
					}
					return
				}
			}
			errs <- nil
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	for range workers {
		if err := <-errs; err != nil {
			b.Fatalf("preloading pods: %v", err)
		}
	}
}
