package network_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"berth.dev/berth/internal/agent/network"
	"berth.dev/berth/internal/agent/runtime"
	"berth.dev/berth/internal/agent/runtime/runtimetest"
)

// TestPodsLeaveTheClusterMasqueraded connects a pod to a listener in a
// namespace of the test's own ("outside", 192.0.2.2, reached from the node
// through a veth pair with 192.0.2.1): it answers only if the pod's
// connection arrives from the node's address, which the outside has a
// route to, and tells which address that was.
func TestPodsLeaveTheClusterMasqueraded(t *testing.T) {
	need(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft (apt-get install nftables)")
	}
	n := newNode(t)
	rt := runtimetest.New(t, runtimetest.Config(t))
	nw := newNetwork(t, n, t.TempDir())
	ctx := context.Background()

	outside := fmt.Sprintf("berth-test-out-%d", os.Getpid())
	ip := func(args ...string) error {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := ip("netns", "add", outside); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ip("netns", "del", outside) })
	var err error
	n.do(func() {
		for _, args := range [][]string{
			{"link", "add", "bo0", "type", "veth", "peer", "name", "bo1", "netns", outside},
			{"addr", "add", "192.0.2.1/24", "dev", "bo0"},
			{"link", "set", "bo0", "up"},
			{"-n", outside, "addr", "add", "192.0.2.2/24", "dev", "bo1"},
			{"-n", outside, "link", "set", "bo1", "up"},
		} {
			if err = ip(args...); err != nil {
				return
			}
		}
		err = nw.InstallMasquerade(ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
	ln := listenIn(t, "/run/netns/"+outside, "192.0.2.2:8080")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			fmt.Fprintln(c, "from", host)
			c.Close()
		}
	}()

	s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "pod-m", Name: "m", Namespace: "default", UID: "uid-m"})
	n.do(func() {
		_, err = nw.Setup(ctx, network.Pod{ID: s.Config.ID, Namespace: "default", Name: "m", UID: "uid-m", NetNS: s.NetNSPath()})
	})
	if err != nil {
		t.Fatal(err)
	}
	client := runtimetest.Container(t, "client", runtimetest.Rootfs(t), "sh", "-c", "for i in $(seq 50); do nc 192.0.2.2 8080 && exit 0; sleep 0.1; done; exit 1")
	c, recs := runtimetest.Run(t, rt, s, client)
	if diff := cmp.Diff([]string{"from 192.0.2.1"}, runtimetest.Stdout(recs)); diff != "" || c.ExitCode != 0 {
		t.Errorf("pod to outside: exit %d, output (-want +got):\n%s\nall: %v", c.ExitCode, diff, recs)
	}
	if err := rt.Delete(ctx, "client"); err != nil {
		t.Fatal(err)
	}

	// No per-pod iptables chain: the node's one table does it.
	n.do(func() {
		out, err := iptablesSave()
		if err != nil {
			t.Error(err)
		} else if strings.Contains(out, "MASQUERADE") {
			t.Errorf("per-pod masquerade rules in iptables:\n%s", out)
		}
		if err := nw.RemoveMasquerade(ctx); err != nil {
			t.Error(err)
		}
		if err := nw.RemoveMasquerade(ctx); err != nil {
			t.Errorf("removing a removed table: %v", err)
		}
		out, err = nftListTables()
		if err != nil || strings.Contains(out, "masquerade") {
			t.Errorf("tables after RemoveMasquerade: %q, %v", out, err)
		}
	})
}

// listenIn listens on addr inside the network namespace at nsPath.
func listenIn(t *testing.T, nsPath, addr string) net.Listener {
	t.Helper()
	type result struct {
		ln  net.Listener
		err error
	}
	done := make(chan result)
	go func() {
		// The thread is left to end with the goroutine, never returned to
		// the pool in the other namespace.
		goruntime.LockOSThread()
		ns, err := os.Open(nsPath)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: err}
			return
		}
		ln, err := net.Listen("tcp", addr)
		done <- result{ln, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatalf("listening in %s: %v", nsPath, r.err)
	}
	t.Cleanup(func() { r.ln.Close() })
	return r.ln
}

// nftListTables lists the calling thread's namespace's nftables tables.
func nftListTables() (string, error) {
	out, err := exec.Command("nft", "list", "tables").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("nft list tables: %w: %s", err, out)
	}
	return string(out), nil
}
