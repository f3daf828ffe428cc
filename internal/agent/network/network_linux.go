package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// cniVersion is the CNI spec version of berth's configuration: the newest
// the distribution's plugins speak.
const cniVersion = "1.0.0"

// ifName is the pod's interface.
const ifName = "eth0"

// Config configures a Network.
type Config struct {
	// StateDir holds IPAM allocations, libcni's cache and berth's
	// attachment files; it must survive agent restarts (under the data
	// directory). Required.
	StateDir string
	// PodCIDRs are the node's pod ranges (node.spec.podCIDRs), at least
	// one. Required.
	PodCIDRs []netip.Prefix
	// ClusterCIDRs and ServiceCIDRs are made unreachable by InstallRoutes.
	// Default 10.42.0.0/16 and 10.43.0.0/16; an empty, non-nil slice
	// installs no route. Beware: the node's own connections to a ClusterIP
	// are routed before nftables' output hook can rewrite them, so an
	// unreachable service route makes them fail unless the service proxy
	// provides a route of its own; pods' traffic is rewritten before
	// routing and is not affected.
	ClusterCIDRs []netip.Prefix
	ServiceCIDRs []netip.Prefix
	// Bridge names the pods' bridge; default "berth0".
	Bridge string
	// Name is the CNI network name; default "berth".
	Name string
	// MTU of the bridge and the pods' interfaces; 0 lets the plugin choose.
	MTU int
	// PluginDirs are searched for the plugins; default /usr/lib/cni and
	// /opt/cni/bin.
	PluginDirs []string
}

// Network sets up and tears down pods' networking on this node.
type Network struct {
	cfg      Config
	cni      *libcni.CNIConfig
	list     *libcni.NetworkConfigList
	loopback *libcni.PluginConfig
}

// New checks cfg, builds the CNI configuration and checks the plugins exist.
func New(cfg Config) (*Network, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("network: no state directory")
	}
	if len(cfg.PodCIDRs) == 0 {
		return nil, errors.New("network: no pod CIDR")
	}
	if cfg.ClusterCIDRs == nil {
		cfg.ClusterCIDRs = []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16")}
	}
	if cfg.ServiceCIDRs == nil {
		cfg.ServiceCIDRs = []netip.Prefix{netip.MustParsePrefix("10.43.0.0/16")}
	}
	if cfg.Bridge == "" {
		cfg.Bridge = "berth0"
	}
	if cfg.Name == "" {
		cfg.Name = "berth"
	}
	if cfg.PluginDirs == nil {
		cfg.PluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}
	}
	for _, d := range []string{"ipam", "cache", "pods"} {
		if err := os.MkdirAll(filepath.Join(cfg.StateDir, d), 0o700); err != nil {
			return nil, fmt.Errorf("network: %w", err)
		}
	}
	b, err := confList(cfg)
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	list, err := libcni.ConfListFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("network: parsing configuration: %w", err)
	}
	lo, err := libcni.ConfFromBytes([]byte(`{"cniVersion":"` + cniVersion + `","name":"cni-loopback","type":"loopback"}`))
	if err != nil {
		return nil, fmt.Errorf("network: parsing loopback configuration: %w", err)
	}
	n := &Network{
		cfg:      cfg,
		cni:      libcni.NewCNIConfigWithCacheDir(cfg.PluginDirs, filepath.Join(cfg.StateDir, "cache"), nil),
		list:     list,
		loopback: lo,
	}
	for _, p := range []string{"bridge", "host-local", "portmap", "loopback"} {
		if _, err := invoke.FindInPath(p, cfg.PluginDirs); err != nil {
			return nil, fmt.Errorf("network: CNI plugin %s: %w", p, err)
		}
	}
	return n, nil
}

// confList renders the CNI configuration list of cfg.
func confList(cfg Config) ([]byte, error) {
	type rng struct {
		Subnet string `json:"subnet"`
	}
	type route struct {
		Dst string `json:"dst"`
	}
	var ranges [][]rng
	var routes []route
	for _, p := range cfg.PodCIDRs {
		if !p.IsValid() || p != p.Masked() {
			return nil, fmt.Errorf("pod CIDR %s is not a network prefix", p)
		}
		ranges = append(ranges, []rng{{Subnet: p.String()}})
		if p.Addr().Is4() {
			routes = append(routes, route{Dst: "0.0.0.0/0"})
		} else {
			routes = append(routes, route{Dst: "::/0"})
		}
	}
	bridge := map[string]any{
		"type":        "bridge",
		"bridge":      cfg.Bridge,
		"isGateway":   true,
		"ipMasq":      false, // InstallMasquerade: one rule for the node
		"hairpinMode": true,
		"ipam": map[string]any{
			"type":    "host-local",
			"ranges":  ranges,
			"routes":  routes,
			"dataDir": filepath.Join(cfg.StateDir, "ipam"),
		},
	}
	if cfg.MTU != 0 {
		bridge["mtu"] = cfg.MTU
	}
	return json.Marshal(map[string]any{
		"cniVersion": cniVersion,
		"name":       cfg.Name,
		"plugins": []any{
			bridge,
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}, "snat": true},
		},
	})
}

// PortMapping publishes a pod's port on the node (a container's hostPort).
type PortMapping struct {
	HostPort      int32
	ContainerPort int32
	// Protocol is "tcp", "udp" or "sctp"; "" means "tcp".
	Protocol string
	// HostIP limits the mapping to one node address; "" means all.
	HostIP string
}

// Pod identifies the pod being attached.
type Pod struct {
	// ID is the pod's sandbox ID: the key of the attachment.
	ID        string
	Namespace string
	Name      string
	UID       string
	// NetNS is the path of the pod's network namespace.
	NetNS string
	Ports []PortMapping
}

// attachment is the file kept per attached pod.
type attachment struct {
	Pod Pod          `json:"pod"`
	IPs []netip.Addr `json:"ips"`
}

func (n *Network) attachmentPath(id string) string {
	return filepath.Join(n.cfg.StateDir, "pods", id+".json")
}

func (n *Network) runtimeConf(p Pod) *libcni.RuntimeConf {
	ports := make([]map[string]any, 0, len(p.Ports))
	for _, m := range p.Ports {
		proto := strings.ToLower(m.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		pm := map[string]any{"hostPort": m.HostPort, "containerPort": m.ContainerPort, "protocol": proto}
		if m.HostIP != "" {
			pm["hostIP"] = m.HostIP
		}
		ports = append(ports, pm)
	}
	return &libcni.RuntimeConf{
		ContainerID: p.ID,
		NetNS:       p.NetNS,
		IfName:      ifName,
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", p.Namespace},
			{"K8S_POD_NAME", p.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", p.ID},
			{"K8S_POD_UID", p.UID},
		},
		CapabilityArgs: map[string]any{"portMappings": ports},
	}
}

// Setup attaches the pod's network namespace to the node's pod network and
// returns its addresses. On error the attachment is torn down.
func (n *Network) Setup(ctx context.Context, p Pod) ([]netip.Addr, error) {
	if err := validID(p.ID); err != nil {
		return nil, fmt.Errorf("setting up pod network: %w", err)
	}
	if p.NetNS == "" {
		return nil, fmt.Errorf("setting up network of pod %s: no network namespace", p.ID)
	}
	// Recorded first, so that a Teardown after a crash in the middle finds
	// what to undo.
	if err := writeJSON(n.attachmentPath(p.ID), attachment{Pod: p}); err != nil {
		return nil, fmt.Errorf("setting up network of pod %s: %w", p.ID, err)
	}
	ips, err := n.setup(ctx, p)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("setting up network of pod %s: %w", p.ID, err), n.Teardown(context.WithoutCancel(ctx), p.ID))
	}
	if err := writeJSON(n.attachmentPath(p.ID), attachment{Pod: p, IPs: ips}); err != nil {
		return nil, errors.Join(fmt.Errorf("setting up network of pod %s: %w", p.ID, err), n.Teardown(context.WithoutCancel(ctx), p.ID))
	}
	return ips, nil
}

func (n *Network) setup(ctx context.Context, p Pod) ([]netip.Addr, error) {
	rt := n.runtimeConf(p)
	if _, err := n.cni.AddNetwork(ctx, n.loopback, rt); err != nil {
		return nil, fmt.Errorf("loopback: %w", err)
	}
	res, err := n.cni.AddNetworkList(ctx, n.list, rt)
	if err != nil {
		return nil, err
	}
	r, err := current.NewResultFromResult(res)
	if err != nil {
		return nil, fmt.Errorf("reading CNI result: %w", err)
	}
	var ips []netip.Addr
	for _, ipc := range r.IPs {
		a, ok := netip.AddrFromSlice(ipc.Address.IP)
		if !ok {
			return nil, fmt.Errorf("CNI result: bad address %v", ipc.Address.IP)
		}
		ips = append(ips, a.Unmap())
	}
	if len(ips) == 0 {
		return nil, errors.New("CNI result: no address")
	}
	return ips, nil
}

// Teardown detaches the pod: its address is released, its hostPorts are
// unpublished, its interface and masquerade rules are removed. Call it
// before the pod's network namespace goes: without the namespace (after a
// reboot, say) the address and the port mappings are still released, but
// the bridge plugin, which learns the masquerade rules to remove from the
// interface it deletes, leaves them. Tearing down a pod that is not
// attached is no error.
func (n *Network) Teardown(ctx context.Context, id string) error {
	if err := validID(id); err != nil {
		return fmt.Errorf("tearing down pod network: %w", err)
	}
	var a attachment
	b, err := os.ReadFile(n.attachmentPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = json.Unmarshal(b, &a)
	}
	if err != nil {
		return fmt.Errorf("tearing down network of pod %s: %w", id, err)
	}
	p := a.Pod
	if !netnsExists(p.NetNS) {
		// The plugins still release the address and the port mappings.
		p.NetNS = ""
	}
	rt := n.runtimeConf(p)
	if err := n.cni.DelNetworkList(ctx, n.list, rt); err != nil {
		return fmt.Errorf("tearing down network of pod %s: %w", id, err)
	}
	if p.NetNS != "" {
		if err := n.cni.DelNetwork(ctx, n.loopback, rt); err != nil {
			return fmt.Errorf("tearing down network of pod %s: loopback: %w", id, err)
		}
	}
	if err := os.Remove(n.attachmentPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("tearing down network of pod %s: %w", id, err)
	}
	return nil
}

// PodIPs returns the addresses of an attached pod, and whether it is
// attached.
func (n *Network) PodIPs(id string) ([]netip.Addr, bool, error) {
	if err := validID(id); err != nil {
		return nil, false, err
	}
	b, err := os.ReadFile(n.attachmentPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	var a attachment
	if err == nil {
		err = json.Unmarshal(b, &a)
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading network of pod %s: %w", id, err)
	}
	return a.IPs, true, nil
}

// Pods returns the IDs of the attached pods.
func (n *Network) Pods() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(n.cfg.StateDir, "pods"))
	if err != nil {
		return nil, fmt.Errorf("listing pod networks: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// InstallRoutes adds (or replaces) the unreachable routes for the cluster
// and service CIDRs in the calling thread's network namespace.
func (n *Network) InstallRoutes() error {
	for _, r := range n.unreachableRoutes() {
		if err := netlink.RouteReplace(r); err != nil {
			return fmt.Errorf("adding unreachable route %s: %w", r.Dst, err)
		}
	}
	return nil
}

// RemoveRoutes removes the routes InstallRoutes adds; missing ones are no
// error.
func (n *Network) RemoveRoutes() error {
	for _, r := range n.unreachableRoutes() {
		if err := netlink.RouteDel(r); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("removing unreachable route %s: %w", r.Dst, err)
		}
	}
	return nil
}

func (n *Network) unreachableRoutes() []*netlink.Route {
	var out []*netlink.Route
	for _, p := range append(append([]netip.Prefix{}, n.cfg.ClusterCIDRs...), n.cfg.ServiceCIDRs...) {
		p = p.Masked()
		family := unix.AF_INET
		if p.Addr().Is6() {
			family = unix.AF_INET6
		}
		out = append(out, &netlink.Route{
			Dst:      &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
			Type:     unix.RTN_UNREACHABLE,
			Family:   family,
			Table:    unix.RT_TABLE_MAIN,
			Protocol: unix.RTPROT_STATIC,
		})
	}
	return out
}

// netnsExists reports whether path is a network namespace (a pinned one
// is a bind mount of nsfs).
func netnsExists(path string) bool {
	if path == "" {
		return false
	}
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

func validID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
		return fmt.Errorf("invalid pod id %q", id)
	}
	return nil
}

func writeJSON(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
