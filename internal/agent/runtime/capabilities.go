package runtime

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// capabilityNames lists the Linux capabilities by number.
var capabilityNames = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// defaultCapabilities is the set every container engine gives a container
// that asks for nothing else (containerd, moby, CRI-O).
var defaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// normalizeCapability turns "net_admin" or "CAP_NET_ADMIN" into
// "CAP_NET_ADMIN" and checks it is known; "ALL" stays "ALL".
func normalizeCapability(name string) (string, error) {
	n := strings.ToUpper(name)
	if n == "ALL" {
		return n, nil
	}
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	if !slices.Contains(capabilityNames[:], n) {
		return "", fmt.Errorf("unknown capability %q", name)
	}
	return n, nil
}

// boundingCapabilities returns the capabilities in this process's bounding
// set: what a privileged container can be given.
func boundingCapabilities() ([]string, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, fmt.Errorf("reading capabilities: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		v, ok := strings.CutPrefix(line, "CapBnd:")
		if !ok {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("parsing CapBnd %q: %w", v, err)
		}
		var caps []string
		for i, name := range capabilityNames {
			if mask&(1<<i) != 0 {
				caps = append(caps, name)
			}
		}
		return caps, nil
	}
	return nil, fmt.Errorf("no CapBnd in /proc/self/status")
}

// capabilities computes a container's capability set from the defaults (or
// all of bounding for privileged containers) and the adds and drops, in the
// order upstream uses: "ALL" in add, then "ALL" in drop, then the named
// adds, then the named drops.
func capabilities(sec Security, bounding []string) ([]string, error) {
	if sec.Privileged {
		return slices.Clone(bounding), nil
	}
	add, err := normalizeCapabilities(sec.CapAdd)
	if err != nil {
		return nil, err
	}
	drop, err := normalizeCapabilities(sec.CapDrop)
	if err != nil {
		return nil, err
	}
	set := slices.Clone(defaultCapabilities)
	if slices.Contains(add, "ALL") {
		set = slices.Clone(bounding)
	}
	if slices.Contains(drop, "ALL") {
		set = nil
	}
	for _, c := range add {
		if c != "ALL" && !slices.Contains(set, c) {
			set = append(set, c)
		}
	}
	set = slices.DeleteFunc(set, func(c string) bool { return slices.Contains(drop, c) })
	slices.Sort(set)
	return set, nil
}

func normalizeCapabilities(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		c, err := normalizeCapability(n)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
