package volume

import (
	"fmt"
	"io/fs"
	"os"

	corev1 "k8s.io/api/core/v1"
)

// checkHostPath checks path against a hostPath volume's type as the
// kubelet does, creating it first for DirectoryOrCreate (mode 0755, with
// parents) and FileOrCreate (mode 0644, parent must exist). A nil or
// empty type checks nothing.
func checkHostPath(path string, t *corev1.HostPathType) error {
	if t == nil || *t == corev1.HostPathUnset {
		return nil
	}
	switch *t {
	case corev1.HostPathDirectoryOrCreate:
		if _, err := os.Lstat(path); os.IsNotExist(err) {
			if err := os.MkdirAll(path, 0o755); err != nil {
				return fmt.Errorf("creating hostPath directory %s: %w", path, err)
			}
		}
	case corev1.HostPathFileOrCreate:
		if _, err := os.Lstat(path); os.IsNotExist(err) {
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return fmt.Errorf("creating hostPath file %s: %w", path, err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("creating hostPath file %s: %w", path, err)
			}
		}
	}
	info, err := os.Stat(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("checking hostPath %s: %w", path, err)
	}
	var mode fs.FileMode
	if err == nil {
		mode = info.Mode()
	}
	exists := err == nil
	var ok bool
	var what string
	switch *t {
	case corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory:
		ok, what = exists && mode.IsDir(), "a directory"
	case corev1.HostPathFileOrCreate, corev1.HostPathFile:
		ok, what = exists && mode.IsRegular(), "a file"
	case corev1.HostPathSocket:
		ok, what = exists && mode&fs.ModeSocket != 0, "a socket file"
	case corev1.HostPathCharDev:
		ok, what = exists && mode&fs.ModeCharDevice != 0, "a character device"
	case corev1.HostPathBlockDev:
		ok, what = exists && mode&fs.ModeDevice != 0 && mode&fs.ModeCharDevice == 0, "a block device"
	default:
		return fmt.Errorf("hostPath type check failed: unknown type %q", *t)
	}
	if !ok {
		return fmt.Errorf("hostPath type check failed: %s is not %s", path, what)
	}
	return nil
}
