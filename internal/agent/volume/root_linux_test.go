package volume

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"berth.dev/berth/internal/agent/runtime"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (mounts, ownership changes)")
	}
}

func mountedUnder(t *testing.T, dir string) []string {
	t.Helper()
	mps, err := mountPointsUnder(dir)
	if err != nil {
		t.Fatal(err)
	}
	return mps
}

func TestMemoryEmptyDir(t *testing.T) {
	requireRoot(t)
	m, _ := newTestManager(t)
	pod := volumePod(
		corev1.Volume{Name: "sized", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr(resource.MustParse("8Mi"))}}},
		corev1.Volume{Name: "node", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
	)
	ctx := context.Background()
	var vols map[string]Volume
	for range 2 { // idempotent: the second Setup must not stack mounts
		var err error
		if vols, err = m.Setup(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	podDir := filepath.Join(m.cfg.DataDir, "agent/pods/uid-1")
	t.Cleanup(func() { unmountAll(podDir) })
	for name, want := range map[string]int64{"sized": 8 << 20, "node": 1 << 30} {
		var st unix.Statfs_t
		if err := unix.Statfs(vols[name].Path, &st); err != nil {
			t.Fatal(err)
		}
		if st.Type != unix.TMPFS_MAGIC {
			t.Errorf("%s: filesystem type %#x, want tmpfs", name, st.Type)
		}
		if got := int64(st.Blocks) * st.Bsize; got != want {
			t.Errorf("%s: size %d, want %d", name, got, want)
		}
	}
	if got := len(mountedUnder(t, podDir)); got != 2 {
		t.Errorf("%d mounts under the pod directory, want 2", got)
	}
	if err := m.Teardown(ctx, pod.UID); err != nil {
		t.Fatal(err)
	}
	if got := mountedUnder(t, podDir); len(got) != 0 {
		t.Errorf("mounts left after Teardown: %v", got)
	}
}

func TestFSGroup(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	const gid = 2345
	for _, policy := range []corev1.PodFSGroupChangePolicy{corev1.FSGroupChangeAlways, corev1.FSGroupChangeOnRootMismatch} {
		t.Run(string(policy), func(t *testing.T) {
			m, _ := newTestManager(t)
			pod := volumePod(
				corev1.Volume{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				corev1.Volume{Name: "d", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
					DefaultMode: ptr[int32](0o400),
					Items:       []corev1.DownwardAPIVolumeFile{{Path: "n", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}},
			)
			pod.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr[int64](gid), FSGroupChangePolicy: &policy}
			vols, err := m.Setup(ctx, pod)
			if err != nil {
				t.Fatal(err)
			}
			e := vols["e"].Path
			// A file the container wrote as another group: Always fixes it on
			// the next Setup, OnRootMismatch leaves it since the root matches.
			f := filepath.Join(e, "f")
			if err := os.WriteFile(f, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(f, 0, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Setup(ctx, pod); err != nil {
				t.Fatal(err)
			}
			wantF := struct {
				gid  int64
				mode fs.FileMode
			}{gid, 0o660}
			if policy == corev1.FSGroupChangeOnRootMismatch {
				wantF.gid, wantF.mode = 0, 0o600
			}
			check := func(p string, gid int64, mode fs.FileMode) {
				t.Helper()
				info, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if g, md := fileGID(info), info.Mode()&(fs.ModePerm|fs.ModeSetgid); g != gid || md != mode {
					t.Errorf("%s: gid %d mode %v, want gid %d mode %v", p, g, md, gid, mode)
				}
			}
			check(e, gid, 0o777|fs.ModeSetgid)
			check(f, wantF.gid, wantF.mode)
			check(filepath.Join(vols["d"].Path, "n"), gid, 0o440)
		})
	}
}

func TestMountsSubPath(t *testing.T) {
	requireRoot(t)
	m, _ := newTestManager(t)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "conf"), []byte("c"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(host, "evil")); err != nil {
		t.Fatal(err)
	}
	pod := volumePod(
		corev1.Volume{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: host}}},
		corev1.Volume{Name: "d", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
			Items: []corev1.DownwardAPIVolumeFile{{Path: "n", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}},
	)
	ctx := context.Background()
	vols, err := m.Setup(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	podDir := filepath.Join(m.cfg.DataDir, "agent/pods/uid-1")
	t.Cleanup(func() { unmountAll(podDir) })
	c := &corev1.Container{Name: "c", VolumeMounts: []corev1.VolumeMount{
		{Name: "e", MountPath: "/data"},
		{Name: "e", MountPath: "/logs", SubPathExpr: "logs/$(POD)"},
		{Name: "h", MountPath: "/etc/conf", SubPath: "conf", ReadOnly: true},
		{Name: "d", MountPath: "/info"},
		{Name: "h", MountPath: "/shared", MountPropagation: ptr(corev1.MountPropagationHostToContainer)},
	}}
	for range 2 { // a container restart asks again; binds are replaced, not stacked
		got, err := m.Mounts(pod, c, map[string]string{"POD": "p"})
		if err != nil {
			t.Fatal(err)
		}
		sub := func(i string) string { return filepath.Join(podDir, "volume-subpaths", i) }
		want := []runtime.Mount{
			{Destination: "/data", Source: vols["e"].Path},
			{Destination: "/logs", Source: sub("e/c/1")},
			{Destination: "/etc/conf", Source: sub("h/c/2"), ReadOnly: true},
			{Destination: "/info", Source: vols["d"].Path, ReadOnly: true},
			{Destination: "/shared", Source: host, Options: []string{"rbind", "rslave"}},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("Mounts (-want +got):\n%s", diff)
		}
	}
	if info, err := os.Stat(filepath.Join(vols["e"].Path, "logs/p")); err != nil || !info.IsDir() {
		t.Errorf("subPathExpr directory not created: %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(podDir, "volume-subpaths/h/c/2")); err != nil || string(data) != "c" {
		t.Errorf("subPath file bind: %q, %v", data, err)
	}
	if got := len(mountedUnder(t, podDir)); got != 2 {
		t.Errorf("%d mounts under the pod directory, want 2", got)
	}
	for _, bad := range []corev1.VolumeMount{
		{Name: "h", MountPath: "/x", SubPath: "evil/passwd"},
		{Name: "e", MountPath: "/x", SubPathExpr: "$(UP)/x"},
		{Name: "missing", MountPath: "/x"},
	} {
		if _, err := m.Mounts(pod, &corev1.Container{Name: "c", VolumeMounts: []corev1.VolumeMount{bad}}, map[string]string{"UP": ".."}); err == nil {
			t.Errorf("Mounts accepted %+v", bad)
		}
	}
	if err := m.Teardown(ctx, pod.UID); err != nil {
		t.Fatal(err)
	}
	if got := mountedUnder(t, podDir); len(got) != 0 {
		t.Errorf("mounts left after Teardown: %v", got)
	}
	if _, err := os.Stat(filepath.Join(host, "conf")); err != nil {
		t.Errorf("Teardown touched the host path: %v", err)
	}
}
