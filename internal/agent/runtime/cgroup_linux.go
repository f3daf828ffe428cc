package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// cgroupRoot is where the cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// CgroupMode is the layout of the host's cgroup hierarchies.
type CgroupMode int

const (
	// CgroupV1 has one hierarchy per controller and no unified one.
	CgroupV1 CgroupMode = iota + 1
	// CgroupHybrid has v1 controller hierarchies plus an empty unified
	// hierarchy at /sys/fs/cgroup/unified (systemd's "hybrid" layout).
	CgroupHybrid
	// CgroupV2 is the unified hierarchy alone.
	CgroupV2
)

func (m CgroupMode) String() string {
	switch m {
	case CgroupV1:
		return "v1"
	case CgroupHybrid:
		return "hybrid"
	case CgroupV2:
		return "v2"
	}
	return "unknown"
}

// DetectCgroupMode reports the host's cgroup layout.
func DetectCgroupMode() (CgroupMode, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", cgroupRoot, err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return CgroupV2, nil
	}
	if err := unix.Statfs(filepath.Join(cgroupRoot, "unified"), &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return CgroupHybrid, nil
	}
	return CgroupV1, nil
}

// swapAccounting reports whether memory+swap can be limited.
func swapAccounting(mode CgroupMode) bool {
	if mode == CgroupV2 {
		_, err := os.Stat(filepath.Join(cgroupRoot, "memory.swap.max"))
		if err == nil {
			return true
		}
		// The root has no memory.swap.max; a child of the root shows it.
		entries, _ := os.ReadDir(cgroupRoot)
		for _, e := range entries {
			if _, err := os.Stat(filepath.Join(cgroupRoot, e.Name(), "memory.swap.max")); err == nil {
				return true
			}
		}
		return false
	}
	_, err := os.Stat(filepath.Join(cgroupRoot, "memory", "memory.memsw.limit_in_bytes"))
	return err == nil
}

// oomKilled reports whether the kernel's OOM killer killed a process in the
// cgroup at path (relative to the hierarchies' roots).
func oomKilled(mode CgroupMode, path string) (bool, error) {
	file, key := filepath.Join(cgroupRoot, path, "memory.events"), "oom_kill"
	if mode != CgroupV2 {
		file = filepath.Join(cgroupRoot, "memory", path, "memory.oom_control")
	}
	f, err := os.Open(file)
	if err != nil {
		return false, fmt.Errorf("reading OOM events: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || k != key {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return false, fmt.Errorf("parsing %s in %s: %w", key, file, err)
		}
		return n > 0, nil
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("reading %s: %w", file, err)
	}
	return false, fmt.Errorf("no %s in %s", key, file)
}

// removeCgroup removes the cgroup at path (relative to the hierarchies'
// roots) and its empty descendants from every hierarchy. A cgroup that
// does not exist is no error; one that still has processes is.
func removeCgroup(mode CgroupMode, path string) error {
	if path == "" || path == "/" {
		return fmt.Errorf("refusing to remove the root cgroup")
	}
	var dirs []string
	if mode == CgroupV2 {
		dirs = []string{filepath.Join(cgroupRoot, path)}
	} else {
		entries, err := os.ReadDir(cgroupRoot)
		if err != nil {
			return fmt.Errorf("listing cgroup hierarchies: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(cgroupRoot, e.Name(), path))
			}
		}
	}
	var errs []error
	for _, d := range dirs {
		if err := removeCgroupDir(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeCgroupDir removes a cgroup directory bottom-up. Cgroup directories
// hold only pseudo-files, which rmdir takes with them.
func removeCgroupDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing cgroup %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
		return fmt.Errorf("removing cgroup %s: not a cgroup", dir)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroupDir(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("removing cgroup %s: %w", dir, err)
	}
	return nil
}

// cgroupFile is one value written into a cgroup: a file of a controller's
// hierarchy (v1) or of the unified one (v2).
type cgroupFile struct {
	controller string // the v1 hierarchy; on v2 the controller to enable
	name       string
	value      string
}

// cgroupFiles returns the files that apply res to a cgroup in mode, in the
// order they must be written.
func cgroupFiles(mode CgroupMode, res Resources, swap bool) []cgroupFile {
	var out []cgroupFile
	if mode == CgroupV2 {
		if res.CPUShares != 0 {
			// runc's conversion of shares [2, 262144] to weights [1, 10000].
			w := 1 + ((max(res.CPUShares, 2)-2)*9999)/262142
			out = append(out, cgroupFile{"cpu", "cpu.weight", strconv.FormatUint(w, 10)})
		}
		if res.CPUQuota != 0 {
			period := res.CPUPeriod
			if period == 0 {
				period = 100000
			}
			out = append(out, cgroupFile{"cpu", "cpu.max", fmt.Sprintf("%d %d", res.CPUQuota, period)})
		}
		if res.MemoryLimit != 0 {
			out = append(out, cgroupFile{"memory", "memory.max", strconv.FormatInt(res.MemoryLimit, 10)})
			if swap {
				out = append(out, cgroupFile{"memory", "memory.swap.max", "0"})
			}
		}
		if res.PidsLimit != 0 {
			out = append(out, cgroupFile{"pids", "pids.max", strconv.FormatInt(res.PidsLimit, 10)})
		}
		return out
	}
	if res.CPUShares != 0 {
		out = append(out, cgroupFile{"cpu", "cpu.shares", strconv.FormatUint(res.CPUShares, 10)})
	}
	if res.CPUPeriod != 0 {
		out = append(out, cgroupFile{"cpu", "cpu.cfs_period_us", strconv.FormatUint(res.CPUPeriod, 10)})
	}
	if res.CPUQuota != 0 {
		out = append(out, cgroupFile{"cpu", "cpu.cfs_quota_us", strconv.FormatInt(res.CPUQuota, 10)})
	}
	if res.MemoryLimit != 0 {
		out = append(out, cgroupFile{"memory", "memory.limit_in_bytes", strconv.FormatInt(res.MemoryLimit, 10)})
		if swap {
			out = append(out, cgroupFile{"memory", "memory.memsw.limit_in_bytes", strconv.FormatInt(res.MemoryLimit, 10)})
		}
	}
	if res.PidsLimit != 0 {
		out = append(out, cgroupFile{"pids", "pids.max", strconv.FormatInt(res.PidsLimit, 10)})
	}
	return out
}

// setCgroup creates the cgroup at path (relative to the hierarchies'
// roots) and applies res to it. On v2 it first enables the controllers it
// needs in every ancestor.
func setCgroup(mode CgroupMode, path string, res Resources, swap bool) error {
	files := cgroupFiles(mode, res, swap)
	if mode == CgroupV2 {
		var enable []string
		for _, f := range files {
			if c := "+" + f.controller; !slices.Contains(enable, c) {
				enable = append(enable, c)
			}
		}
		dir := cgroupRoot
		for _, part := range strings.Split(strings.Trim(path, "/"), "/") {
			if len(enable) > 0 {
				if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(strings.Join(enable, " ")), 0o644); err != nil {
					return fmt.Errorf("enabling controllers in %s: %w", dir, err)
				}
			}
			dir = filepath.Join(dir, part)
			if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("creating cgroup: %w", err)
			}
		}
	}
	for _, f := range files {
		dir := filepath.Join(cgroupRoot, path)
		if mode != CgroupV2 {
			dir = filepath.Join(cgroupRoot, f.controller, path)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("creating cgroup: %w", err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.value), 0o644); err != nil {
			return fmt.Errorf("setting %s of cgroup %s: %w", f.name, path, err)
		}
	}
	return nil
}
