package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"berth.dev/berth/internal/admission/podsecurity"
	"berth.dev/berth/internal/agent/stream"
	"berth.dev/berth/internal/apiserver"
	"berth.dev/berth/internal/auth/pki"
	"berth.dev/berth/internal/auth/rbac"
	"berth.dev/berth/internal/encryption"
	"berth.dev/berth/internal/store"
	"berth.dev/berth/internal/store/bolt"
	"berth.dev/berth/internal/store/etcd"
)

// serverOptions are the flags of `berth server`.
type serverOptions struct {
	dataDir      string
	bindAddress  string
	httpsPort    int
	disableAgent bool
	nodeName     string
	kubeletPort  int
	// insecureRegistries may be pulled from over plain HTTP.
	insecureRegistries []string
	datastore          string
	logLevel           string
	serviceCIDR        netip.Prefix
	clusterCIDR        netip.Prefix
	advertise          string
	etcdCA             string
	etcdCert           string
	etcdKey            string
	podSecurity        string
	// nodeGrace is how long a node may stay silent before it is Unknown.
	nodeGrace time.Duration
	authn     authnOptions
	// encryptionConfig is the EncryptionConfiguration file; empty means
	// <data-dir>/encryption-config.yaml, generated on first start.
	encryptionConfig string
	audit            auditOptions
	// metricResolution is how often nodes' resource metrics are scraped.
	metricResolution time.Duration
}

func serverCommand() *cobra.Command {
	o := serverOptions{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane (API server) and this machine's node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.audit.logPathSet = cmd.Flags().Changed("audit-log-path")
			return runServer(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.audit.policyFile, "audit-policy-file", "", "audit.k8s.io/v1 Policy file (default: Metadata for every request but health checks, no bodies of Secrets, ConfigMaps and TokenReviews)")
	f.StringVar(&o.audit.logPath, "audit-log-path", "", `audit log file, JSON lines (default <data-dir>/audit/audit.log); "-" writes to stdout, an explicitly empty value ("") turns the audit log off`)
	f.IntVar(&o.audit.logMaxSizeMB, "audit-log-maxsize", 100, "size in megabytes at which the audit log is rotated (0: never)")
	f.IntVar(&o.audit.logMaxAgeDays, "audit-log-maxage", 30, "days rotated audit logs are kept (0: no limit)")
	f.IntVar(&o.audit.logMaxBackups, "audit-log-maxbackup", 10, "rotated audit logs kept (0: no limit)")
	f.StringVar(&o.audit.webhookConfig, "audit-webhook-config-file", "", "kubeconfig file of a webhook that receives audit events in batches (EventList)")
	f.DurationVar(&o.audit.webhookBackoff, "audit-webhook-initial-backoff", 10*time.Second, "wait before retrying a failed audit webhook request, doubled on each retry")
	f.StringVar(&o.dataDir, "data-dir", "/var/lib/berth", "directory for state, certificates and the admin kubeconfig")
	f.StringVar(&o.bindAddress, "bind-address", "0.0.0.0", "address the API server listens on")
	f.IntVar(&o.httpsPort, "https-port", 6443, "port the API server listens on (0 picks a free one)")
	f.BoolVar(&o.disableAgent, "disable-agent", false, "do not run a node agent in this process")
	f.StringVar(&o.nodeName, "node-name", "", "name of this machine's Node (default: the hostname)")
	f.StringSliceVar(&o.insecureRegistries, "insecure-registry", nil, insecureRegistryHelp)
	f.IntVar(&o.kubeletPort, "kubelet-port", stream.DefaultPort, "port of the node's streaming server for kubectl logs, exec, attach and port-forward, which the API server connects to (0 picks a free one)")
	f.StringVar(&o.datastore, "datastore", "", "where state lives: empty for the embedded store in --data-dir, or etcd://host:port[,host:port...]")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.etcdCA, "datastore-cafile", "", "CA bundle to verify the etcd servers (turns on TLS)")
	f.StringVar(&o.etcdCert, "datastore-certfile", "", "client certificate for etcd")
	f.StringVar(&o.etcdKey, "datastore-keyfile", "", "client key for etcd")
	o.clusterCIDR, o.serviceCIDR = defaultClusterCIDR, defaultServiceCIDR
	f.Var(prefixValue{&o.clusterCIDR}, "cluster-cidr", "range of pod addresses; each Node gets a /24 of it")
	f.Var(prefixValue{&o.serviceCIDR}, "service-cidr", "range of Service ClusterIPs; its first address is the kubernetes Service's")
	f.StringVar(&o.podSecurity, "pod-security-config", "", "upstream PodSecurityConfiguration file (default: enforce baseline, warn and audit restricted, kube-system exempt)")
	f.StringVar(&o.encryptionConfig, "encryption-provider-config", "", "EncryptionConfiguration file (apiserver.config.k8s.io/v1) saying how resources are encrypted at rest (default: <data-dir>/encryption-config.yaml, generated on first start to encrypt Secrets with aescbc)")
	f.StringVar(&o.advertise, "advertise-address", "", "address pods reach the API server at (default: this machine's first global IPv4 address)")
	f.DurationVar(&o.nodeGrace, "node-monitor-grace-period", 40*time.Second, "how long a node may go without renewing its Lease before it is Unknown and its pods are evicted")
	_ = f.MarkHidden("node-monitor-grace-period") // for tests
	f.DurationVar(&o.metricResolution, "metric-resolution", 15*time.Second, "how often the nodes' resource metrics (kubectl top, HorizontalPodAutoscalers) are scraped")
	o.authn.addFlags(f)
	return cmd
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func runServer(ctx context.Context, o serverOptions) error {
	log, err := newLogger(o.logLevel)
	if err != nil {
		return err
	}
	// client-go logs through klog: send it to the same place.
	klog.SetSlogLogger(log)
	if o.nodeGrace <= 0 {
		return fmt.Errorf("--node-monitor-grace-period %v: must be positive", o.nodeGrace)
	}
	if o.metricResolution <= 0 {
		return fmt.Errorf("--metric-resolution %v: must be positive", o.metricResolution)
	}
	if o.httpsPort < 0 || o.httpsPort > 65535 {
		return fmt.Errorf("--https-port %d: out of range", o.httpsPort)
	}
	bind := net.ParseIP(o.bindAddress)
	if bind == nil {
		return fmt.Errorf("--bind-address %q: not an IP address", o.bindAddress)
	}
	advertise, err := advertiseAddress(o.advertise)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		return fmt.Errorf("creating data dir: %w", err)
	}
	if err := os.Chmod(o.dataDir, 0o700); err != nil {
		return fmt.Errorf("securing data dir: %w", err)
	}
	keys, err := pki.Ensure(pki.Config{Dir: filepath.Join(o.dataDir, "pki"), Logger: log})
	if err != nil {
		return err
	}
	st, err := openStore(ctx, o, log)
	if err != nil {
		return err
	}
	defer st.Close()
	encrypted, err := encryptStore(st, o, log)
	if err != nil {
		return err
	}

	auditCtx, stopAuditing := context.WithCancel(context.WithoutCancel(ctx))
	auditing, err := startAudit(auditCtx, o.audit, o.dataDir, log)
	if err != nil {
		stopAuditing()
		return err
	}
	// After the HTTP server has shut down: no request is recorded any more.
	defer auditing.stop()
	defer stopAuditing()

	ln, err := net.Listen("tcp", net.JoinHostPort(bind.String(), strconv.Itoa(o.httpsPort)))
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	serverURL := "https://" + net.JoinHostPort(loopbackFor(bind), strconv.Itoa(port))
	opts := apiserver.Options{Issuer: o.authn.issuer}
	if o.podSecurity != "" {
		if opts.PodSecurity, err = podsecurity.LoadConfiguration(o.podSecurity); err != nil {
			ln.Close()
			return fmt.Errorf("--pod-security-config: %w", err)
		}
	}
	cfg, err := apiserver.NewConfig(encrypted, keys, opts)
	if err != nil {
		ln.Close()
		return err
	}
	if err := o.authn.apply(&cfg); err != nil {
		ln.Close()
		return err
	}
	cfg.Logger, cfg.ServiceCIDR, cfg.AdvertiseAddress, cfg.Port = log, o.serviceCIDR, advertise, port
	cfg.Audit = auditing.auditor
	collector, err := newMetricsCollector(keys, serverURL, cfg.NodeTLS, o.metricResolution, log)
	if err != nil {
		ln.Close()
		return err
	}
	cfg.Metrics = collector
	api, err := apiserver.New(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	kubeconfig := filepath.Join(o.dataDir, "admin.kubeconfig")
	certPEM, keyPEM := keys.AdminCert()
	if err := pki.WriteKubeconfig(kubeconfig, serverURL, keys.CAPEM(), certPEM, keyPEM, "berth-admin"); err != nil {
		ln.Close()
		return err
	}

	srv := &http.Server{
		Handler:           api.Handler(),
		TLSConfig:         keys.ServingTLSConfig(),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	loopback, err := loopbackConfig(keys, serverURL, rbac.KubeControllerManager)
	if err != nil {
		ln.Close()
		return err
	}
	schedLoopback, err := loopbackConfig(keys, serverURL, rbac.KubeScheduler)
	if err != nil {
		ln.Close()
		return err
	}
	// The API serves until the controllers have stopped, however the
	// server is asked to stop.
	stopping := ctx
	ctx, cancel := context.WithCancel(context.WithoutCancel(stopping))
	defer cancel()
	apiDone := make(chan error, 1)
	go func() { apiDone <- api.Run(ctx) }()
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.ServeTLS(ln, "", "") }()
	metricsDone := make(chan struct{})
	go func() {
		defer close(metricsDone)
		if waitReady(ctx, api) {
			_ = collector.Run(ctx)
		}
	}()
	// Controllers stop first, while the API is still there to release
	// their Lease to another server.
	ctlCtx, stopControllers := context.WithCancel(stopping)
	ctlDone := make(chan struct{})
	go func() {
		defer close(ctlDone)
		if !waitReady(ctlCtx, api) {
			return
		}
		if err := runControllers(ctlCtx, loopback, keys, controllerSettings{nodeGrace: o.nodeGrace, tokens: cfg.ServiceAccountIssuer, scheduler: schedLoopback, dataDir: o.dataDir, clusterCIDR: o.clusterCIDR}, log.With("component", "controllers")); err != nil {
			log.Error("controllers failed", "err", err)
		}
	}()
	// The server's own machine is a node unless --disable-agent.
	agentDone := make(chan struct{})
	if local, err := newLocalAgent(o, keys, serverURL, advertise, log); err != nil || local == nil {
		close(agentDone)
		if err != nil {
			log.Warn("running without a node agent", "reason", err)
		}
	} else {
		go func() {
			defer close(agentDone)
			if !waitReady(ctlCtx, api) {
				return
			}
			if err := local.run(ctlCtx); err != nil {
				log.Warn("running without a node agent", "reason", err)
			}
		}()
	}
	log.Info("berth server listening", "url", serverURL, "kubeconfig", kubeconfig, "datastore", datastoreName(o))

	var runErr error
	select {
	case <-stopping.Done():
	case runErr = <-apiDone:
	case runErr = <-serveDone:
	}
	stopControllers()
	<-ctlDone
	<-agentDone
	cancel()
	<-metricsDone
	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	_ = srv.Shutdown(shutdownCtx)
	if runErr != nil && !errors.Is(runErr, http.ErrServerClosed) {
		return runErr
	}
	return nil
}

// waitReady waits until the API server is ready or ctx ends.
func waitReady(ctx context.Context, api *apiserver.Server) bool {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !api.Ready() {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}

// advertiseAddress parses flag, or picks this machine's first global
// unicast address, IPv4 before IPv6 (loopback when it has none).
func advertiseAddress(flag string) (netip.Addr, error) {
	if flag != "" {
		a, err := netip.ParseAddr(flag)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("--advertise-address: %w", err)
		}
		return a, nil
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return netip.Addr{}, err
	}
	var v6 netip.Addr
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			pfx, err := netip.ParsePrefix(a.String())
			if err != nil || !pfx.Addr().IsGlobalUnicast() {
				continue
			}
			if pfx.Addr().Is4() {
				return pfx.Addr(), nil
			}
			if !v6.IsValid() {
				v6 = pfx.Addr()
			}
		}
	}
	if v6.IsValid() {
		return v6, nil
	}
	return netip.MustParseAddr("127.0.0.1"), nil
}

// loopbackFor is the address the admin kubeconfig uses to reach a server
// bound to bind.
func loopbackFor(bind net.IP) string {
	switch {
	case bind.IsUnspecified() && bind.To4() == nil:
		return "::1"
	case bind.IsUnspecified():
		return "127.0.0.1"
	}
	return bind.String()
}

func datastoreName(o serverOptions) string {
	if o.datastore == "" {
		return "embedded"
	}
	return o.datastore
}

// encryptStore wraps st to encrypt what --encryption-provider-config says,
// or, without the flag, what the configuration in the data directory says
// (generated on first start).
func encryptStore(st store.Store, o serverOptions, log *slog.Logger) (store.Store, error) {
	var (
		c   *encryption.EncryptionConfiguration
		err error
	)
	if o.encryptionConfig != "" {
		c, err = encryption.Load(o.encryptionConfig)
	} else {
		c, err = encryption.Ensure(filepath.Join(o.dataDir, "encryption-config.yaml"))
	}
	if err != nil {
		return nil, err
	}
	return encryption.NewStore(st, c, log)
}

// openStore opens the datastore the flags name.
func openStore(ctx context.Context, o serverOptions, log *slog.Logger) (store.Store, error) {
	if o.datastore == "" {
		dir := filepath.Join(o.dataDir, "db")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("creating store dir: %w", err)
		}
		return bolt.New(bolt.Config{Path: filepath.Join(dir, "state.db"), Logger: log})
	}
	if rest, ok := strings.CutPrefix(o.datastore, "etcd://"); ok && rest != "" {
		return openEtcd(ctx, o, strings.Split(rest, ","), log)
	}
	return nil, fmt.Errorf("--datastore %q: want etcd://host:port[,host:port...]", o.datastore)
}

// openEtcd connects to an etcd cluster; with --datastore-cafile (and a
// client certificate) the connection uses TLS.
func openEtcd(ctx context.Context, o serverOptions, hosts []string, log *slog.Logger) (store.Store, error) {
	var tlsCfg *tls.Config
	scheme := "http://"
	if o.etcdCA != "" {
		ca, err := os.ReadFile(o.etcdCA)
		if err != nil {
			return nil, fmt.Errorf("--datastore-cafile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("--datastore-cafile %s: no certificates", o.etcdCA)
		}
		tlsCfg = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		if o.etcdCert != "" || o.etcdKey != "" {
			cert, err := tls.LoadX509KeyPair(o.etcdCert, o.etcdKey)
			if err != nil {
				return nil, fmt.Errorf("datastore client certificate: %w", err)
			}
			tlsCfg.Certificates = []tls.Certificate{cert}
		}
		scheme = "https://"
	}
	endpoints := make([]string, len(hosts))
	for i, h := range hosts {
		endpoints[i] = scheme + h
	}
	return etcd.New(ctx, etcd.Config{Endpoints: endpoints, TLS: tlsCfg, Logger: log})
}
