// Package nodecleanup serves tests and benchmarks that run `berth server`
// with its node agent on this machine: it says whether the machine can run
// the agent, and removes what the agent of a stopped server left on the
// host.
package nodecleanup

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"berth.dev/berth/internal/agent"
	"berth.dev/berth/internal/agent/image"
	"berth.dev/berth/internal/agent/network"
	"berth.dev/berth/internal/agent/runtime"
	"berth.dev/berth/test/images/testimages"
)

// NeedContainers skips tb unless this machine can run the server's agent
// with the busybox test image: root, runc, nft, the CNI plugins and a
// static busybox.
func NeedContainers(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root (the node agent runs containers)")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		tb.Skip("needs runc (apt-get install runc)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		tb.Skip("needs nft (apt-get install nftables)")
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		tb.Skip("needs the CNI plugins (apt-get install containernetworking-plugins)")
	}
	if err := testimages.CheckBusybox(testimages.Path); err != nil {
		tb.Skipf("needs a static busybox: %v", err)
	}
}

// RunDir is the runtime directory of the agent of `berth server
// --data-dir dataDir` (an absolute path other than the default): its
// containers' directories and shims' arguments are under it.
func RunDir(dataDir string) string {
	return agent.HostNamesFor(dataDir).RunDir
}

// Runtime is the container runtime of the agent of `berth server
// --data-dir dataDir` (an absolute path other than the default).
func Runtime(dataDir string) (*runtime.Runtime, error) {
	names := agent.HostNamesFor(dataDir)
	return runtime.New(runtime.Config{RunDir: names.RunDir, CgroupParent: names.CgroupParent})
}

// CleanUp removes what the agent of a stopped server with dataDir (an
// absolute path other than the default /var/lib/berth) may have left:
// containers, root filesystems, pod networks, sandboxes, the runtime's
// directory and cgroups, and the bridge. The names follow `berth
// server`'s for a data directory of its own. A container or sandbox still
// there is an error of tb: the server's pods should have been deleted
// before it stopped. clusterCIDR, when valid, is the server's
// --cluster-cidr, whose unreachable route is removed too; leave it zero
// for a range other servers on the machine may share.
func CleanUp(tb testing.TB, dataDir string, clusterCIDR netip.Prefix) {
	tb.Helper()
	names := agent.HostNamesFor(dataDir)
	runDir, bridge := names.RunDir, names.Bridge
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := Runtime(dataDir)
	if err != nil {
		tb.Errorf("cleanup: %v", err)
		return
	}
	cs, err := rt.List(ctx)
	if err != nil {
		tb.Errorf("cleanup: %v", err)
	}
	for _, c := range cs {
		tb.Errorf("container %s left on the node", c.ID)
		if err := rt.Delete(ctx, c.ID); err != nil {
			tb.Errorf("cleanup: %v", err)
		}
	}
	if store, err := image.New(image.Config{Dir: filepath.Join(dataDir, "agent", "images")}); err == nil {
		for _, id := range store.Containers() {
			if err := store.Release(id); err != nil {
				tb.Errorf("cleanup: %v", err)
			}
		}
		store.Close()
	}
	clusterCIDRs := []netip.Prefix{}
	if clusterCIDR.IsValid() {
		clusterCIDRs = []netip.Prefix{clusterCIDR}
	}
	if netw, err := network.New(network.Config{
		StateDir: filepath.Join(dataDir, "agent", "cni"),
		Bridge:   bridge,
		// Teardown finds a pod's allocation by its ID, in any range.
		PodCIDRs:     []netip.Prefix{netip.MustParsePrefix("10.42.0.0/24")},
		ClusterCIDRs: clusterCIDRs,
		ServiceCIDRs: []netip.Prefix{},
	}); err == nil {
		ids, _ := netw.Pods()
		for _, id := range ids {
			_ = netw.Teardown(ctx, id)
		}
		if err := errors.Join(netw.RemoveRoutes(), netw.RemoveMasquerade(ctx)); err != nil {
			tb.Errorf("cleanup: %v", err)
		}
	}
	sbs, _ := rt.Sandboxes()
	for _, s := range sbs {
		tb.Errorf("sandbox %s left on the node", s.Config.ID)
		if err := rt.RemoveSandbox(s.Config.ID); err != nil {
			tb.Errorf("cleanup: %v", err)
		}
	}
	if err := rt.RemoveCgroupParent(); err != nil {
		tb.Errorf("cleanup: %v", err)
	}
	if err := os.RemoveAll(runDir); err != nil {
		tb.Errorf("cleanup: %v", err)
	}
	if l, err := netlink.LinkByName(bridge); err == nil {
		_ = netlink.LinkDel(l)
	}
}
