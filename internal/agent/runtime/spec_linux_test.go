package runtime

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func testSandbox(cfg SandboxConfig) *Sandbox {
	return &Sandbox{Config: cfg, dir: "/run/berth/sandboxes/" + cfg.ID}
}

var testHost = specHost{cgroupMode: CgroupV2, cgroupParent: "/berth", bounding: capabilityNames[:], swap: true}

// TestSpecGolden checks the whole spec of a typical container against
// testdata/spec.json (go test -update rewrites it). The seccomp
// architectures depend on the machine and are checked apart.
func TestSpecGolden(t *testing.T) {
	s := testSandbox(SandboxConfig{ID: "pod1", Name: "web-0", Namespace: "default", UID: "0f3c"})
	cfg := ContainerConfig{
		ID:          "web-0-app-1",
		Rootfs:      "/var/lib/berth/rootfs/web-0-app-1",
		Args:        []string{"/app", "--port", "8080"},
		Env:         []string{"PATH=/usr/bin:/bin", "MODE=prod"},
		Cwd:         "/srv",
		User:        User{UID: 1000, GID: 1000, AdditionalGIDs: []uint32{2000}},
		OOMScoreAdj: 999,
		Mounts: []Mount{
			{Destination: "/data", Source: "/var/lib/berth/volumes/data"},
			{Destination: "/config", Source: "/var/lib/berth/volumes/config", ReadOnly: true},
			{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}},
		},
		Resources:   Resources{CPUShares: 256, CPUQuota: 50000, CPUPeriod: 100000, MemoryLimit: 128 << 20, PidsLimit: 100},
		Security:    Security{CapDrop: []string{"ALL"}, CapAdd: []string{"NET_BIND_SERVICE"}, NoNewPrivileges: true, ReadonlyRootfs: true, Sysctls: map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"}},
		Annotations: map[string]string{"io.kubernetes.pod.name": "web-0"},
	}
	spec, err := buildSpec(cfg, s, testHost)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(seccompArchitectures[goruntime.GOARCH], spec.Linux.Seccomp.Architectures); diff != "" {
		t.Errorf("seccomp architectures (-want +got):\n%s", diff)
	}
	spec.Linux.Seccomp.Architectures = nil
	got, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "spec.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)+"\n"); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
}

func TestSpecVariants(t *testing.T) {
	base := ContainerConfig{ID: "c", Rootfs: "/r", Args: []string{"sh"}}
	nsTypes := func(spec *specs.Spec) []string {
		var out []string
		for _, n := range spec.Linux.Namespaces {
			out = append(out, string(n.Type)+"="+n.Path)
		}
		return out
	}
	tests := []struct {
		name  string
		sb    SandboxConfig
		sec   Security
		mode  CgroupMode
		check func(t *testing.T, spec *specs.Spec)
	}{
		{
			name: "pod namespaces on cgroup v1",
			sb:   SandboxConfig{ID: "p"},
			mode: CgroupHybrid,
			check: func(t *testing.T, spec *specs.Spec) {
				want := []string{"mount=", "pid=", "network=/run/berth/sandboxes/p/net", "ipc=/run/berth/sandboxes/p/ipc", "uts=/run/berth/sandboxes/p/uts"}
				if diff := cmp.Diff(want, nsTypes(spec)); diff != "" {
					t.Errorf("namespaces (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "host namespaces",
			sb:   SandboxConfig{ID: "p", HostNetwork: true, HostIPC: true, HostPID: true},
			mode: CgroupV2,
			check: func(t *testing.T, spec *specs.Spec) {
				if diff := cmp.Diff([]string{"mount=", "cgroup="}, nsTypes(spec)); diff != "" {
					t.Errorf("namespaces (-want +got):\n%s", diff)
				}
				i := slices.IndexFunc(spec.Mounts, func(m specs.Mount) bool { return m.Destination == "/dev/shm" })
				if spec.Mounts[i].Source != "/dev/shm" {
					t.Errorf("/dev/shm from %s, want the host's", spec.Mounts[i].Source)
				}
			},
		},
		{
			name: "privileged",
			sb:   SandboxConfig{ID: "p"},
			sec:  Security{Privileged: true, CapDrop: []string{"ALL"}},
			mode: CgroupV2,
			check: func(t *testing.T, spec *specs.Spec) {
				if spec.Linux.Seccomp != nil || spec.Linux.MaskedPaths != nil || spec.Linux.ReadonlyPaths != nil {
					t.Errorf("privileged: seccomp %v, masked %v, read-only %v; want none", spec.Linux.Seccomp, spec.Linux.MaskedPaths, spec.Linux.ReadonlyPaths)
				}
				if diff := cmp.Diff(capabilityNames[:], spec.Process.Capabilities.Effective); diff != "" {
					t.Errorf("capabilities (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff([]specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}, spec.Linux.Resources.Devices); diff != "" {
					t.Errorf("device rules (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "unmasked proc keeps seccomp",
			sb:   SandboxConfig{ID: "p"},
			sec:  Security{ProcMountUnmasked: true},
			mode: CgroupV2,
			check: func(t *testing.T, spec *specs.Spec) {
				if spec.Linux.MaskedPaths != nil || spec.Linux.ReadonlyPaths != nil || spec.Linux.Seccomp == nil {
					t.Errorf("masked %v, read-only %v, seccomp %v", spec.Linux.MaskedPaths, spec.Linux.ReadonlyPaths, spec.Linux.Seccomp != nil)
				}
			},
		},
		{
			name: "CAP_SYS_ADMIN allows mount and unrestricted clone",
			sb:   SandboxConfig{ID: "p"},
			sec:  Security{CapAdd: []string{"SYS_ADMIN"}},
			mode: CgroupV2,
			check: func(t *testing.T, spec *specs.Spec) {
				allowed := spec.Linux.Seccomp.Syscalls[0].Names
				for _, call := range []string{"mount", "clone", "clone3", "unshare", "setns"} {
					if !slices.Contains(allowed, call) {
						t.Errorf("%s not allowed with CAP_SYS_ADMIN", call)
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			cfg.Security = tt.sec
			host := testHost
			host.cgroupMode = tt.mode
			spec, err := buildSpec(cfg, testSandbox(tt.sb), host)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, spec)
		})
	}
}

func TestDefaultSeccompFollowsCapabilities(t *testing.T) {
	allowed := defaultSeccomp(defaultCapabilities).Syscalls[0].Names
	// Without CAP_SYS_ADMIN, CAP_SYS_BOOT, CAP_SYS_MODULE, CAP_BPF: refused
	// (clone only without namespace flags, by a rule of its own).
	for _, call := range []string{"mount", "unshare", "setns", "clone", "clone3", "reboot", "init_module", "bpf"} {
		if slices.Contains(allowed, call) {
			t.Errorf("%s allowed unconditionally without its capability", call)
		}
	}
	// Ordinary calls, and chroot for the default CAP_SYS_CHROOT: allowed.
	for _, call := range []string{"read", "execve", "socketpair", "futex", "io_setup", "chroot"} {
		if !slices.Contains(allowed, call) {
			t.Errorf("%s refused", call)
		}
	}
	if slices.Contains(defaultSeccomp(nil).Syscalls[0].Names, "chroot") {
		t.Error("chroot allowed without CAP_SYS_CHROOT")
	}
}
