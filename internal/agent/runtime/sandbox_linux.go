package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// SandboxConfig describes a pod's sandbox.
type SandboxConfig struct {
	// ID names the sandbox on the node; a valid file name, unique.
	ID string
	// Name, Namespace and UID identify the pod. UID names the pod's cgroup
	// (pod<UID> under Config.CgroupParent); "" means ID.
	Name      string
	Namespace string
	UID       string
	// Hostname is the pod's host name; "" means Name. FQDN, when set, is
	// also given to the pod's IPs in /etc/hosts.
	Hostname string
	FQDN     string
	// HostNetwork, HostIPC and HostPID use the host's namespaces instead of
	// the pod's own. A host-network pod also has the host's UTS namespace.
	HostNetwork bool
	HostIPC     bool
	HostPID     bool
	// DNS is the pod's resolver configuration; nil copies the host's
	// /etc/resolv.conf.
	DNS *DNSConfig
	// HostAliases are added to /etc/hosts.
	HostAliases []HostAlias
	// ShmSize is the size of the pod's /dev/shm; 0 means 64 MiB.
	ShmSize int64
	// Resources limit the pod's cgroup, which holds its containers' (as
	// kubelet's pod-level cgroup: the sums of the containers' requests
	// and limits). Zero values mean no limit.
	Resources Resources
}

// DNSConfig is the content of a pod's /etc/resolv.conf.
type DNSConfig struct {
	Servers  []string
	Searches []string
	Options  []string
}

// HostAlias is one /etc/hosts entry.
type HostAlias struct {
	IP        string
	Hostnames []string
}

// Sandbox is a pod's pinned namespaces and shared files. Its methods only
// compute paths, except SetPodIPs.
type Sandbox struct {
	Config SandboxConfig
	dir    string
}

// NetNSPath returns the pinned network namespace for CNI, or "" for a
// host-network pod.
func (s *Sandbox) NetNSPath() string {
	if s.Config.HostNetwork {
		return ""
	}
	return filepath.Join(s.dir, "net")
}

func (s *Sandbox) ipcPath() string {
	if s.Config.HostIPC {
		return ""
	}
	return filepath.Join(s.dir, "ipc")
}

func (s *Sandbox) utsPath() string {
	if s.Config.HostNetwork {
		return ""
	}
	return filepath.Join(s.dir, "uts")
}

func (s *Sandbox) shmPath() string {
	if s.Config.HostIPC {
		return "/dev/shm"
	}
	return filepath.Join(s.dir, "shm")
}

func (s *Sandbox) hostname() string {
	if s.Config.Hostname != "" {
		return s.Config.Hostname
	}
	return s.Config.Name
}

func (s *Sandbox) podUID() string {
	if s.Config.UID != "" {
		return s.Config.UID
	}
	return s.Config.ID
}

// CreateSandbox pins a new pod's namespaces and writes its /etc files. On
// error nothing is left behind.
func (r *Runtime) CreateSandbox(cfg SandboxConfig) (*Sandbox, error) {
	if err := validName(cfg.ID); err != nil {
		return nil, fmt.Errorf("creating sandbox: %w", err)
	}
	s := &Sandbox{Config: cfg, dir: filepath.Join(r.cfg.RunDir, "sandboxes", cfg.ID)}
	if err := os.MkdirAll(filepath.Dir(s.dir), 0o700); err != nil {
		return nil, fmt.Errorf("creating sandbox %s: %w", cfg.ID, err)
	}
	if err := os.Mkdir(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating sandbox %s: %w", cfg.ID, err)
	}
	if err := r.setUpSandbox(s); err != nil {
		return nil, errors.Join(fmt.Errorf("creating sandbox %s: %w", cfg.ID, err), r.RemoveSandbox(cfg.ID))
	}
	return s, nil
}

func (r *Runtime) setUpSandbox(s *Sandbox) error {
	if err := writeJSON(filepath.Join(s.dir, "sandbox.json"), s.Config); err != nil {
		return err
	}
	if err := pinNamespaces(s); err != nil {
		return err
	}
	if s.Config.Resources != (Resources{}) {
		if err := setCgroup(r.cgroupMode, r.podCgroup(s.podUID()), s.Config.Resources, r.swap); err != nil {
			return err
		}
	}
	if !s.Config.HostIPC {
		size := s.Config.ShmSize
		if size == 0 {
			size = 64 << 20
		}
		if err := os.Mkdir(s.shmPath(), 0o755); err != nil {
			return fmt.Errorf("creating /dev/shm: %w", err)
		}
		if err := unix.Mount("shm", s.shmPath(), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC,
			fmt.Sprintf("mode=1777,size=%d", size)); err != nil {
			return fmt.Errorf("mounting /dev/shm: %w", err)
		}
	}
	hostname := s.hostname()
	if s.Config.HostNetwork {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("reading host name: %w", err)
		}
		hostname = h
	}
	if err := writeFile(filepath.Join(s.dir, "hostname"), []byte(hostname+"\n")); err != nil {
		return err
	}
	resolv, err := resolvConf(s.Config.DNS)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(s.dir, "resolv.conf"), resolv); err != nil {
		return err
	}
	return s.SetPodIPs(nil)
}

// SetPodIPs rewrites the pod's /etc/hosts to name ips with the pod's host
// name, as kubelet does once the network is set up, before the containers
// are created: a container keeps the file it mounted. A host-network pod's
// file is the host's /etc/hosts with the aliases appended.
func (s *Sandbox) SetPodIPs(ips []string) error {
	var b strings.Builder
	if s.Config.HostNetwork {
		host, err := os.ReadFile("/etc/hosts")
		if err != nil {
			return fmt.Errorf("reading host /etc/hosts: %w", err)
		}
		b.Write(host)
	} else {
		b.WriteString("# Kubernetes-managed hosts file.\n" +
			"127.0.0.1\tlocalhost\n" +
			"::1\tlocalhost ip6-localhost ip6-loopback\n" +
			"fe00::0\tip6-localnet\n" +
			"fe00::0\tip6-mcastprefix\n" +
			"fe00::1\tip6-allnodes\n" +
			"fe00::2\tip6-allrouters\n")
		names := s.hostname()
		if s.Config.FQDN != "" {
			names = s.Config.FQDN + "\t" + names
		}
		for _, ip := range ips {
			fmt.Fprintf(&b, "%s\t%s\n", ip, names)
		}
	}
	if len(s.Config.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range s.Config.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return writeFile(filepath.Join(s.dir, "hosts"), []byte(b.String()))
}

func resolvConf(dns *DNSConfig) ([]byte, error) {
	if dns == nil {
		b, err := os.ReadFile("/etc/resolv.conf")
		if err != nil {
			return nil, fmt.Errorf("reading host /etc/resolv.conf: %w", err)
		}
		return b, nil
	}
	var b strings.Builder
	if len(dns.Searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(dns.Searches, " "))
	}
	for _, s := range dns.Servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(dns.Options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(dns.Options, " "))
	}
	return []byte(b.String()), nil
}

// nsKind is a kind of namespace: its clone flag and its name in /proc.
type nsKind struct {
	flag int
	name string
}

// pinNamespaces makes the sandbox's namespaces on a locked OS thread and
// bind-mounts them onto files in the sandbox directory; then the thread
// returns to its namespaces, so no thread or process keeps a foot in the
// pod's. A thread that cannot return stays locked, and the Go runtime ends
// it with its goroutine.
func pinNamespaces(s *Sandbox) error {
	var all []nsKind
	if s.NetNSPath() != "" {
		all = append(all, nsKind{unix.CLONE_NEWNET, "net"})
	}
	if s.ipcPath() != "" {
		all = append(all, nsKind{unix.CLONE_NEWIPC, "ipc"})
	}
	if s.utsPath() != "" {
		all = append(all, nsKind{unix.CLONE_NEWUTS, "uts"})
	}
	if len(all) == 0 {
		return nil
	}
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		tid := unix.Gettid()
		var orig []*os.File
		defer func() {
			for _, f := range orig {
				f.Close()
			}
		}()
		flags := 0
		for _, n := range all {
			f, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/%s", tid, n.name))
			if err != nil {
				errc <- fmt.Errorf("opening the %s namespace: %w", n.name, err)
				return
			}
			orig = append(orig, f)
			flags |= n.flag
		}
		if err := unix.Unshare(flags); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		err := setUpPinned(s, tid, all)
		for i, n := range all {
			if serr := unix.Setns(int(orig[i].Fd()), n.flag); serr != nil {
				errc <- errors.Join(err, fmt.Errorf("returning to the %s namespace: %w", n.name, serr))
				return
			}
		}
		goruntime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// setUpPinned runs on thread tid, in the new namespaces: it names the host,
// brings up lo and bind-mounts each namespace onto its file.
func setUpPinned(s *Sandbox, tid int, all []nsKind) error {
	if s.utsPath() != "" {
		if err := unix.Sethostname([]byte(s.hostname())); err != nil {
			return fmt.Errorf("setting host name: %w", err)
		}
	}
	if s.NetNSPath() != "" {
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			return fmt.Errorf("bringing up lo: %w", err)
		}
	}
	for _, n := range all {
		target := filepath.Join(s.dir, n.name)
		if err := writeFile(target, nil); err != nil {
			return err
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/%s", tid, n.name)
		if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("pinning the %s namespace: %w", n.name, err)
		}
	}
	return nil
}

// Sandbox returns the sandbox id from its files, for an agent that
// restarted.
func (r *Runtime) Sandbox(id string) (*Sandbox, error) {
	if err := validName(id); err != nil {
		return nil, err
	}
	s := &Sandbox{dir: filepath.Join(r.cfg.RunDir, "sandboxes", id)}
	b, err := os.ReadFile(filepath.Join(s.dir, "sandbox.json"))
	if err != nil {
		return nil, fmt.Errorf("reading sandbox %s: %w", id, err)
	}
	if err := json.Unmarshal(b, &s.Config); err != nil {
		return nil, fmt.Errorf("reading sandbox %s: %w", id, err)
	}
	return s, nil
}

// Sandboxes returns every sandbox on the node.
func (r *Runtime) Sandboxes() ([]*Sandbox, error) {
	entries, err := os.ReadDir(filepath.Join(r.cfg.RunDir, "sandboxes"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing sandboxes: %w", err)
	}
	var out []*Sandbox
	for _, e := range entries {
		s, err := r.Sandbox(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// RemoveSandbox unpins the sandbox's namespaces, unmounts its /dev/shm and
// removes its files and its pod cgroup. The pod's network must be torn down
// first and its containers deleted. Removing a missing sandbox is no error.
func (r *Runtime) RemoveSandbox(id string) error {
	if err := validName(id); err != nil {
		return fmt.Errorf("removing sandbox: %w", err)
	}
	dir := filepath.Join(r.cfg.RunDir, "sandboxes", id)
	uid := id
	if s, err := r.Sandbox(id); err == nil {
		uid = s.podUID()
	}
	for _, name := range []string{"net", "ipc", "uts", "shm"} {
		if err := unix.Unmount(filepath.Join(dir, name), unix.MNT_DETACH); err != nil &&
			!errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("removing sandbox %s: unmounting %s: %w", id, name, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing sandbox %s: %w", id, err)
	}
	if err := removeCgroup(r.cgroupMode, r.podCgroup(uid)); err != nil {
		return fmt.Errorf("removing sandbox %s: %w", id, err)
	}
	return nil
}
