package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"berth.dev/berth/internal/agent/env"
	"berth.dev/berth/internal/agent/runtime"
)

// Mounts returns the mounts of container c of pod, from the volumes of
// the pod's last Setup, in the order of c's volumeMounts. envVars (the
// container's resolved environment) expands subPathExpr.
//
// A subPath is resolved inside its volume without following any symlink
// out of it (missing directories are created, as the kubelet does), and
// the resolved file or directory is bind-mounted from its open handle to
// <pod>/volume-subpaths/<volume>/<container>/<index>, so that swapping a
// path component for a symlink after the check cannot redirect the
// container's mount. Teardown removes those binds. Needs root when any
// mount has a subPath.
func (m *Manager) Mounts(pod *corev1.Pod, c *corev1.Container, envVars map[string]string) ([]runtime.Mount, error) {
	m.mu.Lock()
	vols, ok := m.volumes[pod.UID]
	m.mu.Unlock()
	if !ok && len(c.VolumeMounts) > 0 {
		return nil, fmt.Errorf("volumes of pod %s/%s are not set up", pod.Namespace, pod.Name)
	}
	dir, err := m.podDir(pod.UID)
	if err != nil {
		return nil, err
	}
	out := make([]runtime.Mount, 0, len(c.VolumeMounts))
	for i, vm := range c.VolumeMounts {
		vol, ok := vols[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volume %q of mount %s not found", vm.Name, vm.MountPath)
		}
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			sub = env.Expand(vm.SubPathExpr, env.MapLookup(envVars))
		}
		source := vol.Path
		if sub != "" {
			target := filepath.Join(dir, "volume-subpaths", vm.Name, c.Name, strconv.Itoa(i))
			if err := bindSubPath(vol.Path, sub, target); err != nil {
				return nil, fmt.Errorf("mount %s: %w", vm.MountPath, err)
			}
			source = target
		}
		mount := runtime.Mount{Destination: vm.MountPath, Source: source, ReadOnly: vm.ReadOnly || vol.ReadOnly}
		if vm.MountPropagation != nil {
			switch *vm.MountPropagation {
			case corev1.MountPropagationHostToContainer:
				mount.Options = []string{"rbind", "rslave"}
			case corev1.MountPropagationBidirectional:
				mount.Options = []string{"rbind", "rshared"}
			}
		}
		out = append(out, mount)
	}
	return out, nil
}

// bindSubPath bind-mounts sub of root at target, replacing an earlier bind.
func bindSubPath(root, sub, target string) error {
	f, err := openSubPath(root, sub)
	if err != nil {
		return err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("checking subPath %q: %w", sub, err)
	}
	if err := unmountAll(target); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
		return fmt.Errorf("creating subPath mount point: %w", err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.MkdirAll(target, 0o750)
	} else {
		var tf *os.File
		if tf, err = os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o640); err == nil {
			err = tf.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("creating subPath mount point: %w", err)
	}
	src := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mounting subPath %q: %w", sub, err)
	}
	return nil
}

// openSubPath opens sub (relative, without "..") inside root as an O_PATH
// handle, refusing any resolution that leaves root, symlinks included.
// Missing directories along sub are created with root's permissions.
func openSubPath(root, sub string) (*os.File, error) {
	if filepath.IsAbs(sub) {
		return nil, fmt.Errorf("subPath %q must be a relative path", sub)
	}
	for _, part := range strings.Split(filepath.ToSlash(sub), "/") {
		if part == ".." {
			return nil, fmt.Errorf("subPath %q must not contain '..'", sub)
		}
	}
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening volume %s: %w", root, err)
	}
	defer unix.Close(rootFd)
	fd, err := openBeneath(rootFd, sub)
	if errors.Is(err, unix.ENOENT) {
		fd, err = makeBeneath(root, rootFd, sub)
	}
	if errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("subpath %q not within volume path %q", sub, root)
	}
	if err != nil {
		return nil, fmt.Errorf("opening subPath %q: %w", sub, err)
	}
	return os.NewFile(uintptr(fd), filepath.Join(root, sub)), nil
}

func openBeneath(dirFd int, name string) (int, error) {
	return unix.Openat2(dirFd, name, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// makeBeneath creates the missing directories of sub one component at a
// time, each relative to its parent's handle, so no symlink swapped in
// meanwhile can move the creation outside root.
func makeBeneath(root string, rootFd int, sub string) (int, error) {
	info, err := os.Stat(root)
	if err != nil {
		return -1, err
	}
	perm := uint32(info.Mode().Perm())
	cur, err := unix.Dup(rootFd)
	if err != nil {
		return -1, err
	}
	for _, part := range strings.Split(filepath.ToSlash(filepath.Clean(sub)), "/") {
		if part == "." {
			continue
		}
		next, err := openBeneath(cur, part)
		if errors.Is(err, unix.ENOENT) {
			if err = unix.Mkdirat(cur, part, perm); err != nil && !errors.Is(err, unix.EEXIST) {
				unix.Close(cur)
				return -1, err
			}
			next, err = openBeneath(cur, part)
		}
		unix.Close(cur)
		if err != nil {
			return -1, err
		}
		cur = next
	}
	return cur, nil
}
