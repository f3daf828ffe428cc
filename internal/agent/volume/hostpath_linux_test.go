package volume

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestCheckHostPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name    string
		path    string
		typ     corev1.HostPathType
		wantErr string
		wantDir bool // path must be a directory afterwards
		wantReg bool // path must be a regular file afterwards
	}{
		{name: "unset does not check", path: missing, typ: corev1.HostPathUnset},
		{name: "directory", path: dir, typ: corev1.HostPathDirectory, wantDir: true},
		{name: "directory missing", path: missing, typ: corev1.HostPathDirectory, wantErr: "hostPath type check failed: " + missing + " is not a directory"},
		{name: "directory is a file", path: file, typ: corev1.HostPathDirectory, wantErr: "hostPath type check failed: " + file + " is not a directory"},
		{name: "directory or create", path: filepath.Join(dir, "new", "nested"), typ: corev1.HostPathDirectoryOrCreate, wantDir: true},
		{name: "directory or create on a file", path: file, typ: corev1.HostPathDirectoryOrCreate, wantErr: "hostPath type check failed: " + file + " is not a directory"},
		{name: "file", path: file, typ: corev1.HostPathFile, wantReg: true},
		{name: "file is a directory", path: dir, typ: corev1.HostPathFile, wantErr: "hostPath type check failed: " + dir + " is not a file"},
		{name: "file missing", path: missing, typ: corev1.HostPathFile, wantErr: "hostPath type check failed: " + missing + " is not a file"},
		{name: "file or create", path: filepath.Join(dir, "newfile"), typ: corev1.HostPathFileOrCreate, wantReg: true},
		{name: "file or create on a directory", path: dir, typ: corev1.HostPathFileOrCreate, wantErr: "hostPath type check failed: " + dir + " is not a file"},
		{name: "socket", path: sock, typ: corev1.HostPathSocket},
		{name: "socket is a file", path: file, typ: corev1.HostPathSocket, wantErr: "hostPath type check failed: " + file + " is not a socket file"},
		{name: "char device", path: "/dev/null", typ: corev1.HostPathCharDev},
		{name: "char device is a file", path: file, typ: corev1.HostPathCharDev, wantErr: "hostPath type check failed: " + file + " is not a character device"},
		{name: "block device is a char device", path: "/dev/null", typ: corev1.HostPathBlockDev, wantErr: "hostPath type check failed: /dev/null is not a block device"},
		{name: "block device is a directory", path: dir, typ: corev1.HostPathBlockDev, wantErr: "hostPath type check failed: " + dir + " is not a block device"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := tt.typ
			err := checkHostPath(tt.path, &typ)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("checkHostPath error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("checkHostPath: %v", err)
			}
			if tt.wantDir || tt.wantReg {
				info, err := os.Stat(tt.path)
				if err != nil {
					t.Fatal(err)
				}
				if tt.wantDir != info.IsDir() || tt.wantReg != info.Mode().IsRegular() {
					t.Errorf("%s has mode %v", tt.path, info.Mode())
				}
			}
		})
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("checks created %s: %v", missing, err)
	}
}

func TestCheckHostPathBlockDevice(t *testing.T) {
	for _, p := range []string{"/dev/loop0", "/dev/sda", "/dev/vda", "/dev/nvme0n1", "/dev/ram0"} {
		if info, err := os.Stat(p); err == nil && info.Mode()&os.ModeDevice != 0 && info.Mode()&os.ModeCharDevice == 0 {
			typ := corev1.HostPathBlockDev
			if err := checkHostPath(p, &typ); err != nil {
				t.Fatalf("checkHostPath(%s, BlockDevice): %v", p, err)
			}
			return
		}
	}
	t.Skip("no block device found on this machine")
}
