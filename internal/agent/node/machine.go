package node

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// MaxPods is the pod capacity every node reports, as the kubelet's default.
const MaxPods = 110

// Eviction reserves kept out of allocatable, as the kubelet's default
// hard eviction thresholds.
const (
	memoryReserve         = 100 << 20
	storageReservePercent = 10
)

// Machine is what the agent reports about its host.
type Machine struct {
	Capacity, Allocatable corev1.ResourceList
	Addresses             []corev1.NodeAddress
	Info                  corev1.NodeSystemInfo
	// KubeletPort is the port of the node's streaming server, reported as
	// status.daemonEndpoints.kubeletEndpoint.port; 0 reports none.
	KubeletPort int32
	// MemoryPressure and DiskPressure say the host is below the eviction
	// reserves.
	MemoryPressure, DiskPressure bool
}

// ReadMachine reads the host's facts; dataDir is the file system whose
// size is the node's ephemeral storage. kubeletVersion is reported as
// nodeInfo.kubeletVersion.
func ReadMachine(ctx context.Context, hostname, dataDir, kubeletVersion string) (Machine, error) {
	var m Machine
	cpus := runtime.NumCPU()
	if data, err := os.ReadFile("/sys/fs/cgroup/cpu.max"); err == nil {
		cpus = cpuLimit(string(data), cpus)
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return m, err
	}
	memTotal, memAvailable, err := parseMeminfo(f)
	f.Close()
	if err != nil {
		return m, fmt.Errorf("reading /proc/meminfo: %w", err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dataDir, &st); err != nil {
		return m, fmt.Errorf("statfs %s: %w", dataDir, err)
	}
	storage := int64(st.Blocks) * st.Bsize
	storageAvail := int64(st.Bavail) * st.Bsize
	m.Capacity = corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(cpus), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(memTotal, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(storage, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(MaxPods, resource.DecimalSI),
	}
	m.Allocatable = m.Capacity.DeepCopy()
	m.Allocatable[corev1.ResourceMemory] = *resource.NewQuantity(max(memTotal-memoryReserve, 0), resource.BinarySI)
	m.Allocatable[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(storage/100*(100-storageReservePercent), resource.BinarySI)
	m.MemoryPressure = memAvailable < memoryReserve
	m.DiskPressure = storageAvail < storage/100*storageReservePercent

	if ip := firstGlobalAddress(); ip != "" {
		m.Addresses = append(m.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
	m.Addresses = append(m.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: hostname})

	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return m, fmt.Errorf("uname: %w", err)
	}
	m.Info = corev1.NodeSystemInfo{
		KernelVersion:   unix.ByteSliceToString(uts.Release[:]),
		OSImage:         "Unknown",
		Architecture:    runtime.GOARCH,
		OperatingSystem: runtime.GOOS,
		MachineID:       readTrimmed("/etc/machine-id"),
		SystemUUID:      readTrimmed("/sys/class/dmi/id/product_uuid"),
		BootID:          readTrimmed("/proc/sys/kernel/random/boot_id"),
		KubeletVersion:  kubeletVersion,
	}
	if f, err := os.Open("/etc/os-release"); err == nil {
		if name := parseOSRelease(f); name != "" {
			m.Info.OSImage = name
		}
		f.Close()
	}
	m.Info.ContainerRuntimeVersion = runcVersion(ctx)
	return m, nil
}

// cpuLimit is the CPU count a cgroup v2 cpu.max ("max 100000" or
// "<quota> <period>") allows out of n, rounded up.
func cpuLimit(cpuMax string, n int) int {
	fields := strings.Fields(cpuMax)
	if len(fields) != 2 || fields[0] == "max" {
		return n
	}
	quota, err1 := strconv.ParseInt(fields[0], 10, 64)
	period, err2 := strconv.ParseInt(fields[1], 10, 64)
	if err1 != nil || err2 != nil || quota <= 0 || period <= 0 {
		return n
	}
	return min(n, int((quota+period-1)/period))
}

// parseMeminfo returns MemTotal and MemAvailable in bytes.
func parseMeminfo(r io.Reader) (total, available int64, err error) {
	s := bufio.NewScanner(r)
	found := 0
	for s.Scan() {
		key, rest, ok := strings.Cut(s.Text(), ":")
		if !ok || (key != "MemTotal" && key != "MemAvailable") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0, 0, fmt.Errorf("malformed %s line", key)
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("malformed %s line: %w", key, err)
		}
		if key == "MemTotal" {
			total = kb << 10
		} else {
			available = kb << 10
		}
		found++
	}
	if err := s.Err(); err != nil {
		return 0, 0, err
	}
	if total == 0 {
		return 0, 0, fmt.Errorf("no MemTotal")
	}
	if found < 2 {
		available = total
	}
	return total, available, nil
}

// parseOSRelease returns PRETTY_NAME of an os-release file, unquoted.
func parseOSRelease(r io.Reader) string {
	s := bufio.NewScanner(r)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "PRETTY_NAME="); ok {
			if u, err := strconv.Unquote(v); err == nil {
				return u
			}
			return strings.Trim(v, `'"`)
		}
	}
	return ""
}

// parseRuncVersion turns `runc --version` output into runc://<version>.
func parseRuncVersion(out []byte) string {
	line, _, _ := bytes.Cut(out, []byte("\n"))
	v, ok := strings.CutPrefix(strings.TrimSpace(string(line)), "runc version ")
	if !ok || v == "" {
		return ""
	}
	return "runc://" + strings.Fields(v)[0]
}

// runcVersion asks the installed runc for its version; "" without runc.
func runcVersion(ctx context.Context) string {
	path, err := exec.LookPath("runc")
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return ""
	}
	return parseRuncVersion(out)
}

// firstGlobalAddress is the first global unicast address of an up,
// non-loopback interface, IPv4 preferred.
func firstGlobalAddress() string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return ""
	}
	var v6 string
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || !ipn.IP.IsGlobalUnicast() {
				continue
			}
			if ipn.IP.To4() != nil {
				return ipn.IP.String()
			}
			if v6 == "" {
				v6 = ipn.IP.String()
			}
		}
	}
	return v6
}

func readTrimmed(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}
