package runtime

import (
	"encoding/json"
	"fmt"
	"os"
	goruntime "runtime"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The default seccomp profile. It refuses every system call with EPERM
// except an allow-list of what ordinary programs use; calls that only a
// capability makes useful (mount, ptrace of others, module loading, clock
// setting...) are allowed only when the container has that capability. In
// effect it is the profile containerd and moby apply by default; the table is
// ours, grouped by what the calls do.

// allowedSyscalls are allowed to every container. Names unknown on the
// running architecture are ignored by the runtime.
var allowedSyscalls = [][]string{
	// processes and threads
	{
		"execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4",
		"waitid", "waitpid", "getpid", "getppid", "gettid", "getpgid",
		"getpgrp", "setpgid", "getsid", "setsid", "set_tid_address",
		"set_robust_list", "get_robust_list", "rseq", "membarrier",
		"restart_syscall", "prctl", "arch_prctl", "modify_ldt",
		"set_thread_area", "get_thread_area", "capget", "capset", "seccomp",
		"landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
		"pidfd_open", "pidfd_send_signal", "process_mrelease", "ptrace",
		"process_vm_readv", "process_vm_writev", "getcpu", "uname",
		"sysinfo", "getrusage", "times", "getrlimit", "ugetrlimit",
		"setrlimit", "prlimit64", "getpriority", "setpriority",
		"ioprio_get", "ioprio_set",
	},
	// scheduling
	{
		"sched_yield", "sched_getaffinity", "sched_setaffinity",
		"sched_getattr", "sched_setattr", "sched_getparam", "sched_setparam",
		"sched_getscheduler", "sched_setscheduler", "sched_get_priority_max",
		"sched_get_priority_min", "sched_rr_get_interval",
		"sched_rr_get_interval_time64",
	},
	// credentials
	{
		"getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32",
		"getegid", "getegid32", "getresuid", "getresuid32", "getresgid",
		"getresgid32", "getgroups", "getgroups32", "setuid", "setuid32",
		"setgid", "setgid32", "setreuid", "setreuid32", "setregid",
		"setregid32", "setresuid", "setresuid32", "setresgid", "setresgid32",
		"setfsuid", "setfsuid32", "setfsgid", "setfsgid32", "setgroups",
		"setgroups32",
	},
	// signals
	{
		"kill", "tkill", "tgkill", "rt_sigaction", "rt_sigpending",
		"rt_sigprocmask", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
		"rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
		"rt_sigtimedwait_time64", "sigaltstack", "sigprocmask", "sigreturn",
		"signalfd", "signalfd4", "pause", "alarm",
	},
	// memory
	{
		"brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise",
		"mincore", "msync", "mlock", "mlock2", "mlockall", "munlock",
		"munlockall", "remap_file_pages", "memfd_create", "memfd_secret",
		"pkey_alloc", "pkey_free", "pkey_mprotect", "map_shadow_stack",
	},
	// files and directories
	{
		"open", "openat", "openat2", "creat", "close", "close_range", "read",
		"readv", "pread64", "preadv", "preadv2", "write", "writev",
		"pwrite64", "pwritev", "pwritev2", "lseek", "_llseek", "dup", "dup2",
		"dup3", "fcntl", "fcntl64", "ioctl", "flock", "fsync", "fdatasync",
		"sync", "syncfs", "sync_file_range", "fadvise64", "fadvise64_64",
		"readahead", "fallocate", "truncate", "truncate64", "ftruncate",
		"ftruncate64", "sendfile", "sendfile64", "splice", "tee", "vmsplice",
		"copy_file_range", "cachestat", "stat", "stat64", "lstat", "lstat64",
		"fstat", "fstat64", "fstatat64", "newfstatat", "statx", "statfs",
		"statfs64", "fstatfs", "fstatfs64", "access", "faccessat",
		"faccessat2", "chdir", "fchdir", "getcwd", "getdents", "getdents64",
		"mkdir", "mkdirat", "mknod", "mknodat", "rmdir", "rename",
		"renameat", "renameat2", "link", "linkat", "symlink", "symlinkat",
		"unlink", "unlinkat", "readlink", "readlinkat", "chmod", "fchmod",
		"fchmodat", "fchmodat2", "chown", "chown32", "fchown", "fchown32",
		"fchownat", "lchown", "lchown32", "umask", "utime", "utimes",
		"utimensat", "utimensat_time64", "futimesat", "name_to_handle_at",
		"getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr",
		"fsetxattr", "listxattr", "llistxattr", "flistxattr", "removexattr",
		"lremovexattr", "fremovexattr", "inotify_init", "inotify_init1",
		"inotify_add_watch", "inotify_rm_watch", "fanotify_mark", "pipe",
		"pipe2",
	},
	// waiting for events
	{
		"select", "_newselect", "pselect6", "pselect6_time64", "poll",
		"ppoll", "ppoll_time64", "epoll_create", "epoll_create1",
		"epoll_ctl", "epoll_ctl_old", "epoll_wait", "epoll_wait_old",
		"epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "futex",
		"futex_time64", "futex_waitv", "futex_wait", "futex_wake",
		"futex_requeue",
	},
	// asynchronous I/O
	{
		"io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents",
		"io_pgetevents", "io_pgetevents_time64",
	},
	// time
	{
		"time", "gettimeofday", "clock_gettime", "clock_gettime64",
		"clock_getres", "clock_getres_time64", "clock_nanosleep",
		"clock_nanosleep_time64", "nanosleep", "adjtimex", "clock_adjtime",
		"clock_adjtime64", "getitimer", "setitimer", "timer_create",
		"timer_delete", "timer_getoverrun", "timer_gettime",
		"timer_gettime64", "timer_settime", "timer_settime64",
		"timerfd_create", "timerfd_gettime", "timerfd_gettime64",
		"timerfd_settime", "timerfd_settime64", "getrandom",
	},
	// sockets (socket itself is allowed below, without AF_VSOCK)
	{
		"socketpair", "socketcall", "bind", "listen", "accept", "accept4",
		"connect", "shutdown", "getsockname", "getpeername", "getsockopt",
		"setsockopt", "send", "sendto", "sendmsg", "sendmmsg", "recv",
		"recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64",
	},
	// System V and POSIX IPC
	{
		"ipc", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop",
		"semtimedop", "semtimedop_time64", "semctl", "shmget", "shmat",
		"shmdt", "shmctl", "mq_open", "mq_unlink", "mq_timedsend",
		"mq_timedsend_time64", "mq_timedreceive", "mq_timedreceive_time64",
		"mq_notify", "mq_getsetattr",
	},
	// architecture specifics (ARM, POWER, s390, RISC-V)
	{
		"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2",
		"breakpoint", "cacheflush", "set_tls", "swapcontext",
		"s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr",
		"riscv_flush_icache",
	},
}

// capabilitySyscalls are allowed only to containers with the capability.
var capabilitySyscalls = map[string][]string{
	"CAP_SYS_ADMIN": {
		"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount",
		"fsopen", "fspick", "lookup_dcookie", "mount", "mount_setattr",
		"move_mount", "open_tree", "perf_event_open", "quotactl",
		"quotactl_fd", "setdomainname", "sethostname", "setns", "syslog",
		"umount", "umount2", "unshare",
	},
	"CAP_DAC_READ_SEARCH": {"open_by_handle_at"},
	"CAP_SYS_BOOT":        {"reboot"},
	"CAP_SYS_CHROOT":      {"chroot"},
	"CAP_SYS_MODULE":      {"init_module", "finit_module", "delete_module"},
	"CAP_SYS_PACCT":       {"acct"},
	"CAP_SYS_PTRACE":      {"kcmp", "pidfd_getfd", "process_madvise"},
	"CAP_SYS_RAWIO":       {"iopl", "ioperm"},
	"CAP_SYS_TIME":        {"settimeofday", "stime", "clock_settime", "clock_settime64"},
	"CAP_SYS_TTY_CONFIG":  {"vhangup"},
	"CAP_SYS_NICE":        {"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"},
	"CAP_SYSLOG":          {"syslog"},
	"CAP_BPF":             {"bpf"},
	"CAP_PERFMON":         {"perf_event_open"},
}

// cloneNamespaceFlags are the clone flags that make namespaces, refused to
// containers without CAP_SYS_ADMIN.
const cloneNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// seccompArchitectures gives the architectures a filter covers on each Go
// architecture: the native one and those its kernel also runs.
var seccompArchitectures = map[string][]specs.Arch{
	"amd64":   {specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
	"386":     {specs.ArchX86},
	"arm64":   {specs.ArchAARCH64, specs.ArchARM},
	"arm":     {specs.ArchARM},
	"ppc64le": {specs.ArchPPC64LE},
	"s390x":   {specs.ArchS390X, specs.ArchS390},
	"riscv64": {specs.ArchRISCV64},
}

// defaultSeccomp returns the default profile for a container holding caps.
func defaultSeccomp(caps []string) *specs.LinuxSeccomp {
	eperm := uint(unix.EPERM)
	enosys := uint(unix.ENOSYS)
	var names []string
	for _, group := range allowedSyscalls {
		names = append(names, group...)
	}
	for _, c := range caps {
		names = append(names, capabilitySyscalls[c]...)
	}
	slices.Sort(names)
	names = slices.Compact(names)

	rules := []specs.LinuxSyscall{
		{Names: names, Action: specs.ActAllow},
		{
			// Any socket but AF_VSOCK, which reaches the host.
			Names:  []string{"socket"},
			Action: specs.ActAllow,
			Args:   []specs.LinuxSeccompArg{{Index: 0, Value: unix.AF_VSOCK, Op: specs.OpNotEqual}},
		},
		{
			// Only the personalities programs ask for: default, 32-bit,
			// UNAME26 and the query.
			Names:  []string{"personality"},
			Action: specs.ActAllow,
			Args:   []specs.LinuxSeccompArg{{Index: 0, Value: 0x0, Op: specs.OpEqualTo}},
		},
		{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x0008, Op: specs.OpEqualTo}}},
		{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x20000, Op: specs.OpEqualTo}}},
		{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x20008, Op: specs.OpEqualTo}}},
		{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xffffffff, Op: specs.OpEqualTo}}},
	}
	if !slices.Contains(caps, "CAP_SYS_ADMIN") {
		// clone without namespace flags (s390 swaps the first two
		// arguments); clone3 says ENOSYS so libc falls back to clone,
		// whose flags the filter can see.
		cloneArg := uint(0)
		if goruntime.GOARCH == "s390x" {
			cloneArg = 1
		}
		rules = append(rules,
			specs.LinuxSyscall{
				Names:  []string{"clone"},
				Action: specs.ActAllow,
				Args:   []specs.LinuxSeccompArg{{Index: cloneArg, Value: cloneNamespaceFlags, ValueTwo: 0, Op: specs.OpMaskedEqual}},
			},
			specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
		)
	}
	return &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &eperm,
		Architectures:   seccompArchitectures[goruntime.GOARCH],
		Syscalls:        rules,
	}
}

// loadSeccomp reads a Localhost profile: an OCI LinuxSeccomp in JSON.
func loadSeccomp(path string) (*specs.LinuxSeccomp, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading seccomp profile: %w", err)
	}
	var p specs.LinuxSeccomp
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("parsing seccomp profile %s: %w", path, err)
	}
	if p.DefaultAction == "" {
		return nil, fmt.Errorf("seccomp profile %s: no defaultAction", path)
	}
	return &p, nil
}
