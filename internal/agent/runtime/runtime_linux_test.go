package runtime_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"berth.dev/berth/internal/agent/runtime"
	"berth.dev/berth/internal/agent/runtime/runtimetest"
)

func TestSandboxSharesNetworkAndHostname(t *testing.T) {
	runtimetest.Need(t)
	rt := runtimetest.New(t, runtimetest.Config(t))
	rootfs := runtimetest.Rootfs(t)
	s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "pod1", Name: "web-0", Namespace: "default", UID: "u1",
		DNS: &runtime.DNSConfig{Servers: []string{"10.43.0.10"}, Searches: []string{"default.svc.cluster.local"}}})
	if err := s.SetPodIPs([]string{"10.42.0.7"}); err != nil {
		t.Fatal(err)
	}

	server := runtimetest.Container(t, "server", rootfs, "sh", "-c", "echo hello-from-server | nc -l -p 8080")
	runtimetest.Start(t, rt, s, server)
	// The client retries while the server is not yet listening.
	client := runtimetest.Container(t, "client", rootfs, "sh", "-c",
		"hostname; cat /etc/hostname; grep web-0 /etc/hosts; cat /etc/resolv.conf; "+
			"for i in $(seq 300); do nc 127.0.0.1 8080 && exit 0; sleep 0.1; done; exit 1")
	c, recs := runtimetest.Run(t, rt, s, client)
	want := []string{
		"web-0", "web-0", "10.42.0.7\tweb-0",
		"search default.svc.cluster.local", "nameserver 10.43.0.10",
		"hello-from-server",
	}
	if diff := cmp.Diff(want, runtimetest.Stdout(recs)); diff != "" {
		t.Errorf("client output (-want +got):\n%s\nall: %v", diff, recs)
	}
	if c.ExitCode != 0 || c.OOMKilled {
		t.Errorf("client exit %d, OOM %v; want 0, false", c.ExitCode, c.OOMKilled)
	}
	ctx := context.Background()
	sc, err := rt.Wait(ctx, "server")
	if err != nil {
		t.Fatal(err)
	}
	if sc.ExitCode != 0 {
		t.Errorf("server exit %d, want 0: %v", sc.ExitCode, runtimetest.ReadLog(t, server.LogPath))
	}
}

// capMask renders capabilities as /proc/<pid>/status shows them.
func capMask(caps []string) string {
	var m uint64
	for _, c := range caps {
		m |= 1 << slices.Index(runtime.CapabilityNames, c)
	}
	return fmt.Sprintf("%016x", m)
}

func TestSecurityAppliedInsideContainer(t *testing.T) {
	runtimetest.Need(t)
	rt := runtimetest.New(t, runtimetest.Config(t))
	rootfs := runtimetest.Rootfs(t)
	s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "secpod", Name: "secpod"})

	profile := filepath.Join(t.TempDir(), "no-mkdir.json")
	if err := os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// The script prints the status lines that show what was applied, then
	// whether /proc/keys is masked, whether / is writable and whether
	// mkdir is allowed.
	script := `grep -E '^(Uid|Gid|Groups|CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\t ' ' '
if test -c /proc/keys; then echo keys masked; else echo keys visible; fi
if touch /rootfs-probe 2>/dev/null; then echo root writable; else echo root read-only; fi
if mkdir /dev/shm/probe 2>/dev/null; then rmdir /dev/shm/probe; echo mkdir allowed; else echo mkdir refused; fi`

	tests := []struct {
		name string
		sec  runtime.Security
		user runtime.User
		want []string
	}{
		{
			name: "defaults",
			want: []string{
				"Uid: 0 0 0 0", "Gid: 0 0 0 0", "Groups: ",
				"CapEff: " + capMask(runtime.DefaultCapabilities), "CapBnd: " + capMask(runtime.DefaultCapabilities),
				"NoNewPrivs: 0", "Seccomp: 2",
				"keys masked", "root writable", "mkdir allowed",
			},
		},
		{
			name: "restricted",
			sec:  runtime.Security{CapDrop: []string{"ALL"}, NoNewPrivileges: true, ReadonlyRootfs: true},
			user: runtime.User{UID: 1000, GID: 2000, AdditionalGIDs: []uint32{3000}},
			want: []string{
				"Uid: 1000 1000 1000 1000", "Gid: 2000 2000 2000 2000", "Groups: 3000 ",
				"CapEff: 0000000000000000", "CapBnd: 0000000000000000",
				"NoNewPrivs: 1", "Seccomp: 2",
				"keys masked", "root read-only", "mkdir allowed",
			},
		},
		{
			name: "add and drop, unmasked, unconfined",
			sec: runtime.Security{CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"chown", "CAP_KILL"},
				ProcMountUnmasked: true, Seccomp: runtime.Seccomp{Kind: runtime.SeccompUnconfined}},
			want: func() []string {
				caps := slices.DeleteFunc(append(slices.Clone(runtime.DefaultCapabilities), "CAP_NET_ADMIN"),
					func(c string) bool { return c == "CAP_CHOWN" || c == "CAP_KILL" })
				return []string{
					"Uid: 0 0 0 0", "Gid: 0 0 0 0", "Groups: ",
					"CapEff: " + capMask(caps), "CapBnd: " + capMask(caps),
					"NoNewPrivs: 0", "Seccomp: 0",
					"keys visible", "root writable", "mkdir allowed",
				}
			}(),
		},
		{
			name: "privileged",
			sec:  runtime.Security{Privileged: true},
			want: []string{
				"Uid: 0 0 0 0", "Gid: 0 0 0 0", "Groups: ",
				"CapEff: " + capMask(rt.Bounding()), "CapBnd: " + capMask(rt.Bounding()),
				"NoNewPrivs: 0", "Seccomp: 0",
				"keys visible", "root writable", "mkdir allowed",
			},
		},
		{
			name: "localhost profile",
			sec:  runtime.Security{Seccomp: runtime.Seccomp{Kind: runtime.SeccompLocalhost, Path: profile}},
			want: []string{
				"Uid: 0 0 0 0", "Gid: 0 0 0 0", "Groups: ",
				"CapEff: " + capMask(runtime.DefaultCapabilities), "CapBnd: " + capMask(runtime.DefaultCapabilities),
				"NoNewPrivs: 0", "Seccomp: 2",
				"keys masked", "root writable", "mkdir refused",
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(filepath.Join(rootfs, "rootfs-probe"))
			cfg := runtimetest.Container(t, fmt.Sprintf("sec%d", i), rootfs, "sh", "-c", script)
			cfg.Security, cfg.User = tt.sec, tt.user
			c, recs := runtimetest.Run(t, rt, s, cfg)
			if diff := cmp.Diff(tt.want, runtimetest.Stdout(recs)); diff != "" {
				t.Errorf("inside the container (-want +got):\n%s\nall: %v", diff, recs)
			}
			if c.ExitCode != 0 {
				t.Errorf("exit %d, want 0", c.ExitCode)
			}
		})
	}
}

func TestDefaultSeccompRefusesNamespaces(t *testing.T) {
	runtimetest.Need(t)
	rt := runtimetest.New(t, runtimetest.Config(t))
	rootfs := runtimetest.Rootfs(t)
	s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "nspod", Name: "nspod"})
	// With CAP_SYS_ADMIN dropped (the default) the profile refuses unshare;
	// busybox's unshare applet is not linked, so use "ip netns add", which
	// calls unshare(CLONE_NEWNET).
	cfg := runtimetest.Container(t, "ns", rootfs, "sh", "-c", "mkdir -p /run/netns; ip netns add x 2>&1 && echo unshare allowed || echo unshare refused")
	_, recs := runtimetest.Run(t, rt, s, cfg)
	out := strings.Join(runtimetest.Stdout(recs), "\n")
	if !strings.Contains(out, "unshare refused") {
		t.Errorf("unshare in a default container: %q, want refused", out)
	}
}

func TestMemoryLimitOOMKill(t *testing.T) {
	runtimetest.Need(t)
	rt := runtimetest.New(t, runtimetest.Config(t))
	rootfs := runtimetest.Rootfs(t)
	s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "oompod", Name: "oompod"})
	cfg := runtimetest.Container(t, "hog", rootfs, "dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1")
	cfg.Resources = runtime.Resources{MemoryLimit: 32 << 20, CPUShares: 512, CPUQuota: 50000, CPUPeriod: 100000}
	c, recs := runtimetest.Run(t, rt, s, cfg)
	if c.ExitCode != 137 || !c.OOMKilled {
		t.Errorf("exit %d, OOMKilled %v; want 137, true (log %v)", c.ExitCode, c.OOMKilled, recs)
	}

	fine := runtimetest.Container(t, "fine", rootfs, "dd", "if=/dev/zero", "of=/dev/null", "bs=1M", "count=1")
	fine.Resources = runtime.Resources{MemoryLimit: 32 << 20}
	c, _ = runtimetest.Run(t, rt, s, fine)
	if c.ExitCode != 0 || c.OOMKilled {
		t.Errorf("within the limit: exit %d, OOMKilled %v; want 0, false", c.ExitCode, c.OOMKilled)
	}
}

func TestPidsLimit(t *testing.T) {
	runtimetest.Need(t)
	rt := runtimetest.New(t, runtimetest.Config(t))
	rootfs := runtimetest.Rootfs(t)
	s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "pidspod", Name: "pidspod"})
	cfg := runtimetest.Container(t, "forker", rootfs, "sh", "-c",
		"for i in $(seq 20); do sleep 30 & done 2>&1; echo spawned")
	cfg.Resources.PidsLimit = 8
	_, recs := runtimetest.Run(t, rt, s, cfg)
	var refused bool
	for _, r := range recs {
		refused = refused || strings.Contains(r.Content, "can't fork")
	}
	if !refused {
		t.Errorf("20 processes under a limit of 8 all started: %v", recs)
	}
}

func TestStdinAndTTY(t *testing.T) {
	runtimetest.Need(t)
	rt := runtimetest.New(t, runtimetest.Config(t))
	rootfs := runtimetest.Rootfs(t)
	s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "iopod", Name: "iopod"})
	ctx := context.Background()

	tests := []struct {
		name       string
		stdin, tty bool
		want       string // what fd 0 of the container's process is
	}{
		{name: "closed", want: "/dev/null"},
		{name: "open", stdin: true, want: "pipe:"},
		{name: "tty", stdin: true, tty: true, want: "/dev/pts/0"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := runtimetest.Container(t, fmt.Sprintf("io%d", i), rootfs, "sh", "-c",
				"readlink /proc/self/fd/0; if test -t 1; then echo tty; else echo no tty; fi; echo ready; exec sleep 60")
			cfg.Stdin, cfg.TTY = tt.stdin, tt.tty
			runtimetest.Start(t, rt, s, cfg)
			out := runtimetest.WaitLog(t, cfg.LogPath, "ready")
			wantTTY := "no tty"
			if tt.tty {
				wantTTY = "tty"
			}
			if len(out) != 3 || !strings.HasPrefix(out[0], tt.want) || out[1] != wantTTY {
				t.Errorf("output %q, want stdin %q and %q", out, tt.want, wantTTY)
			}
			c, err := rt.State(ctx, cfg.ID)
			if err != nil {
				t.Fatal(err)
			}
			if c.State != runtime.StateRunning || c.Pid == 0 {
				t.Fatalf("state %s pid %d, want running", c.State, c.Pid)
			}
			if err := rt.Kill(ctx, cfg.ID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			c, err = rt.Wait(ctx, cfg.ID)
			if err != nil {
				t.Fatal(err)
			}
			if c.ExitCode != 137 {
				t.Errorf("exit %d after SIGKILL, want 137", c.ExitCode)
			}
		})
	}
}

func TestShimOutlivesAgent(t *testing.T) {
	runtimetest.Need(t)
	cfg := runtimetest.Config(t)
	rootfs := runtimetest.Rootfs(t)
	logPath := filepath.Join(t.TempDir(), "survivor.log")
	// Cleanup works on the same directories, from this process.
	rt := runtimetest.New(t, cfg)

	agent := exec.Command(os.Args[0], agentRole, cfg.RunDir, cfg.CgroupParent, rootfs, logPath)
	stdin, err := agent.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := agent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	agent.Stderr = os.Stderr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "started\n" {
		agent.Process.Kill()
		agent.Wait()
		t.Fatalf("agent said %q, %v", line, err)
	}
	if err := agent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	agent.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	list, err := rt.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("List after the agent died: %+v, want the one container", list)
	}
	got := list[0]
	if got.ID != "survivor" || got.SandboxID != "agentpod" || got.State != runtime.StateRunning || got.Pid == 0 ||
		got.StartedAt.IsZero() || got.Labels["io.kubernetes.container.name"] != "survivor" || got.LogPath != logPath {
		t.Errorf("List after the agent died: %+v", got)
	}
	// The container carries on and ends; its shim records the exit and
	// logs what it wrote after the agent's death.
	if err := os.WriteFile(filepath.Join(rootfs, "tmp", "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := rt.Wait(ctx, "survivor")
	if err != nil {
		t.Fatal(err)
	}
	if c.ExitCode != 3 || c.FinishedAt.Before(c.StartedAt) {
		t.Errorf("exit %d finished %v started %v; want 3 and finished after started", c.ExitCode, c.FinishedAt, c.StartedAt)
	}
	if diff := cmp.Diff([]string{"before", "after"}, runtimetest.Stdout(runtimetest.ReadLog(t, logPath))); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

func TestCreateFailureLeavesNothing(t *testing.T) {
	runtimetest.Need(t)
	rt := runtimetest.New(t, runtimetest.Config(t))
	rootfs := runtimetest.Rootfs(t)
	s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "failpod", Name: "failpod"})
	cfg := runtimetest.Container(t, "bad", rootfs, "/no/such/binary")
	ctx := context.Background()
	err := rt.Create(ctx, cfg, s)
	if err == nil {
		// runc reports a missing binary at create time.
		t.Fatal("Create of a missing binary succeeded")
	}
	list, lerr := rt.List(ctx)
	if lerr != nil {
		t.Fatal(lerr)
	}
	if len(list) != 0 {
		t.Errorf("after a failed Create, List = %+v, want nothing", list)
	}
}

func TestCrun(t *testing.T) {
	runtimetest.Need(t)
	if _, err := exec.LookPath("crun"); err != nil {
		t.Skip("needs crun (apt-get install crun)")
	}
	rt := runtimetest.New(t, runtimetest.Config(t))
	rootfs := runtimetest.Rootfs(t)
	s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "crunpod", Name: "crunpod"})
	cfg := runtimetest.Container(t, "c1", rootfs, "sh", "-c", "echo from-crun")
	cfg.Handler = "crun"
	if rt.CgroupMode() == runtime.CgroupHybrid {
		err := rt.Create(context.Background(), cfg, s)
		if err == nil || !strings.Contains(err.Error(), "hybrid") {
			t.Fatalf("crun on a hybrid host: %v, want an error naming the hybrid layout", err)
		}
		return
	}
	c, recs := runtimetest.Run(t, rt, s, cfg)
	if c.ExitCode != 0 || !slices.Contains(runtimetest.Stdout(recs), "from-crun") {
		t.Errorf("crun container: exit %d, log %v", c.ExitCode, recs)
	}
}

func TestNamespacesAndSysctls(t *testing.T) {
	runtimetest.Need(t)
	rt := runtimetest.New(t, runtimetest.Config(t))
	rootfs := runtimetest.Rootfs(t)
	host := map[string]string{}
	for _, ns := range []string{"net", "ipc", "uts", "pid"} {
		l, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		host[ns] = l
	}
	script := "for ns in net ipc uts pid; do readlink /proc/self/ns/$ns; done; cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shm_rmid_forced"

	pod := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "own", Name: "own"})
	var st syscall.Stat_t
	if err := syscall.Stat(pod.NetNSPath(), &st); err != nil {
		t.Fatal(err)
	}
	cfg := runtimetest.Container(t, "own1", rootfs, "sh", "-c", script)
	cfg.Security.Sysctls = map[string]string{"net.ipv4.ip_unprivileged_port_start": "0", "kernel.shm_rmid_forced": "1"}
	_, recs := runtimetest.Run(t, rt, pod, cfg)
	out := runtimetest.Stdout(recs)
	if len(out) != 6 {
		t.Fatalf("output %q", out)
	}
	if want := fmt.Sprintf("net:[%d]", st.Ino); out[0] != want {
		t.Errorf("network namespace %s, want the pinned one %s", out[0], want)
	}
	for i, ns := range []string{"net", "ipc", "uts", "pid"} {
		if out[i] == host[ns] {
			t.Errorf("pod container shares the host's %s namespace", ns)
		}
	}
	if diff := cmp.Diff([]string{"0", "1"}, out[4:]); diff != "" {
		t.Errorf("sysctls (-want +got):\n%s", diff)
	}

	hostPod := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "hostns", Name: "hostns", HostNetwork: true, HostIPC: true, HostPID: true})
	if hostPod.NetNSPath() != "" {
		t.Errorf("host-network sandbox has a network namespace %q", hostPod.NetNSPath())
	}
	_, recs = runtimetest.Run(t, rt, hostPod, runtimetest.Container(t, "host1", rootfs, "sh", "-c", script))
	out = runtimetest.Stdout(recs)
	if len(out) < 4 {
		t.Fatalf("output %q", out)
	}
	if diff := cmp.Diff([]string{host["net"], host["ipc"], host["uts"], host["pid"]}, out[:4]); diff != "" {
		t.Errorf("host namespaces (-want +got):\n%s", diff)
	}
}

func TestResourcesInsideContainer(t *testing.T) {
	runtimetest.Need(t)
	rt := runtimetest.New(t, runtimetest.Config(t))
	rootfs := runtimetest.Rootfs(t)
	s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "respod", Name: "respod"})
	cfg := runtimetest.Container(t, "limits", rootfs)
	cfg.Resources = runtime.Resources{CPUShares: 512, CPUQuota: 25000, CPUPeriod: 100000, MemoryLimit: 64 << 20, PidsLimit: 42}
	var want []string
	if rt.CgroupMode() == runtime.CgroupV2 {
		// runc converts shares to a weight: 1 + (shares-2)*9999/262142.
		cfg.Args = []string{"sh", "-c", "cd /sys/fs/cgroup; cat cpu.weight cpu.max memory.max pids.max"}
		want = []string{"20", "25000 100000", "67108864", "42"}
	} else {
		cfg.Args = []string{"sh", "-c", "cd /sys/fs/cgroup; cat cpu/cpu.shares cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us memory/memory.limit_in_bytes pids/pids.max"}
		want = []string{"512", "25000", "100000", "67108864", "42"}
	}
	_, recs := runtimetest.Run(t, rt, s, cfg)
	if diff := cmp.Diff(want, runtimetest.Stdout(recs)); diff != "" {
		t.Errorf("cgroup limits seen inside (-want +got):\n%s\nall: %v", diff, recs)
	}
}

func TestLogRotationFromContainer(t *testing.T) {
	runtimetest.Need(t)
	rt := runtimetest.New(t, runtimetest.Config(t))
	rootfs := runtimetest.Rootfs(t)
	s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "logpod", Name: "logpod"})
	// Records are about 45 bytes: 4 fit in 200.
	cfg := runtimetest.Container(t, "chatty", rootfs, "sh", "-c", "for i in $(seq 10); do echo line-$i; done")
	cfg.LogMaxSize = 200
	_, recs := runtimetest.Run(t, rt, s, cfg)
	prev := runtimetest.ReadLog(t, cfg.LogPath+".1")
	all := append(prev, recs...)
	if len(prev) == 0 || len(recs) == 0 {
		t.Fatalf("rotated %d records, current %d; want both non-empty", len(prev), len(recs))
	}
	// The two files hold the tail of the output, in order.
	out := runtimetest.Stdout(all)
	if out[len(out)-1] != "line-10" {
		t.Errorf("stdout ends with %q, want line-10", out[len(out)-1])
	}
	for i := 1; i < len(out); i++ {
		var a, b int
		fmt.Sscanf(out[i-1], "line-%d", &a)
		fmt.Sscanf(out[i], "line-%d", &b)
		if b != a+1 {
			t.Errorf("stdout %q: not consecutive", out)
			break
		}
	}
}

func TestShimKilled(t *testing.T) {
	runtimetest.Need(t)
	rt := runtimetest.New(t, runtimetest.Config(t))
	rootfs := runtimetest.Rootfs(t)
	s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "orphanpod", Name: "orphanpod"})
	cfg := runtimetest.Container(t, "orphan", rootfs, "sleep", "600")
	runtimetest.Start(t, rt, s, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	pid, err := rt.ShimPid(cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The container runs on without its shim; once it is killed nobody
	// records the exit, and Wait says so instead of waiting forever.
	if c, err := rt.State(ctx, cfg.ID); err != nil || c.State != runtime.StateRunning {
		t.Fatalf("State without a shim = %+v, %v; want running", c, err)
	}
	if err := rt.Kill(ctx, cfg.ID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c, err := rt.Wait(ctx, cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != runtime.StateUnknown || c.Reason == "" {
		t.Errorf("after the shim and the container died: %+v, want unknown with a reason", c)
	}
	if err := rt.Delete(ctx, cfg.ID); err != nil {
		t.Fatal(err)
	}
	if list, err := rt.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("List after Delete = %+v, %v; want nothing", list, err)
	}
}

func TestPodCgroup(t *testing.T) {
	runtimetest.Need(t)
	cfg := runtimetest.Config(t)
	rt := runtimetest.New(t, cfg)
	rootfs := runtimetest.Rootfs(t)
	s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "limited", Name: "limited", UID: "uid-limited",
		Resources: runtime.Resources{CPUShares: 256, CPUQuota: 30000, CPUPeriod: 100000, MemoryLimit: 32 << 20, PidsLimit: 30}})

	pod := filepath.Join(cfg.CgroupParent, "poduid-limited")
	want := map[string]string{
		"memory/memory.limit_in_bytes": "33554432", "pids/pids.max": "30",
		"cpu/cpu.shares": "256", "cpu/cpu.cfs_quota_us": "30000", "cpu/cpu.cfs_period_us": "100000",
	}
	if rt.CgroupMode() == runtime.CgroupV2 {
		want = map[string]string{"memory.max": "33554432", "pids.max": "30", "cpu.weight": "10", "cpu.max": "30000 100000"}
	}
	got := map[string]string{}
	for f := range want {
		dir, name := filepath.Split(f)
		b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", dir, pod, name))
		if err != nil {
			t.Fatal(err)
		}
		got[f] = strings.TrimSpace(string(b))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pod cgroup (-want +got):\n%s", diff)
	}

	// A container with no limit of its own is held by the pod's.
	c, recs := runtimetest.Run(t, rt, s, runtimetest.Container(t, "hog", rootfs, "dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"))
	if c.ExitCode != 137 || !c.OOMKilled {
		t.Errorf("exit %d, OOMKilled %v; want 137, true (log %v)", c.ExitCode, c.OOMKilled, recs)
	}

	if err := rt.Delete(context.Background(), "hog"); err != nil {
		t.Fatal(err)
	}
	if err := rt.RemoveSandbox("limited"); err != nil {
		t.Fatal(err)
	}
	memDir := filepath.Join("/sys/fs/cgroup/memory", pod)
	if rt.CgroupMode() == runtime.CgroupV2 {
		memDir = filepath.Join("/sys/fs/cgroup", pod)
	}
	if _, err := os.Stat(memDir); !os.IsNotExist(err) {
		t.Errorf("pod cgroup %s after RemoveSandbox: %v, want gone", memDir, err)
	}
}

// The agent starts the shim itself (one exec), in a session of its own,
// and reaps it when the container has ended.
func TestShimStartedDirectlyAndReaped(t *testing.T) {
	runtimetest.Need(t)
	rt := runtimetest.New(t, runtimetest.Config(t))
	rootfs := runtimetest.Rootfs(t)
	s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "shimpod", Name: "shimpod"})
	cfg := runtimetest.Container(t, "reaped", rootfs, "sleep", "600")
	runtimetest.Start(t, rt, s, cfg)
	pid, err := rt.ShimPid(cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ppid pgrp session ...; comm has no spaces here.
	f := strings.Fields(string(stat))
	if f[3] != strconv.Itoa(os.Getpid()) || f[5] != strconv.Itoa(pid) {
		t.Errorf("shim %d: parent %s, session %s; want parent %d (the agent) and a session of its own", pid, f[3], f[5], os.Getpid())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := rt.Kill(ctx, cfg.ID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Wait(ctx, cfg.ID); err != nil {
		t.Fatal(err)
	}
	// A shim left unreaped would stay a zombie, and /proc/PID with it.
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, fs.ErrNotExist) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("shim %d not reaped after its container ended", pid)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := rt.Delete(ctx, cfg.ID); err != nil {
		t.Fatal(err)
	}
}

// A shim that ends without reporting fails Create with what it wrote to
// its standard error, and leaves nothing behind.
func TestShimWithoutReport(t *testing.T) {
	runtimetest.Need(t)
	cfg := runtimetest.Config(t)
	cfg.ShimCommand = []string{"/bin/sh", "-c", "echo shim broke >&2; exit 1", "sh"}
	rt := runtimetest.New(t, cfg)
	rootfs := runtimetest.Rootfs(t)
	s := runtimetest.Sandbox(t, rt, runtime.SandboxConfig{ID: "noreport", Name: "noreport"})
	ctx := context.Background()
	err := rt.Create(ctx, runtimetest.Container(t, "silent", rootfs, "true"), s)
	if err == nil || !strings.Contains(err.Error(), "shim broke") {
		t.Fatalf("Create with a shim that reports nothing: %v, want its stderr", err)
	}
	if list, err := rt.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("after a failed Create, List = %+v, %v; want nothing", list, err)
	}
}
