package runtime

// ContainerConfig describes one container in terms of the OCI runtime, not
// of Kubernetes: the agent maps a Pod's container onto it.
type ContainerConfig struct {
	// ID names the container for the OCI runtime; unique on the node.
	ID string
	// Handler is the RuntimeClass handler: "" or "runc" for runc, "crun".
	Handler string

	// Rootfs is the path of the prepared root filesystem.
	Rootfs string
	// Args is the process's argv; Args[0] is looked up in the container's PATH.
	Args []string
	// Env holds KEY=value entries.
	Env []string
	// Cwd is the working directory; "" means "/".
	Cwd string
	// User is who the process runs as.
	User User
	// TTY gives the process a terminal; its output is logged as stdout.
	TTY bool
	// Stdin keeps the process's stdin open (a pipe held by the shim) for
	// Attach; otherwise stdin is /dev/null. With StdinOnce, stdin is closed
	// when the first attached client's input ends or the client leaves.
	Stdin     bool
	StdinOnce bool
	// OOMScoreAdj is the process's oom_score_adj.
	OOMScoreAdj int

	// Mounts are added after the defaults (/proc, /dev, /sys...) and the
	// sandbox's /etc files, in order.
	Mounts []Mount
	// Resources are the container's cgroup limits.
	Resources Resources
	// Security is what the process may do.
	Security Security

	// Labels and Annotations are stored in the bundle and given back by List
	// and State. Annotations also reach the OCI spec.
	Labels      map[string]string
	Annotations map[string]string

	// LogPath is the CRI-format log file the shim writes; required.
	LogPath string
	// LogMaxSize is the size in bytes past which the log is rotated to
	// LogPath+".1" (replacing an older one); 0 means 10 MiB.
	LogMaxSize int64
}

// User is the identity of a container's process.
type User struct {
	UID            uint32
	GID            uint32
	AdditionalGIDs []uint32
}

// Mount is a filesystem mounted into the container.
type Mount struct {
	// Destination is the absolute path inside the container.
	Destination string
	// Source is a host path for binds, or the source of another type.
	Source string
	// Type is the filesystem type; "" means a bind mount.
	Type string
	// Options are mount options; for binds "rbind" is added when neither
	// "bind" nor "rbind" is given.
	Options []string
	// ReadOnly adds "ro".
	ReadOnly bool
}

// Resources are cgroup limits. Zero values mean no limit.
type Resources struct {
	// CPUShares is the relative CPU weight (cgroup v1 cpu.shares; converted
	// to cpu.weight on v2 by the runtime).
	CPUShares uint64
	// CPUQuota and CPUPeriod, in microseconds, cap CPU time per period.
	CPUQuota  int64
	CPUPeriod uint64
	// MemoryLimit is the limit in bytes; swap is capped at the same value,
	// so the container does not swap.
	MemoryLimit int64
	// PidsLimit caps the number of tasks.
	PidsLimit int64
}

// SeccompKind selects the seccomp profile.
type SeccompKind int

const (
	// SeccompRuntimeDefault is berth's default profile: an allow-list with
	// the effect of containerd's and moby's default profile.
	SeccompRuntimeDefault SeccompKind = iota
	// SeccompUnconfined applies no filter.
	SeccompUnconfined
	// SeccompLocalhost applies the OCI LinuxSeccomp JSON at Seccomp.Path.
	SeccompLocalhost
)

// Seccomp is a container's seccomp profile.
type Seccomp struct {
	Kind SeccompKind
	// Path is the profile file for SeccompLocalhost.
	Path string
}

// Security is what a container's process may do.
type Security struct {
	// Privileged gives every capability, every host device, a writable
	// /sys, no masked or read-only paths and no seccomp filter.
	Privileged bool
	// CapAdd and CapDrop change the default capability set. Names are
	// upper case with or without the "CAP_" prefix; "ALL" in CapDrop starts
	// from nothing, "ALL" in CapAdd from every capability.
	CapAdd  []string
	CapDrop []string
	// NoNewPrivileges sets no_new_privs.
	NoNewPrivileges bool
	// ReadonlyRootfs mounts the root filesystem read-only.
	ReadonlyRootfs bool
	// Seccomp is the seccomp profile.
	Seccomp Seccomp
	// ProcMountUnmasked lifts the masked and read-only /proc and /sys paths.
	ProcMountUnmasked bool
	// Sysctls are set in the container's namespaces.
	Sysctls map[string]string
}
