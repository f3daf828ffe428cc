package volume

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	corev1 "k8s.io/api/core/v1"
)

// setOwnership gives everything under dir group gid as the kubelet does for
// a pod's fsGroup: group read (and write unless readOnly) on files, plus
// search and setgid on directories so new files inherit the group.
// Symlinks are re-owned but not followed.
func setOwnership(dir string, gid int64, readOnly bool) error {
	mask := fs.FileMode(0o660)
	if readOnly {
		mask = 0o440
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, -1, int(gid)); err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		m := mask
		if d.IsDir() {
			m |= 0o110 | fs.ModeSetgid
		}
		return os.Chmod(p, info.Mode()&(fs.ModePerm|fs.ModeSetgid|fs.ModeSetuid|fs.ModeSticky)|m)
	})
	if err != nil {
		return fmt.Errorf("setting fsGroup ownership of %s: %w", dir, err)
	}
	return nil
}

// applyFSGroup applies pod's fsGroup to a writable volume directory,
// skipping the walk under fsGroupChangePolicy OnRootMismatch when the root
// already has the group and permissions.
func applyFSGroup(dir string, pod *corev1.Pod) error {
	sc := pod.Spec.SecurityContext
	if sc == nil || sc.FSGroup == nil {
		return nil
	}
	gid := *sc.FSGroup
	if sc.FSGroupChangePolicy != nil && *sc.FSGroupChangePolicy == corev1.FSGroupChangeOnRootMismatch {
		if ok, err := rootMatches(dir, gid); err != nil || ok {
			return err
		}
	}
	return setOwnership(dir, gid, false)
}

func rootMatches(dir string, gid int64) (bool, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return false, fmt.Errorf("checking ownership of %s: %w", dir, err)
	}
	want := fs.FileMode(0o770) | fs.ModeSetgid
	return fileGID(info) == gid && info.Mode()&want == want, nil
}

func fileGID(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int64(st.Gid)
	}
	return -1
}
