package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
