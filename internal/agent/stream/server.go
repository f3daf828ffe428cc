package stream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"berth.dev/berth/internal/metrics"
)

// DefaultPort is kubelet's port, which the API server dials.
const DefaultPort = 10250

// APIServerUser is the common name of the API server's client certificate,
// the only client accepted by default.
const APIServerUser = "system:apiserver"

// Container is a container of a pod on this node, as Config.Lookup finds it.
type Container struct {
	PodUID types.UID
	// Name is the container's name in the pod spec; "" for port forwarding,
	// which addresses the pod.
	Name string
	// ID is the runtime's ID of the container's current instance; "" if it
	// has none.
	ID string
	// Running reports whether that instance is running now.
	Running bool
}

// TermSize is a terminal's size in characters.
type TermSize struct {
	Width, Height uint16
}

// Streams connects a process to a client. Nil members are not requested.
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Resize delivers terminal sizes, for sessions with a TTY; it is closed
	// when the client stops sending them.
	Resize <-chan TermSize
}

// ErrNotFound is what Config.Lookup returns for a pod or container that is
// not on this node.
var ErrNotFound = errors.New("not found")

// Config is a node's streaming server.
type Config struct {
	// Addr is the address to listen on; default ":10250".
	Addr string
	// Certificate returns the node's serving certificate, for each TLS
	// handshake (so that a renewed certificate is picked up).
	Certificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// ClientCAs verifies client certificates: the cluster CA.
	ClientCAs *x509.CertPool
	// AllowedUsers are the client certificate common names served; default
	// APIServerUser.
	AllowedUsers []string

	// Lookup finds a container (Name "" for the pod itself) or returns
	// ErrNotFound.
	Lookup func(namespace, pod, container string) (Container, error)
	// Exec runs cmd in c until it exits and returns its exit code. An error
	// means it could not be run.
	Exec func(ctx context.Context, c Container, cmd []string, tty bool, s Streams) (exitCode int, err error)
	// Attach connects s to c's stdio until its output ends or ctx ends.
	Attach func(ctx context.Context, c Container, tty bool, s Streams) error
	// LogPaths returns the CRI log file of a container's current instance
	// and of its last terminated one (kubectl logs --previous); "" where
	// there is none.
	LogPaths func(podUID types.UID, container string) (current, previous string)
	// DialPod connects to port on the pod's loopback, from inside the pod's
	// network namespace.
	DialPod func(ctx context.Context, podUID types.UID, port uint16) (net.Conn, error)
	// ResourceMetrics, if set, is served at /metrics/resource (in
	// internal/metrics' text format) for the API server's metrics
	// collector.
	ResourceMetrics func(ctx context.Context) (metrics.Scrape, error)

	// StreamCreationTimeout bounds how long a client may take to open its
	// streams; default 30s.
	StreamCreationTimeout time.Duration
	// IdleTimeout closes streaming connections idle this long; default 4h,
	// as kubelet's streamingConnectionIdleTimeout.
	IdleTimeout time.Duration
	// Clock paces log following; default the real clock.
	Clock clock.Clock
	Log   *slog.Logger
}

// StaticCertificate is a Config.Certificate that always serves c.
func StaticCertificate(c tls.Certificate) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &c, nil }
}

// Server serves kubelet's streaming paths to the API server.
type Server struct {
	cfg     Config
	handler http.Handler
	// libraryLog receives what the streaming libraries log through the
	// request's context: the server's log at debug level, since they
	// report a client closing its connection as an error.
	libraryLog logr.Logger
}

// debugHandler logs every record at debug level.
type debugHandler struct{ slog.Handler }

func (h debugHandler) Enabled(ctx context.Context, _ slog.Level) bool {
	return h.Handler.Enabled(ctx, slog.LevelDebug)
}

func (h debugHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return h.Handler.Handle(ctx, r)
}

func (h debugHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return debugHandler{h.Handler.WithAttrs(as)}
}

func (h debugHandler) WithGroup(name string) slog.Handler {
	return debugHandler{h.Handler.WithGroup(name)}
}

// New checks cfg and fills its defaults.
func New(cfg Config) (*Server, error) {
	if cfg.Lookup == nil || cfg.Exec == nil || cfg.Attach == nil || cfg.LogPaths == nil || cfg.DialPod == nil {
		return nil, errors.New("stream: Lookup, Exec, Attach, LogPaths and DialPod are required")
	}
	if cfg.ClientCAs == nil || cfg.Certificate == nil {
		return nil, errors.New("stream: Certificate and ClientCAs are required")
	}
	if cfg.Addr == "" {
		cfg.Addr = fmt.Sprintf(":%d", DefaultPort)
	}
	if len(cfg.AllowedUsers) == 0 {
		cfg.AllowedUsers = []string{APIServerUser}
	}
	if cfg.StreamCreationTimeout == 0 {
		cfg.StreamCreationTimeout = 30 * time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 4 * time.Hour
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.Log = cfg.Log.With("component", "stream")
	s := &Server{cfg: cfg, libraryLog: logr.FromSlogHandler(debugHandler{cfg.Log.Handler()})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.serveLogs)
	for _, m := range []string{"GET", "POST"} {
		mux.HandleFunc(m+" /exec/{namespace}/{pod}/{container}", s.serveExec)
		mux.HandleFunc(m+" /attach/{namespace}/{pod}/{container}", s.serveAttach)
		mux.HandleFunc(m+" /portForward/{namespace}/{pod}", s.servePortForward)
	}
	if cfg.ResourceMetrics != nil {
		mux.HandleFunc("GET "+metrics.ResourcePath, s.serveResourceMetrics)
	}
	s.handler = s.authenticate(mux)
	return s, nil
}

// serveResourceMetrics writes the node's current usage.
func (s *Server) serveResourceMetrics(w http.ResponseWriter, r *http.Request) {
	scrape, err := s.cfg.ResourceMetrics(r.Context())
	if err != nil {
		s.cfg.Log.Warn("reading resource metrics", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", metrics.TextContentType)
	if err := metrics.WriteText(w, scrape); err != nil {
		s.cfg.Log.Debug("writing resource metrics", "err", err)
	}
}

// authenticate serves only verified clients whose certificate names an
// allowed user.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		user := r.TLS.VerifiedChains[0][0].Subject.CommonName
		if !slices.Contains(s.cfg.AllowedUsers, user) {
			http.Error(w, fmt.Sprintf("Forbidden (user=%s, path=%s)", user, r.URL.Path), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r.WithContext(klog.NewContext(r.Context(), s.libraryLog)))
	})
}

// TLSConfig is the server's TLS configuration: its certificate, and client
// certificates required and verified against the cluster CA.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: s.cfg.Certificate,
		ClientAuth:     tls.RequireAndVerifyClientCert,
		ClientCAs:      s.cfg.ClientCAs,
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"http/1.1"},
	}
}

// Run listens on Config.Addr and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening for streams: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln, with TLS, until ctx ends; it closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.TLSConfig(),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.cfg.Log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		srv.Close()
	}()
	err := srv.ServeTLS(ln, "", "")
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("serving streams: %w", err)
}

// lookup finds the container a request names, writing kubelet's error if
// there is none.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, container string) (Container, bool) {
	ns, pod := r.PathValue("namespace"), r.PathValue("pod")
	c, err := s.cfg.Lookup(ns, pod, container)
	switch {
	case errors.Is(err, ErrNotFound) && container == "":
		http.Error(w, fmt.Sprintf("pod %q not found", ns+"/"+pod), http.StatusNotFound)
		return c, false
	case errors.Is(err, ErrNotFound):
		http.Error(w, fmt.Sprintf("container %q in pod %q not found", container, ns+"/"+pod), http.StatusNotFound)
		return c, false
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return c, false
	}
	return c, true
}
