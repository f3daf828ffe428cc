// Package apiservertest runs a complete berth API server in-process for
// the tests of its clients (controllers, scheduler, agent): TLS with a
// cluster CA, client certificates, a bolt store in a temporary directory.
package apiservertest

import (
	"context"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"berth.dev/berth/internal/apiserver"
	"berth.dev/berth/internal/auth/pki"
	"berth.dev/berth/internal/encryption"
	"berth.dev/berth/internal/store"
	"berth.dev/berth/internal/store/bolt"
)

// Server is a running API server.
type Server struct {
	// Admin is a client configuration for the admin user (system:masters).
	Admin *rest.Config
	// PKI is the cluster's key material, to issue more client certificates.
	PKI *pki.PKI
	// Store is the server's store, below the encryption of Secrets.
	Store *bolt.Store
	// StorePath is the store's bbolt file.
	StorePath string

	stop func()
}

// Stop stops the server and closes its store before the test ends, so
// that the test can read the store's file. The test's end calls it too.
func (s *Server) Stop() { s.stop() }

// Start starts a server that stops when t ends, and waits until it is
// ready. Each configure function may change the server's configuration
// (add authorizers, admission plugins...) before it is built.
func Start(t testing.TB, configure ...func(*apiserver.Config)) *Server {
	t.Helper()
	dir := t.TempDir()
	keys, err := pki.Ensure(pki.Config{Dir: filepath.Join(dir, "pki")})
	if err != nil {
		t.Fatalf("pki.Ensure: %v", err)
	}
	storePath := filepath.Join(dir, "state.db")
	st, err := bolt.New(bolt.Config{Path: storePath})
	if err != nil {
		t.Fatalf("bolt.New: %v", err)
	}
	// Secrets are encrypted at rest, as berth server does by default.
	encrypted, err := encryptedStore(st)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	cfg, err := apiserver.NewConfig(encrypted, keys, apiserver.Options{})
	if err != nil {
		st.Close()
		t.Fatalf("apiserver.NewConfig: %v", err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The kubernetes Service's endpoint: a documentation address, never dialled.
	cfg.AdvertiseAddress, cfg.Port = netip.MustParseAddr("192.0.2.10"), 6443
	for _, c := range configure {
		c(&cfg)
	}
	api, err := apiserver.New(cfg)
	if err != nil {
		st.Close()
		t.Fatalf("apiserver.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- api.Run(ctx) }()
	srv := httptest.NewUnstartedServer(api.Handler())
	srv.EnableHTTP2 = true
	srv.TLS = keys.ServingTLSConfig()
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	stop := sync.OnceFunc(func() {
		cancel()
		srv.CloseClientConnections()
		srv.Close()
		if err := <-runDone; err != nil {
			t.Errorf("apiserver Run: %v", err)
		}
		st.Close()
	})
	t.Cleanup(stop)
	certPEM, keyPEM := keys.AdminCert()
	admin := &rest.Config{
		Host: srv.URL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: keys.CAPEM(), CertData: certPEM, KeyData: keyPEM, ServerName: "127.0.0.1",
		},
		QPS: -1,
	}
	deadline := time.Now().Add(20 * time.Second)
	for !api.Ready() {
		select {
		case err := <-runDone:
			t.Fatalf("apiserver stopped before it was ready: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("apiserver not ready within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return &Server{Admin: admin, PKI: keys, Store: st, StorePath: storePath, stop: stop}
}

// encryptedStore wraps st with a generated encryption configuration.
func encryptedStore(st store.Store) (store.Store, error) {
	data, err := encryption.Generate()
	if err != nil {
		return nil, err
	}
	c, err := encryption.Parse(data)
	if err != nil {
		return nil, err
	}
	return encryption.NewStore(st, c, nil)
}
