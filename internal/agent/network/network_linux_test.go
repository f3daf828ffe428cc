package network_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"berth.dev/berth/internal/agent/network"
	"berth.dev/berth/internal/agent/runtime"
	"berth.dev/berth/internal/agent/runtime/runtimetest"
)

func TestMain(m *testing.M) { runtimetest.Main(m) }

// node is a network namespace standing for the node: the test's bridge,
// routes and iptables rules live there and vanish with it, and nothing
// touches the host's network. Work in it runs on one locked OS thread,
// which returns to the host's namespace when the test ends.
type node struct {
	work chan func()
}

func newNode(t *testing.T) *node {
	t.Helper()
	n := &node{work: make(chan func())}
	ready := make(chan error, 1)
	ended := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			ready <- err
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- err
			return
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		ready <- err
		if err == nil {
			for f := range n.work {
				f()
			}
		}
		// Back to the host's namespace; a thread that cannot go back stays
		// locked and ends with this goroutine.
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			ended <- err
			return
		}
		goruntime.UnlockOSThread()
		ended <- nil
	}()
	if err := <-ready; err != nil {
		t.Fatalf("making the node's network namespace: %v", err)
	}
	t.Cleanup(func() {
		close(n.work)
		if err := <-ended; err != nil {
			t.Errorf("leaving the node's network namespace: %v", err)
		}
	})
	return n
}

// do runs f in the node's network namespace.
func (n *node) do(f func()) {
	done := make(chan struct{})
	n.work <- func() {
		defer close(done)
		f()
	}
	<-done
}

func need(t *testing.T) {
	runtimetest.Need(t)
	for _, p := range []string{"bridge", "host-local", "portmap", "loopback"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", p)); err != nil {
			t.Skipf("needs the CNI plugin %s (apt-get install containernetworking-plugins)", p)
		}
	}
	for _, bin := range []string{"iptables"} {
		if _, err := os.Stat("/usr/sbin/" + bin); err != nil {
			t.Skipf("needs %s for the bridge and portmap plugins", bin)
		}
	}
}

func newNetwork(t *testing.T, n *node, stateDir string) *network.Network {
	t.Helper()
	nw, err := network.New(network.Config{
		StateDir: stateDir,
		PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.42.0.0/24")},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Tear down whatever a failed test left attached, while the pods'
	// namespaces still exist (cleanups run last-registered first).
	t.Cleanup(func() {
		n.do(func() {
			ids, err := nw.Pods()
			if err != nil {
				t.Error(err)
			}
			for _, id := range ids {
				if err := nw.Teardown(context.Background(), id); err != nil {
					t.Error(err)
				}
			}
		})
	})
	return nw
}

func TestPodsReachEachOtherAndHostPort(t *testing.T) {
	need(t)
	n := newNode(t)
	rt := runtimetest.New(t, runtimetest.Config(t))
	stateDir := t.TempDir()
	nw := newNetwork(t, n, stateDir)
	ctx := context.Background()
	rootfs := runtimetest.Rootfs(t)

	var routeErr error
	n.do(func() { routeErr = nw.InstallRoutes() })
	if routeErr != nil {
		t.Fatal(routeErr)
	}

	pods := map[string]*runtime.Sandbox{}
	ips := map[string]netip.Addr{}
	for _, name := range []string{"a", "b"} {
		s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "pod-" + name, Name: name, Namespace: "default", UID: "uid-" + name})
		p := network.Pod{ID: s.Config.ID, Namespace: "default", Name: name, UID: "uid-" + name, NetNS: s.NetNSPath()}
		if name == "a" {
			p.Ports = []network.PortMapping{{HostPort: 18080, ContainerPort: 8080}}
		}
		var got []netip.Addr
		var err error
		n.do(func() { got, err = nw.Setup(ctx, p) })
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !netip.MustParsePrefix("10.42.0.0/24").Contains(got[0]) {
			t.Fatalf("pod %s addresses %v, want one in 10.42.0.0/24", name, got)
		}
		pods[name], ips[name] = s, got[0]
		if err := s.SetPodIPs([]string{got[0].String()}); err != nil {
			t.Fatal(err)
		}
	}
	if ips["a"] == ips["b"] {
		t.Fatalf("both pods got %s", ips["a"])
	}
	if got, ok, err := nw.PodIPs("pod-a"); err != nil || !ok || !slices.Equal(got, []netip.Addr{ips["a"]}) {
		t.Errorf("PodIPs(pod-a) = %v, %v, %v; want %v", got, ok, err, ips["a"])
	}

	// The node's own pod CIDR goes to the bridge; the rest of the cluster
	// and service CIDRs are unreachable.
	n.do(func() {
		r, err := netlink.RouteGet(ips["a"].AsSlice())
		if err != nil {
			t.Errorf("route to pod a: %v", err)
			return
		}
		br, err := netlink.LinkByName("berth0")
		if err != nil {
			t.Errorf("bridge: %v", err)
			return
		}
		if r[0].LinkIndex != br.Attrs().Index {
			t.Errorf("route to pod a goes to link %d, want berth0 (%d)", r[0].LinkIndex, br.Attrs().Index)
		}
		for _, dst := range []string{"10.42.7.1", "10.43.0.10"} {
			if _, err := netlink.RouteGet(net.ParseIP(dst)); !errors.Is(err, unix.EHOSTUNREACH) {
				t.Errorf("route to %s: %v, want unreachable", dst, err)
			}
		}
	})

	server := runtimetest.Container(t, "server", rootfs, "sh", "-c", "while true; do echo hello-from-a | nc -l -p 8080; done")
	runtimetest.Start(t, rt, pods["a"], server)
	client := runtimetest.Container(t, "client", rootfs, "sh", "-c", fmt.Sprintf(
		"ping -c 1 -W 5 %[1]s >/dev/null && echo ping ok; for i in $(seq 300); do nc %[1]s 8080 && exit 0; sleep 0.1; done; exit 1",
		ips["a"]))
	c, recs := runtimetest.Run(t, rt, pods["b"], client)
	if diff := cmp.Diff([]string{"ping ok", "hello-from-a"}, runtimetest.Stdout(recs)); diff != "" || c.ExitCode != 0 {
		t.Errorf("pod b to pod a: exit %d, output (-want +got):\n%s\nall: %v", c.ExitCode, diff, recs)
	}

	// hostPort 18080 on the node's loopback reaches pod a (portmap's SNAT
	// of localhost traffic).
	// So does the node's own address on the bridge (the gateway; the test
	// node has no other).
	for _, addr := range []string{"127.0.0.1:18080", "10.42.0.1:18080"} {
		var reply string
		var err error
		n.do(func() { reply, err = dialUntil(addr, 30*time.Second) })
		if err != nil || reply != "hello-from-a\n" {
			t.Errorf("hostPort on %s: %q, %v; want hello-from-a", addr, reply, err)
		}
	}

	// Tear down pod a by a new Network (an agent that restarted) while its
	// namespace exists, and pod b after its namespace is gone (as after a
	// reboot); each twice.
	if err := rt.Delete(ctx, "server"); err != nil {
		t.Fatal(err)
	}
	if err := rt.Delete(ctx, "client"); err != nil {
		t.Fatal(err)
	}
	restarted := newNetwork(t, n, stateDir)
	var errs []error
	n.do(func() {
		errs = append(errs, restarted.Teardown(ctx, "pod-a"), restarted.Teardown(ctx, "pod-a"))
	})
	errs = append(errs, rt.RemoveSandbox("pod-b"))
	n.do(func() {
		errs = append(errs, nw.Teardown(ctx, "pod-b"), nw.Teardown(ctx, "pod-b"))
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if ids, err := nw.Pods(); err != nil || len(ids) != 0 {
		t.Errorf("Pods after teardown = %v, %v; want none", ids, err)
	}
	// host-local keeps one file per allocated address.
	allocated, err := filepath.Glob(filepath.Join(stateDir, "ipam", "*", "10.*"))
	if err != nil || len(allocated) != 0 {
		t.Errorf("addresses still allocated after teardown: %v, %v", allocated, err)
	}
	// Nothing of pod a is left in the node's NAT table: no port mapping.
	n.do(func() {
		out, err := iptablesSave()
		if err != nil {
			t.Error(err)
			return
		}
		if strings.Contains(out, "18080") || strings.Contains(out, `id: \"pod-a\"`) {
			t.Errorf("pod a's rules left after teardown:\n%s", out)
		}
	})

	n.do(func() { routeErr = nw.RemoveRoutes() })
	if routeErr != nil {
		t.Fatal(routeErr)
	}
	n.do(func() {
		if _, err := netlink.RouteGet(net.ParseIP("10.43.0.10")); err == nil || errors.Is(err, unix.EHOSTUNREACH) {
			t.Errorf("route to 10.43.0.10 after RemoveRoutes: %v, want no route", err)
		}
	})
}

// dialUntil connects to addr until it answers or the time is up, and
// returns what it says.
func dialUntil(addr string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		b, err := dialOnce(addr)
		if err == nil && len(b) > 0 {
			return string(b), nil
		}
		if time.Now().After(deadline) {
			return string(b), fmt.Errorf("dialing %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func dialOnce(addr string) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return nil, err
	}
	return io.ReadAll(c)
}

// iptablesSave returns the calling thread's namespace's NAT rules.
func iptablesSave() (string, error) {
	out, err := exec.Command("iptables-save", "-t", "nat").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("iptables-save: %w: %s", err, out)
	}
	return string(out), nil
}

func TestDualStackAndFailedSetup(t *testing.T) {
	need(t)
	n := newNode(t)
	rt := runtimetest.New(t, runtimetest.Config(t))
	stateDir := t.TempDir()
	nw, err := network.New(network.Config{
		StateDir:     stateDir,
		PodCIDRs:     []netip.Prefix{netip.MustParsePrefix("10.42.0.0/24"), netip.MustParsePrefix("fd42::/64")},
		ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16"), netip.MustParsePrefix("fd42::/56")},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "dual", Name: "dual"})
	var ips []netip.Addr
	n.do(func() {
		if err = nw.InstallRoutes(); err == nil {
			ips, err = nw.Setup(ctx, network.Pod{ID: "dual", NetNS: s.NetNSPath()})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ips) != 2 || !ips[0].Is4() || !netip.MustParsePrefix("fd42::/64").Contains(ips[1]) {
		t.Errorf("addresses %v, want one IPv4 and one in fd42::/64", ips)
	}
	n.do(func() {
		// The pod's own /64 goes to the bridge, the rest of the /56 nowhere.
		if r, err := netlink.RouteGet(ips[1].AsSlice()); err != nil || len(r) == 0 || r[0].LinkIndex == 0 {
			t.Errorf("route to the pod's IPv6 address: %v, %v", r, err)
		}
		if _, err := netlink.RouteGet(net.ParseIP("fd42:0:0:7::1")); !errors.Is(err, unix.EHOSTUNREACH) && !errors.Is(err, unix.ENETUNREACH) {
			t.Errorf("route to another node's IPv6 pod range: %v, want unreachable", err)
		}
		err = errors.Join(nw.Teardown(ctx, "dual"), nw.RemoveRoutes())
	})
	if err != nil {
		t.Fatal(err)
	}

	// A namespace that is not one: Setup fails and leaves no attachment
	// and no allocated address behind.
	n.do(func() {
		_, err = nw.Setup(ctx, network.Pod{ID: "broken", NetNS: filepath.Join(t.TempDir(), "no-such-netns")})
	})
	if err == nil {
		t.Fatal("Setup with a missing namespace succeeded")
	}
	if ids, err := nw.Pods(); err != nil || len(ids) != 0 {
		t.Errorf("Pods after a failed Setup = %v, %v; want none", ids, err)
	}
	if allocated, _ := filepath.Glob(filepath.Join(stateDir, "ipam", "*", "*:*")); len(allocated) != 0 {
		t.Errorf("addresses allocated after teardown and a failed Setup: %v", allocated)
	}
	if allocated, _ := filepath.Glob(filepath.Join(stateDir, "ipam", "*", "10.*")); len(allocated) != 0 {
		t.Errorf("addresses allocated after teardown and a failed Setup: %v", allocated)
	}
}
