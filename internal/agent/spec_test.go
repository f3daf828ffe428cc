package agent

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"berth.dev/berth/internal/agent/image"
	"berth.dev/berth/internal/agent/runtime"
)

func TestCommandLine(t *testing.T) {
	img := image.ImageConfig{Entrypoint: []string{"/entry", "-x"}, Cmd: []string{"serve", "--port=80"}}
	env := map[string]string{"NAME": "world", "PORT": "8080"}
	tests := []struct {
		name          string
		command, args []string
		img           image.ImageConfig
		want          []string
	}{
		{name: "image only", img: img, want: []string{"/entry", "-x", "serve", "--port=80"}},
		{name: "args replace cmd", args: []string{"run"}, img: img, want: []string{"/entry", "-x", "run"}},
		{name: "command drops entrypoint and cmd", command: []string{"/bin/sh"}, img: img, want: []string{"/bin/sh"}},
		{name: "command and args", command: []string{"/bin/sh"}, args: []string{"-c", "true"}, img: img, want: []string{"/bin/sh", "-c", "true"}},
		{name: "cmd without entrypoint", img: image.ImageConfig{Cmd: []string{"sh"}}, want: []string{"sh"}},
		{name: "nothing", want: nil},
		{
			name: "expansion", command: []string{"echo", "$(NAME)"}, args: []string{"--port=$(PORT)", "$$(NAME)", "$(MISSING)", "$(open"},
			want: []string{"echo", "world", "--port=8080", "$(NAME)", "$(MISSING)", "$(open"},
		},
		{name: "image cmd is not expanded", img: image.ImageConfig{Cmd: []string{"$(NAME)"}}, want: []string{"$(NAME)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := commandLine(&corev1.Container{Command: tt.command, Args: tt.args}, tt.img, env)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("argv (-want +got):\n%s", diff)
			}
		})
	}
}

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "prod", UID: "u1", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: "n1", ServiceAccountName: "sa"},
	}
}

func TestContainerEnv(t *testing.T) {
	tests := []struct {
		name string
		img  []string
		vars []string
		want []string
	}{
		{
			name: "image env, hostname, default path",
			img:  []string{"LANG=C"},
			want: []string{defaultPath, "LANG=C", "HOSTNAME=web"},
		},
		{
			name: "container overrides image, in place",
			img:  []string{"PATH=/bin", "MODE=a"},
			vars: []string{"EXTRA=x", "MODE=b"},
			want: []string{"PATH=/bin", "MODE=b", "HOSTNAME=web", "EXTRA=x"},
		},
		{
			name: "container sets PATH and HOSTNAME",
			vars: []string{"HOSTNAME=other", "PATH=/opt"},
			want: []string{"HOSTNAME=other", "PATH=/opt"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := containerEnv(testPod(), image.ImageConfig{Env: tt.img}, tt.vars)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("env (-want +got):\n%s", diff)
			}
		})
	}
}

type fakeUsers map[string][2]uint32

func (f fakeUsers) lookupUser(name string) (uint32, uint32, bool) {
	u, ok := f[name]
	return u[0], u[1], ok
}

func (f fakeUsers) lookupGroup(name string) (uint32, bool) {
	if name == "staff" {
		return 50, true
	}
	return 0, false
}

func TestContainerUser(t *testing.T) {
	users := fakeUsers{"app": {1000, 1001}, "root": {0, 0}}
	tests := []struct {
		name      string
		imageUser string
		pod       *corev1.PodSecurityContext
		container *corev1.SecurityContext
		want      runtime.User
		wantErr   string
	}{
		{name: "root by default", want: runtime.User{}},
		{name: "numeric image user", imageUser: "1234", want: runtime.User{UID: 1234}},
		{name: "named image user", imageUser: "app", want: runtime.User{UID: 1000, GID: 1001}},
		{name: "named user and group", imageUser: "app:staff", want: runtime.User{UID: 1000, GID: 50}},
		{
			name: "runAsUser and runAsGroup, container over pod, groups added", imageUser: "app",
			pod:       &corev1.PodSecurityContext{RunAsUser: new(int64(5)), RunAsGroup: new(int64(6)), SupplementalGroups: []int64{7}, FSGroup: new(int64(8))},
			container: &corev1.SecurityContext{RunAsUser: new(int64(9))},
			want:      runtime.User{UID: 9, GID: 6, AdditionalGIDs: []uint32{7, 8}},
		},
		{
			name: "non-root image passes", imageUser: "app",
			pod:  &corev1.PodSecurityContext{RunAsNonRoot: new(true)},
			want: runtime.User{UID: 1000, GID: 1001},
		},
		{
			name: "root image refused", pod: &corev1.PodSecurityContext{RunAsNonRoot: new(true)},
			wantErr: `container has runAsNonRoot and image will run as root (pod: "web_prod(u1)", container: c)`,
		},
		{
			name: "unresolvable user refused", imageUser: "ghost", container: &corev1.SecurityContext{RunAsNonRoot: new(true)},
			wantErr: `container has runAsNonRoot and image will run as root (pod: "web_prod(u1)", container: c)`,
		},
		{
			name: "runAsUser 0 refused", pod: &corev1.PodSecurityContext{RunAsNonRoot: new(true), RunAsUser: new(int64(0))},
			wantErr: `container's runAsUser breaks non-root policy (pod: "web_prod(u1)", container: c)`,
		},
		{
			name: "runAsUser makes a root image non-root", container: &corev1.SecurityContext{RunAsNonRoot: new(true), RunAsUser: new(int64(1))},
			want: runtime.User{UID: 1},
		},
		{name: "unresolvable user", imageUser: "ghost", wantErr: `resolving the image's user: user "ghost": not found in the image`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod()
			pod.Spec.SecurityContext = tt.pod
			got, err := containerUser(pod, &corev1.Container{Name: "c", SecurityContext: tt.container}, image.ImageConfig{User: tt.imageUser}, users)
			if tt.wantErr != "" {
				var ce *configError
				if !errors.As(err, &ce) || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want configError %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("user (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContainerSecurity(t *testing.T) {
	unmasked := corev1.UnmaskedProcMount
	tests := []struct {
		name      string
		pod       *corev1.PodSecurityContext
		container *corev1.SecurityContext
		want      runtime.Security
		wantErr   bool
	}{
		{name: "defaults: RuntimeDefault seccomp", want: runtime.Security{}},
		{
			name: "restricted",
			container: &corev1.SecurityContext{
				AllowPrivilegeEscalation: new(false), ReadOnlyRootFilesystem: new(true),
				Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_BIND_SERVICE"}},
			},
			want: runtime.Security{NoNewPrivileges: true, ReadonlyRootfs: true, CapAdd: []string{"NET_BIND_SERVICE"}, CapDrop: []string{"ALL"}},
		},
		{
			name:      "privileged ignores allowPrivilegeEscalation false",
			container: &corev1.SecurityContext{Privileged: new(true), AllowPrivilegeEscalation: new(false), ProcMount: &unmasked},
			want:      runtime.Security{Privileged: true, ProcMountUnmasked: true},
		},
		{
			name:      "pod Unconfined, container RuntimeDefault wins",
			pod:       &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}},
			container: &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			want:      runtime.Security{},
		},
		{
			name: "pod Unconfined and sysctls",
			pod: &corev1.PodSecurityContext{
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined},
				Sysctls:        []corev1.Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "0"}},
			},
			want: runtime.Security{Seccomp: runtime.Seccomp{Kind: runtime.SeccompUnconfined}, Sysctls: map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"}},
		},
		{
			name:      "localhost profile",
			container: &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: new("p/audit.json")}},
			want:      runtime.Security{Seccomp: runtime.Seccomp{Kind: runtime.SeccompLocalhost, Path: "/data/seccomp/p/audit.json"}},
		},
		{
			name:      "localhost profile outside the directory",
			container: &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: new("../x.json")}},
			wantErr:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod()
			pod.Spec.SecurityContext = tt.pod
			got, err := containerSecurity(pod, &corev1.Container{SecurityContext: tt.container}, "/data/seccomp")
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("security (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func resources(req, lim map[corev1.ResourceName]string) corev1.ResourceRequirements {
	conv := func(m map[corev1.ResourceName]string) corev1.ResourceList {
		if m == nil {
			return nil
		}
		l := corev1.ResourceList{}
		for k, v := range m {
			l[k] = resource.MustParse(v)
		}
		return l
	}
	return corev1.ResourceRequirements{Requests: conv(req), Limits: conv(lim)}
}

func TestContainerResources(t *testing.T) {
	cpu, mem := corev1.ResourceCPU, corev1.ResourceMemory
	tests := []struct {
		name string
		res  corev1.ResourceRequirements
		want runtime.Resources
	}{
		{name: "none", want: runtime.Resources{CPUShares: 2}},
		{name: "request", res: resources(map[corev1.ResourceName]string{cpu: "250m"}, nil), want: runtime.Resources{CPUShares: 256}},
		{name: "tiny request", res: resources(map[corev1.ResourceName]string{cpu: "1m"}, nil), want: runtime.Resources{CPUShares: 2}},
		{
			name: "limits", res: resources(map[corev1.ResourceName]string{cpu: "500m"}, map[corev1.ResourceName]string{cpu: "2", mem: "64Mi"}),
			want: runtime.Resources{CPUShares: 512, CPUQuota: 200000, CPUPeriod: 100000, MemoryLimit: 64 << 20},
		},
		{
			name: "limit without request", res: resources(nil, map[corev1.ResourceName]string{cpu: "1m"}),
			want: runtime.Resources{CPUShares: 2, CPUQuota: 1000, CPUPeriod: 100000},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := containerResources(&corev1.Container{Resources: tt.res})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("resources (-want +got):\n%s", diff)
			}
		})
	}
}

func TestQOSAndOOMScore(t *testing.T) {
	cpu, mem := corev1.ResourceCPU, corev1.ResourceMemory
	full := map[corev1.ResourceName]string{cpu: "1", mem: "1Gi"}
	tests := []struct {
		name       string
		containers []corev1.ResourceRequirements
		init       []corev1.ResourceRequirements
		want       corev1.PodQOSClass
		wantOOM    int
	}{
		{name: "best effort", containers: []corev1.ResourceRequirements{{}}, want: corev1.PodQOSBestEffort, wantOOM: 1000},
		{name: "guaranteed by limits", containers: []corev1.ResourceRequirements{resources(nil, full)}, want: corev1.PodQOSGuaranteed, wantOOM: -997},
		{name: "guaranteed equal", containers: []corev1.ResourceRequirements{resources(full, full)}, want: corev1.PodQOSGuaranteed, wantOOM: -997},
		{
			name: "burstable: requests below limits", containers: []corev1.ResourceRequirements{resources(map[corev1.ResourceName]string{cpu: "1", mem: "2Gi"}, map[corev1.ResourceName]string{cpu: "1", mem: "4Gi"})},
			want: corev1.PodQOSBurstable, wantOOM: 500,
		},
		{
			name: "burstable: one container without limits", containers: []corev1.ResourceRequirements{resources(nil, full), {}},
			want: corev1.PodQOSBurstable, wantOOM: 999,
		},
		{
			name: "burstable: init container", containers: []corev1.ResourceRequirements{{}}, init: []corev1.ResourceRequirements{resources(map[corev1.ResourceName]string{mem: "1Mi"}, nil)},
			want: corev1.PodQOSBurstable, wantOOM: 999,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod()
			for _, r := range tt.containers {
				pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Resources: r})
			}
			for _, r := range tt.init {
				pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{Resources: r})
			}
			if got := qosClass(pod); got != tt.want {
				t.Errorf("qosClass %s, want %s", got, tt.want)
			}
			if got := oomScoreAdj(pod, &pod.Spec.Containers[0], 4<<30); got != tt.wantOOM {
				t.Errorf("oomScoreAdj %d, want %d", got, tt.wantOOM)
			}
		})
	}
}

func TestPodResources(t *testing.T) {
	cpu, mem := corev1.ResourceCPU, corev1.ResourceMemory
	pod := testPod()
	pod.Spec.Containers = []corev1.Container{
		{Resources: resources(nil, map[corev1.ResourceName]string{cpu: "1", mem: "64Mi"})},
		{Resources: resources(nil, map[corev1.ResourceName]string{cpu: "500m", mem: "32Mi"})},
	}
	pod.Spec.InitContainers = []corev1.Container{{Resources: resources(nil, map[corev1.ResourceName]string{cpu: "2", mem: "16Mi"})}}
	want := runtime.Resources{CPUShares: 1536, CPUQuota: 200000, CPUPeriod: 100000, MemoryLimit: 96 << 20, PidsLimit: 100}
	if diff := cmp.Diff(want, podResources(pod, 100)); diff != "" {
		t.Errorf("pod resources (-want +got):\n%s", diff)
	}
	pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{})
	want = runtime.Resources{CPUShares: 1538, PidsLimit: 100}
	if diff := cmp.Diff(want, podResources(pod, 100)); diff != "" {
		t.Errorf("pod resources with an unlimited container (-want +got):\n%s", diff)
	}
}
