package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// maskedPaths are hidden from unprivileged containers (containerd's
// defaults).
var maskedPaths = []string{
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
	"/proc/sched_debug", "/proc/scsi", "/proc/interrupts", "/sys/firmware",
	"/sys/devices/virtual/powercap",
}

// readonlyPaths are read-only in unprivileged containers.
var readonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// specHost is what the host contributes to a spec: it keeps Spec a pure
// function of its inputs.
type specHost struct {
	cgroupMode   CgroupMode
	cgroupParent string
	// bounding is the capability bounding set, for privileged containers.
	bounding []string
	// swap reports whether memory+swap can be limited.
	swap bool
	// devices are the host's devices, for privileged containers.
	devices []specs.LinuxDevice
}

// Spec builds the OCI runtime spec of a container in sandbox s.
func (r *Runtime) Spec(cfg ContainerConfig, s *Sandbox) (*specs.Spec, error) {
	host := specHost{cgroupMode: r.cgroupMode, cgroupParent: r.cfg.CgroupParent, bounding: r.bounding, swap: r.swap}
	if cfg.Security.Privileged {
		devs, err := hostDevices()
		if err != nil {
			return nil, err
		}
		host.devices = devs
	}
	return buildSpec(cfg, s, host)
}

func buildSpec(cfg ContainerConfig, s *Sandbox, host specHost) (*specs.Spec, error) {
	if len(cfg.Args) == 0 {
		return nil, errors.New("no args")
	}
	if cfg.Rootfs == "" {
		return nil, errors.New("no rootfs")
	}
	sec := cfg.Security
	caps, err := capabilities(sec, host.bounding)
	if err != nil {
		return nil, err
	}
	cwd := cfg.Cwd
	if cwd == "" {
		cwd = "/"
	}
	spec := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: cfg.Rootfs, Readonly: sec.ReadonlyRootfs},
		Process: &specs.Process{
			Terminal: cfg.TTY,
			User: specs.User{
				UID:            cfg.User.UID,
				GID:            cfg.User.GID,
				AdditionalGids: slices.Clone(cfg.User.AdditionalGIDs),
			},
			Args: slices.Clone(cfg.Args),
			Env:  slices.Clone(cfg.Env),
			Cwd:  cwd,
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps,
				Effective: caps,
				Permitted: caps,
			},
			NoNewPrivileges: sec.NoNewPrivileges,
			OOMScoreAdj:     &cfg.OOMScoreAdj,
		},
		Mounts:      containerMounts(cfg, s, host),
		Annotations: maps.Clone(cfg.Annotations),
		Linux: &specs.Linux{
			CgroupsPath: path.Join(host.cgroupParent, "pod"+s.podUID(), cfg.ID),
			Resources:   resources(cfg, host),
			Namespaces:  namespaces(s, host),
			Sysctl:      maps.Clone(sec.Sysctls),
		},
	}
	if !sec.Privileged && !sec.ProcMountUnmasked {
		spec.Linux.MaskedPaths = slices.Clone(maskedPaths)
		spec.Linux.ReadonlyPaths = slices.Clone(readonlyPaths)
	}
	if sec.Privileged {
		spec.Linux.Devices = host.devices
	}
	switch {
	case sec.Privileged || sec.Seccomp.Kind == SeccompUnconfined:
	case sec.Seccomp.Kind == SeccompRuntimeDefault:
		spec.Linux.Seccomp = defaultSeccomp(caps)
	case sec.Seccomp.Kind == SeccompLocalhost:
		p, err := loadSeccomp(sec.Seccomp.Path)
		if err != nil {
			return nil, err
		}
		spec.Linux.Seccomp = p
	default:
		return nil, fmt.Errorf("unknown seccomp kind %d", sec.Seccomp.Kind)
	}
	return spec, nil
}

func namespaces(s *Sandbox, host specHost) []specs.LinuxNamespace {
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	if !s.Config.HostPID {
		ns = append(ns, specs.LinuxNamespace{Type: specs.PIDNamespace})
	}
	if p := s.NetNSPath(); p != "" {
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: p})
	}
	if p := s.ipcPath(); p != "" {
		ns = append(ns, specs.LinuxNamespace{Type: specs.IPCNamespace, Path: p})
	}
	if p := s.utsPath(); p != "" {
		ns = append(ns, specs.LinuxNamespace{Type: specs.UTSNamespace, Path: p})
	}
	if host.cgroupMode == CgroupV2 {
		ns = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	return ns
}

func containerMounts(cfg ContainerConfig, s *Sandbox, host specHost) []specs.Mount {
	sysOpt := "ro"
	if cfg.Security.Privileged {
		sysOpt = "rw"
	}
	etcOpt := "rw"
	if cfg.Security.ReadonlyRootfs {
		etcOpt = "ro"
	}
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "bind", Source: s.shmPath(), Options: []string{"rbind", "nosuid", "nodev", "noexec"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", sysOpt}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", sysOpt}},
	}
	for _, f := range []string{"hosts", "hostname", "resolv.conf"} {
		mounts = append(mounts, specs.Mount{
			Destination: "/etc/" + f, Type: "bind", Source: filepath.Join(s.dir, f),
			Options: []string{"rbind", "rprivate", etcOpt},
		})
	}
	for _, m := range cfg.Mounts {
		opts := slices.Clone(m.Options)
		typ := m.Type
		if typ == "" || typ == "bind" {
			typ = "bind"
			if !slices.Contains(opts, "bind") && !slices.Contains(opts, "rbind") {
				opts = append(opts, "rbind")
			}
		}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		mounts = append(mounts, specs.Mount{Destination: m.Destination, Type: typ, Source: m.Source, Options: opts})
	}
	return mounts
}

func resources(cfg ContainerConfig, host specHost) *specs.LinuxResources {
	res := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}
	if cfg.Security.Privileged {
		res.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	}
	rc := cfg.Resources
	if rc.CPUShares != 0 || rc.CPUQuota != 0 || rc.CPUPeriod != 0 {
		res.CPU = &specs.LinuxCPU{}
		if rc.CPUShares != 0 {
			res.CPU.Shares = &rc.CPUShares
		}
		if rc.CPUQuota != 0 {
			res.CPU.Quota = &rc.CPUQuota
		}
		if rc.CPUPeriod != 0 {
			res.CPU.Period = &rc.CPUPeriod
		}
	}
	if rc.MemoryLimit != 0 {
		res.Memory = &specs.LinuxMemory{Limit: &rc.MemoryLimit}
		if host.swap {
			res.Memory.Swap = &rc.MemoryLimit
		}
	}
	if rc.PidsLimit != 0 {
		res.Pids = &specs.LinuxPids{Limit: rc.PidsLimit}
	}
	return res
}

// hostDevices lists the host's device nodes under /dev, for privileged
// containers; pseudo-terminals, shared memory and message queues are the
// container's own.
func hostDevices() ([]specs.LinuxDevice, error) {
	var devs []specs.LinuxDevice
	err := filepath.WalkDir("/dev", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			switch p {
			case "/dev/pts", "/dev/shm", "/dev/mqueue":
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type()&fs.ModeDevice == 0 || p == "/dev/console" {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			return err
		}
		typ := "b"
		if st.Mode&unix.S_IFMT == unix.S_IFCHR {
			typ = "c"
		}
		mode := os.FileMode(st.Mode & 0o777)
		uid, gid := st.Uid, st.Gid
		devs = append(devs, specs.LinuxDevice{
			Path: p, Type: typ,
			Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)),
			FileMode: &mode, UID: &uid, GID: &gid,
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing host devices: %w", err)
	}
	return devs, nil
}
