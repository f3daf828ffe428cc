package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Prepare gives a container its root filesystem: an overlayfs mount whose
// lower directories are the image's unpacked layers and whose upper and
// work directories belong to the container alone. It returns the mount
// point and a cleanup function equal to Release(containerID). The layers
// stay stored while the container is prepared, even if its image is
// removed. Preparing a prepared container returns its existing rootfs,
// mounting it again if needed (after a reboot).
func (s *Store) Prepare(containerID, image string) (rootfs string, cleanup func() error, err error) {
	if containerID == "" || containerID == "." || containerID == ".." || strings.ContainsAny(containerID, "/,:") {
		return "", nil, fmt.Errorf("preparing rootfs: invalid container ID %q", containerID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := s.path("containers", containerID)
	layers, prepared := s.containers[containerID]
	if !prepared {
		img, err := s.getLocked(image)
		if err != nil {
			return "", nil, fmt.Errorf("preparing rootfs of container %s: %w", containerID, err)
		}
		layers = slices.Clone(img.Layers)
		for _, d := range []string{"", "upper", "work", "rootfs"} {
			if err := os.Mkdir(s.path("containers", containerID, d), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return "", nil, fmt.Errorf("preparing rootfs of container %s: %w", containerID, err)
			}
		}
		// The record makes the layers the container's before anything is
		// mounted on them; without it, New removes the directory.
		if err := writeJSONAtomic(s.path("containers", containerID, "layers.json"), layers); err != nil {
			return "", nil, fmt.Errorf("preparing rootfs of container %s: %w", containerID, err)
		}
		s.containers[containerID] = layers
	}
	rootfs = s.path("containers", containerID, "rootfs")
	cleanup = func() error { return s.Release(containerID) }
	mounted, err := isMountPoint(rootfs)
	if err != nil {
		return "", nil, fmt.Errorf("preparing rootfs of container %s: %w", containerID, err)
	}
	if mounted {
		return rootfs, cleanup, nil
	}
	if err := s.mountOverlay(dir, layers); err != nil {
		return "", nil, fmt.Errorf("preparing rootfs of container %s: %w", containerID, err)
	}
	return rootfs, cleanup, nil
}

// mountOverlay mounts dir/rootfs with the layers (bottom first) below
// dir/upper.
func (s *Store) mountOverlay(dir string, layers []string) error {
	lower := make([]string, 0, len(layers)+1)
	for i := len(layers) - 1; i >= 0; i-- {
		lower = append(lower, s.layerDir(layers[i]))
	}
	if len(lower) == 0 {
		// overlayfs needs a lower directory; an image without layers
		// gets an empty one of the container's own.
		empty := dir + "/empty"
		if err := os.Mkdir(empty, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		lower = append(lower, empty)
	}
	// The merged root directory takes its owner and mode from the upper
	// directory: give it the image's, or a non-root container could not
	// even look up its own entrypoint.
	var st unix.Stat_t
	if err := unix.Stat(lower[0], &st); err != nil {
		return err
	}
	if err := unix.Chown(dir+"/upper", int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if err := unix.Chmod(dir+"/upper", st.Mode&0o7777); err != nil {
		return err
	}
	upper, work, target := dir+"/upper", dir+"/work", dir+"/rootfs"
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lower, ":"), upper, work)
	if len(opts) < os.Getpagesize() {
		if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
			return fmt.Errorf("mounting overlay: %w", err)
		}
		return nil
	}
	// mount(2) takes one page of options; the mount API takes the lower
	// directories one by one (Linux 6.8 and later).
	if err := mountOverlayFD(lower, upper, work, target); err != nil {
		return fmt.Errorf("mounting overlay of %d layers (%d bytes of options): %w", len(layers), len(opts), err)
	}
	return nil
}

// mountOverlayFD mounts an overlay with the file-descriptor mount API,
// adding each lower directory ("lowerdir+", top first) by itself.
func mountOverlayFD(lower []string, upper, work, target string) error {
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen: %w", err)
	}
	defer unix.Close(fsfd)
	for _, l := range lower {
		if err := unix.FsconfigSetString(fsfd, "lowerdir+", l); err != nil {
			return fmt.Errorf("adding lower directory %s: %w", l, err)
		}
	}
	if err := unix.FsconfigSetString(fsfd, "upperdir", upper); err != nil {
		return fmt.Errorf("upperdir: %w", err)
	}
	if err := unix.FsconfigSetString(fsfd, "workdir", work); err != nil {
		return fmt.Errorf("workdir: %w", err)
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("creating overlay: %w", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// Release unmounts a container's root filesystem, deletes its writable
// layer and removes the image layers that nothing else uses any more.
// Releasing an unknown container does nothing.
func (s *Store) Release(containerID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	layers, ok := s.containers[containerID]
	if !ok {
		return nil
	}
	dir := s.path("containers", containerID)
	rootfs := dir + "/rootfs"
	mounted, err := isMountPoint(rootfs)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("releasing rootfs of container %s: %w", containerID, err)
	}
	if mounted {
		err := unix.Unmount(rootfs, 0)
		if errors.Is(err, syscall.EBUSY) {
			err = unix.Unmount(rootfs, unix.MNT_DETACH)
		}
		if err != nil {
			return fmt.Errorf("releasing rootfs of container %s: unmounting: %w", containerID, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("releasing rootfs of container %s: %w", containerID, err)
	}
	delete(s.containers, containerID)
	for _, l := range layers {
		if err := s.removeLayerIfUnusedLocked(l); err != nil {
			return err
		}
	}
	return nil
}

// Containers returns the IDs of the prepared containers, so that the agent
// can release those it no longer knows after a restart.
func (s *Store) Containers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.containers))
	for id := range s.containers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// isMountPoint reports whether p is mounted on: whether it lies on another
// device than its parent.
func isMountPoint(p string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return false, err
	}
	if err := unix.Lstat(p+"/..", &parent); err != nil {
		return false, err
	}
	return st.Dev != parent.Dev, nil
}
