package etcd

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"berth.dev/berth/internal/store"
	"berth.dev/berth/internal/store/storetest"
)

// startEtcd runs a one-member etcd on loopback for the test and returns its
// client URL once it answers.
func startEtcd(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd not on PATH (Debian: apt-get install etcd-server); skipping the etcd store tests")
	}
	client, peer := "http://"+freeAddr(t), "http://"+freeAddr(t)
	cmd := exec.Command(bin,
		"--name", "test",
		"--data-dir", filepath.Join(t.TempDir(), "etcd"),
		"--listen-client-urls", client,
		"--advertise-client-urls", client,
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", "test="+peer,
		"--logger", "zap",
	)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting etcd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("etcd output:\n%s", logs.String())
		}
	})

	// Wait until it serves, retrying New (its check reads a revision).
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		try, cancelTry := context.WithTimeout(ctx, time.Second)
		s, err := New(try, Config{Endpoints: []string{client}})
		cancelTry()
		if err == nil {
			s.Close()
			return client
		}
		select {
		case err := <-exited:
			t.Fatalf("etcd exited: %v\n%s", err, logs.String())
		case <-ctx.Done():
			t.Fatalf("etcd not serving before the deadline: %v\n%s", err, logs.String())
		case <-tick.C:
		}
	}
}

// freeAddr returns a loopback address with a port free at the time.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func newStore(t *testing.T, endpoint, prefix string) *Store {
	t.Helper()
	s, err := New(t.Context(), Config{Endpoints: []string{endpoint}, Prefix: prefix})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	endpoint := startEtcd(t)
	var n atomic.Int64
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store {
			return newStore(t, endpoint, fmt.Sprintf("/test%d", n.Add(1)))
		})
	})

	t.Run("Prefix", func(t *testing.T) {
		ctx := t.Context()
		a, b := newStore(t, endpoint, "/pa"), newStore(t, endpoint, "/pb")
		if _, err := a.Create(ctx, "/k", []byte("a")); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if _, err := b.Get(ctx, "/k"); err == nil {
			t.Fatal("a key written under one prefix is visible under another")
		}
		raw := newStore(t, endpoint, "")
		kv, err := raw.Get(ctx, "/pa/k")
		if err != nil || string(kv.Value) != "a" {
			t.Fatalf("Get of the prefixed key without prefix = %+v, %v", kv, err)
		}
		res, err := a.List(ctx, "", store.ListOptions{})
		if err != nil || len(res.Items) != 1 || res.Items[0].Key != "/k" {
			t.Fatalf("List of everything under the prefix = %+v, %v", res, err)
		}
	})

	t.Run("CloseEndsWatches", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		s := newStore(t, endpoint, "/close")
		cur, _, err := s.Revision(ctx)
		if err != nil {
			t.Fatalf("Revision: %v", err)
		}
		ch, err := s.Watch(ctx, "/", cur)
		if err != nil {
			t.Fatalf("Watch: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		for open := true; open; {
			select {
			case _, open = <-ch:
			case <-ctx.Done():
				t.Fatal("watch still open after Close")
			}
		}
		if _, err := s.Watch(ctx, "/", 0); err == nil {
			t.Fatal("Watch after Close succeeded")
		}
	})
}
