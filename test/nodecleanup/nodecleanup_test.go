package nodecleanup_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"berth.dev/berth/internal/agent/network"
	"berth.dev/berth/internal/agent/runtime"
	"berth.dev/berth/test/nodecleanup"
)

// recorder keeps the errors CleanUp reports instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// What an agent with a data directory of its own left on the node (an
// attached sandbox, the bridge, the unreachable route of its cluster
// range, its run directory and cgroups) is gone after CleanUp, and the
// sandbox left behind is reported.
func TestCleanUpRemovesWhatTheAgentLeft(t *testing.T) {
	nodecleanup.NeedContainers(t)
	dataDir := t.TempDir()
	// A range of its own: other agents on this machine keep theirs.
	clusterCIDR := netip.MustParsePrefix("10.49.0.0/16")
	runDir := nodecleanup.RunDir(dataDir)
	suffix := strings.TrimPrefix(runDir, "/run/berth-")
	bridge := "berth" + suffix[:8]

	rt, err := runtime.New(runtime.Config{RunDir: runDir, CgroupParent: "/berth-" + suffix})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := rt.CreateSandbox(runtime.SandboxConfig{ID: "leftover", Name: "leftover", Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	netw, err := network.New(network.Config{
		StateDir:     filepath.Join(dataDir, "agent", "cni"),
		Bridge:       bridge,
		PodCIDRs:     []netip.Prefix{netip.MustParsePrefix("10.49.0.0/24")},
		ClusterCIDRs: []netip.Prefix{clusterCIDR},
		ServiceCIDRs: []netip.Prefix{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := netw.InstallRoutes(); err != nil {
		t.Fatal(err)
	}
	if _, err := netw.Setup(context.Background(), network.Pod{ID: "leftover", Namespace: "default", Name: "leftover", UID: "leftover", NetNS: sb.NetNSPath()}); err != nil {
		t.Fatal(err)
	}

	rec := &recorder{TB: t}
	nodecleanup.CleanUp(rec, dataDir, clusterCIDR)

	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "sandbox leftover left on the node") {
		t.Errorf("CleanUp reported %q, want the sandbox left on the node", rec.errs)
	}
	if _, err := os.Stat(runDir); !os.IsNotExist(err) {
		t.Errorf("run directory %s: %v, want it gone", runDir, err)
	}
	if _, err := netlink.LinkByName(bridge); err == nil {
		t.Errorf("bridge %s still there", bridge)
	}
	routes, err := netlink.RouteListFiltered(unix.AF_INET, &netlink.Route{
		Dst:   &net.IPNet{IP: clusterCIDR.Addr().AsSlice(), Mask: net.CIDRMask(clusterCIDR.Bits(), 32)},
		Table: unix.RT_TABLE_MAIN,
	}, netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) != 0 {
		t.Errorf("routes to %s still there: %v", clusterCIDR, routes)
	}
	if ids, err := netw.Pods(); err != nil || len(ids) != 0 {
		t.Errorf("pod networks after CleanUp: %v, %v; want none", ids, err)
	}
	cgroups, err := filepath.Glob("/sys/fs/cgroup/*/berth-" + suffix)
	if err != nil {
		t.Fatal(err)
	}
	if direct := "/sys/fs/cgroup/berth-" + suffix; dirExists(direct) {
		cgroups = append(cgroups, direct)
	}
	if len(cgroups) != 0 {
		t.Errorf("cgroups still there: %v", cgroups)
	}
}

func dirExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
