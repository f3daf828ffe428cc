// Package stats reads the node agent's resource usage from cgroups — the
// CPU time and memory working set of the node, its pods and their
// containers — and renders it as the kubelet's /metrics/resource
// endpoint (internal/metrics' format), which the API server scrapes.
//
// Both hierarchies are read: cgroup v2 (cpu.stat usage_usec,
// memory.current, memory.stat inactive_file) and cgroup v1
// (cpuacct.usage, memory.usage_in_bytes, memory.stat total_inactive_file).
// The working set is usage less inactive file pages, as the kubelet
// computes it, and never below zero. The caller says where each cgroup
// is (CgroupAt); nothing here walks /sys/fs/cgroup.
//
// The node's own usage comes from /proc rather than the root cgroup, whose
// files differ between the layouts (the v2 root has no memory.current):
// CPU time is every non-idle field of /proc/stat's cpu line, memory is
// MemTotal less MemAvailable from /proc/meminfo.
package stats

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"berth.dev/berth/internal/metrics"
)

// Cgroup says where one cgroup's statistics are.
type Cgroup struct {
	// Unified is the cgroup's directory in the v2 hierarchy; when set,
	// the v1 directories are not read.
	Unified string
	// CPUAcct and Memory are its directories under the v1 cpuacct and
	// memory controllers.
	CPUAcct, Memory string
}

// CgroupAt is where the cgroup at path (relative to the hierarchies'
// roots, as an OCI spec's cgroupsPath) is under /sys/fs/cgroup: in the
// unified hierarchy, or under the v1 cpuacct and memory controllers.
func CgroupAt(unified bool, path string) Cgroup {
	const root = "/sys/fs/cgroup"
	if unified {
		return Cgroup{Unified: filepath.Join(root, path)}
	}
	return Cgroup{CPUAcct: filepath.Join(root, "cpuacct", path), Memory: filepath.Join(root, "memory", path)}
}

// Usage is what a cgroup has used.
type Usage struct {
	// CPUSeconds is the CPU time used since the cgroup was made.
	CPUSeconds float64
	// MemoryWorkingSet is usage less inactive file pages, in bytes.
	MemoryWorkingSet uint64
}

// Read reads a cgroup's usage.
func Read(c Cgroup) (Usage, error) {
	if c.Unified != "" {
		return readV2(c.Unified)
	}
	if c.CPUAcct == "" || c.Memory == "" {
		return Usage{}, errors.New("stats: a cgroup needs its unified directory or both v1 directories")
	}
	return readV1(c.CPUAcct, c.Memory)
}

func readV2(dir string) (Usage, error) {
	cpu, err := readKeyed(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return Usage{}, err
	}
	usec, ok := cpu["usage_usec"]
	if !ok {
		return Usage{}, fmt.Errorf("%s: no usage_usec", filepath.Join(dir, "cpu.stat"))
	}
	current, err := readUint(filepath.Join(dir, "memory.current"))
	if err != nil {
		return Usage{}, err
	}
	mem, err := readKeyed(filepath.Join(dir, "memory.stat"))
	if err != nil {
		return Usage{}, err
	}
	return Usage{CPUSeconds: float64(usec) / 1e6, MemoryWorkingSet: workingSet(current, mem["inactive_file"])}, nil
}

func readV1(cpuDir, memDir string) (Usage, error) {
	ns, err := readUint(filepath.Join(cpuDir, "cpuacct.usage"))
	if err != nil {
		return Usage{}, err
	}
	usage, err := readUint(filepath.Join(memDir, "memory.usage_in_bytes"))
	if err != nil {
		return Usage{}, err
	}
	mem, err := readKeyed(filepath.Join(memDir, "memory.stat"))
	if err != nil {
		return Usage{}, err
	}
	return Usage{CPUSeconds: float64(ns) / 1e9, MemoryWorkingSet: workingSet(usage, mem["total_inactive_file"])}, nil
}

func workingSet(usage, inactive uint64) uint64 {
	if inactive > usage {
		return 0
	}
	return usage - inactive
}

// readUint reads a file holding one unsigned number.
func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// readKeyed reads a flat-keyed file ("key value" lines; a unit after the
// value, as /proc/meminfo's kB, is ignored).
func readKeyed(path string) (map[string]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok {
			continue
		}
		f := strings.Fields(value)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		out[key] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
}

// Container is one running container and its cgroup.
type Container struct {
	Namespace, Pod, Name string
	Cgroup               Cgroup
}

// userHZ is the unit of /proc/stat's times, fixed at 100 on Linux.
const userHZ = 100

// ReadNode reads the machine's usage from procDir (/proc).
func ReadNode(procDir string) (Usage, error) {
	cpu, err := readCPUTicks(filepath.Join(procDir, "stat"))
	if err != nil {
		return Usage{}, err
	}
	mem, err := readKeyed(filepath.Join(procDir, "meminfo"))
	if err != nil {
		return Usage{}, err
	}
	total, ok := mem["MemTotal:"]
	if !ok {
		return Usage{}, fmt.Errorf("%s: no MemTotal", filepath.Join(procDir, "meminfo"))
	}
	avail, ok := mem["MemAvailable:"]
	if !ok {
		return Usage{}, fmt.Errorf("%s: no MemAvailable", filepath.Join(procDir, "meminfo"))
	}
	return Usage{CPUSeconds: float64(cpu) / userHZ, MemoryWorkingSet: workingSet(total, avail) * 1024}, nil
}

// readCPUTicks sums the busy times of /proc/stat's aggregate cpu line:
// user, nice, system, irq, softirq and steal (guest time is counted in
// user already).
func readCPUTicks(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("%s: no aggregate cpu line", path)
	}
	var sum uint64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		sum += v
	}
	return sum, nil
}

// Scrape reads each container's cgroup at now and puts them with the
// node's usage. A container whose cgroup cannot be read (it exited
// meanwhile) is left out.
func Scrape(node Usage, containers []Container, now time.Time) metrics.Scrape {
	s := metrics.Scrape{Node: metrics.Point{CPUSeconds: node.CPUSeconds, MemoryBytes: node.MemoryWorkingSet, Time: now}}
	for _, c := range containers {
		u, err := Read(c.Cgroup)
		if err != nil {
			continue
		}
		s.Containers = append(s.Containers, metrics.ContainerPoint{Namespace: c.Namespace, Pod: c.Pod, Container: c.Name,
			Point: metrics.Point{CPUSeconds: u.CPUSeconds, MemoryBytes: u.MemoryWorkingSet, Time: now}})
	}
	return s
}
