package agent

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"berth.dev/berth/internal/agent/env"
	"berth.dev/berth/internal/agent/image"
	"berth.dev/berth/internal/agent/runtime"
)

// defaultPath is the PATH of a container whose image sets none, as
// containerd gives it.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// configError is a container that cannot be configured as its spec says:
// reported as CreateContainerConfigError, retried on the next sync.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// commandLine is the process's argv as kubelet builds it: command
// replaces the image's Entrypoint and drops its Cmd; args replace Cmd.
// $(VAR) references to the container's resolved environment are expanded.
func commandLine(c *corev1.Container, img image.ImageConfig, vars map[string]string) []string {
	lookup := env.MapLookup(vars)
	expand := func(in []string) []string {
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = env.Expand(s, lookup)
		}
		return out
	}
	if len(c.Command) > 0 {
		return append(expand(c.Command), expand(c.Args)...)
	}
	argv := slices.Clone(img.Entrypoint)
	if len(c.Args) > 0 {
		return append(argv, expand(c.Args)...)
	}
	return append(argv, img.Cmd...)
}

// containerEnv is the process's environment: the image's, then HOSTNAME,
// then the container's resolved variables (env.Resolve), each replacing
// an earlier one of its name in place, with a default PATH when none is
// set.
func containerEnv(pod *corev1.Pod, img image.ImageConfig, vars []string) []string {
	var out []string
	idx := map[string]int{}
	set := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			return
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	for _, e := range img.Env {
		set(e)
	}
	set("HOSTNAME=" + pod.Name)
	for _, e := range vars {
		set(e)
	}
	if _, ok := idx["PATH"]; !ok {
		out = append([]string{defaultPath}, out...)
	}
	return out
}

// userDB resolves the names of an image's USER in the container's
// /etc/passwd and /etc/group. A nil userDB resolves nothing.
type userDB interface {
	lookupUser(name string) (uid, gid uint32, ok bool)
	lookupGroup(name string) (gid uint32, ok bool)
}

// errUnresolved marks a user or group name the image's files do not have.
var errUnresolved = errors.New("not found in the image")

// imageUser resolves an image's "user[:group]" to IDs. A numeric user
// without group gets the group of its passwd entry, or 0.
func imageUser(spec string, db userDB) (uid, gid uint32, err error) {
	u, g, hasGroup := strings.Cut(spec, ":")
	if u == "" {
		u = "0"
	}
	if n, perr := strconv.ParseUint(u, 10, 32); perr == nil {
		uid = uint32(n)
	} else {
		var ok bool
		if db != nil {
			uid, gid, ok = db.lookupUser(u)
		}
		if !ok {
			return 0, 0, fmt.Errorf("user %q: %w", u, errUnresolved)
		}
	}
	if !hasGroup {
		return uid, gid, nil
	}
	if n, perr := strconv.ParseUint(g, 10, 32); perr == nil {
		return uid, uint32(n), nil
	}
	if db != nil {
		if id, ok := db.lookupGroup(g); ok {
			return uid, id, nil
		}
	}
	return 0, 0, fmt.Errorf("group %q: %w", g, errUnresolved)
}

// effectiveSecurity merges a container's security context over the pod's,
// for the fields both have.
type effectiveSecurity struct {
	runAsUser, runAsGroup *int64
	runAsNonRoot          *bool
	seccomp               *corev1.SeccompProfile
}

func mergeSecurity(pod *corev1.Pod, c *corev1.Container) effectiveSecurity {
	var e effectiveSecurity
	if p := pod.Spec.SecurityContext; p != nil {
		e = effectiveSecurity{p.RunAsUser, p.RunAsGroup, p.RunAsNonRoot, p.SeccompProfile}
	}
	if s := c.SecurityContext; s != nil {
		if s.RunAsUser != nil {
			e.runAsUser = s.RunAsUser
		}
		if s.RunAsGroup != nil {
			e.runAsGroup = s.RunAsGroup
		}
		if s.RunAsNonRoot != nil {
			e.runAsNonRoot = s.RunAsNonRoot
		}
		if s.SeccompProfile != nil {
			e.seccomp = s.SeccompProfile
		}
	}
	return e
}

// containerUser is the process's identity: runAsUser and runAsGroup over
// the image's USER; supplementalGroups and fsGroup added. runAsNonRoot is
// checked as kubelet does.
func containerUser(pod *corev1.Pod, c *corev1.Container, img image.ImageConfig, db userDB) (runtime.User, error) {
	sec := mergeSecurity(pod, c)
	var u runtime.User
	var imgErr error
	u.UID, u.GID, imgErr = imageUser(img.User, db)
	if sec.runAsUser != nil {
		u.UID = uint32(*sec.runAsUser)
		if imgErr != nil {
			// Only the image's group is lost; kubelet's runtime uses 0.
			u.GID, imgErr = 0, nil
		}
	}
	if sec.runAsNonRoot != nil && *sec.runAsNonRoot {
		switch {
		case sec.runAsUser != nil && *sec.runAsUser == 0:
			return u, &configError{fmt.Sprintf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", podRef(pod), c.Name)}
		case sec.runAsUser == nil && (imgErr != nil || u.UID == 0):
			return u, &configError{fmt.Sprintf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", podRef(pod), c.Name)}
		}
	}
	if imgErr != nil {
		return u, &configError{fmt.Sprintf("resolving the image's user: %v", imgErr)}
	}
	if sec.runAsGroup != nil {
		u.GID = uint32(*sec.runAsGroup)
	}
	if p := pod.Spec.SecurityContext; p != nil {
		for _, g := range p.SupplementalGroups {
			u.AdditionalGIDs = append(u.AdditionalGIDs, uint32(g))
		}
		if p.FSGroup != nil {
			u.AdditionalGIDs = append(u.AdditionalGIDs, uint32(*p.FSGroup))
		}
	}
	return u, nil
}

func podRef(pod *corev1.Pod) string {
	return pod.Name + "_" + pod.Namespace + "(" + string(pod.UID) + ")"
}

// containerSecurity maps the security context onto the runtime's.
// Localhost seccomp profiles live under seccompDir.
func containerSecurity(pod *corev1.Pod, c *corev1.Container, seccompDir string) (runtime.Security, error) {
	var s runtime.Security
	sc := c.SecurityContext
	if sc != nil {
		s.Privileged = sc.Privileged != nil && *sc.Privileged
		if sc.Capabilities != nil {
			for _, a := range sc.Capabilities.Add {
				s.CapAdd = append(s.CapAdd, string(a))
			}
			for _, d := range sc.Capabilities.Drop {
				s.CapDrop = append(s.CapDrop, string(d))
			}
		}
		s.NoNewPrivileges = sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation && !s.Privileged
		s.ReadonlyRootfs = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
		s.ProcMountUnmasked = sc.ProcMount != nil && *sc.ProcMount == corev1.UnmaskedProcMount
	}
	if prof := mergeSecurity(pod, c).seccomp; prof != nil {
		switch prof.Type {
		case corev1.SeccompProfileTypeUnconfined:
			s.Seccomp.Kind = runtime.SeccompUnconfined
		case corev1.SeccompProfileTypeLocalhost:
			if prof.LocalhostProfile == nil || !filepath.IsLocal(*prof.LocalhostProfile) {
				return s, &configError{"seccomp: localhost profile must be a relative path"}
			}
			s.Seccomp = runtime.Seccomp{Kind: runtime.SeccompLocalhost, Path: filepath.Join(seccompDir, *prof.LocalhostProfile)}
		}
	}
	if p := pod.Spec.SecurityContext; p != nil && len(p.Sysctls) > 0 {
		s.Sysctls = make(map[string]string, len(p.Sysctls))
		for _, sy := range p.Sysctls {
			s.Sysctls[sy.Name] = sy.Value
		}
	}
	return s, nil
}

// CPU cgroup constants, as kubelet uses them.
const (
	minShares     = 2
	sharesPerCPU  = 1024
	cpuPeriod     = 100000
	minQuotaUsecs = 1000
)

// cpuShares converts a CPU request to shares; no request is the minimum.
func cpuShares(req *resource.Quantity) uint64 {
	if req == nil || req.IsZero() {
		return minShares
	}
	return max(uint64(req.MilliValue())*sharesPerCPU/1000, minShares)
}

// cpuQuota converts a CPU limit to a quota per cpuPeriod; 0 is no limit.
func cpuQuota(limit *resource.Quantity) int64 {
	if limit == nil || limit.IsZero() {
		return 0
	}
	return max(limit.MilliValue()*cpuPeriod/1000, minQuotaUsecs)
}

func quantity(l corev1.ResourceList, name corev1.ResourceName) *resource.Quantity {
	if q, ok := l[name]; ok {
		return &q
	}
	return nil
}

// containerResources maps requests and limits onto cgroup limits. A CPU
// limit without request counts as the request, as the API defaults it.
func containerResources(c *corev1.Container) runtime.Resources {
	req := quantity(c.Resources.Requests, corev1.ResourceCPU)
	lim := quantity(c.Resources.Limits, corev1.ResourceCPU)
	if req == nil {
		req = lim
	}
	r := runtime.Resources{CPUShares: cpuShares(req), CPUQuota: cpuQuota(lim)}
	if r.CPUQuota > 0 {
		r.CPUPeriod = cpuPeriod
	}
	if m := quantity(c.Resources.Limits, corev1.ResourceMemory); m != nil {
		r.MemoryLimit = m.Value()
	}
	return r
}

// podResources are the pod cgroup's limits: the sum over the containers,
// with the largest init container's in place of the sum where larger; a
// limit only when every container has one. pidsLimit is the node's.
func podResources(pod *corev1.Pod, pidsLimit int64) runtime.Resources {
	var r runtime.Resources
	var shares uint64
	cpuLimited, memLimited := true, true
	for _, c := range pod.Spec.Containers {
		cr := containerResources(&c)
		shares += cr.CPUShares
		r.CPUQuota += cr.CPUQuota
		r.MemoryLimit += cr.MemoryLimit
		cpuLimited = cpuLimited && cr.CPUQuota > 0
		memLimited = memLimited && cr.MemoryLimit > 0
	}
	for _, c := range pod.Spec.InitContainers {
		cr := containerResources(&c)
		if cr.CPUQuota == 0 {
			cpuLimited = false
		}
		if cr.MemoryLimit == 0 {
			memLimited = false
		}
		r.CPUQuota = max(r.CPUQuota, cr.CPUQuota)
		r.MemoryLimit = max(r.MemoryLimit, cr.MemoryLimit)
	}
	r.CPUShares = max(shares, minShares)
	if !cpuLimited {
		r.CPUQuota = 0
	} else {
		r.CPUPeriod = cpuPeriod
	}
	if !memLimited {
		r.MemoryLimit = 0
	}
	r.PidsLimit = pidsLimit
	return r
}

// qosClass is the pod's QoS class by upstream's rules: BestEffort without
// any CPU or memory request or limit, Guaranteed when every container
// limits both and requests equal the limits, Burstable otherwise.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass
	}
	any, guaranteed := false, true
	all := append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...)
	for _, c := range all {
		for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[n]
			lim, hasLim := c.Resources.Limits[n]
			if hasReq && !req.IsZero() || hasLim && !lim.IsZero() {
				any = true
			}
			if !hasLim || lim.IsZero() || hasReq && req.Cmp(lim) != 0 {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// oomScoreAdj is the container's oom_score_adj by QoS, as kubelet sets it.
func oomScoreAdj(pod *corev1.Pod, c *corev1.Container, memCapacity int64) int {
	switch qosClass(pod) {
	case corev1.PodQOSGuaranteed:
		return -997
	case corev1.PodQOSBestEffort:
		return 1000
	}
	req := quantity(c.Resources.Requests, corev1.ResourceMemory)
	if req == nil || memCapacity <= 0 {
		return 999
	}
	adj := 1000 - int(1000*req.Value()/memCapacity)
	return min(max(adj, 2), 999)
}

// buildConfig is everything buildContainerConfig needs to know.
type buildConfig struct {
	pod        *corev1.Pod
	container  *corev1.Container
	image      image.ImageConfig
	users      userDB
	env        env.Result
	seccompDir string
	memory     int64
}

// buildContainerConfig maps a Pod's container onto a runtime config,
// without the ID, rootfs, log path and labels the worker adds. A
// *configError says why the spec cannot be honoured.
func buildContainerConfig(b buildConfig) (runtime.ContainerConfig, error) {
	c := b.container
	args := commandLine(c, b.image, b.env.Map)
	if len(args) == 0 {
		return runtime.ContainerConfig{}, &configError{"no command specified"}
	}
	user, err := containerUser(b.pod, c, b.image, b.users)
	if err != nil {
		return runtime.ContainerConfig{}, err
	}
	sec, err := containerSecurity(b.pod, c, b.seccompDir)
	if err != nil {
		return runtime.ContainerConfig{}, err
	}
	cwd := c.WorkingDir
	if cwd == "" {
		cwd = b.image.WorkingDir
	}
	return runtime.ContainerConfig{
		Args:        args,
		Env:         containerEnv(b.pod, b.image, b.env.Vars),
		Cwd:         cwd,
		User:        user,
		TTY:         c.TTY,
		Stdin:       c.Stdin,
		StdinOnce:   c.StdinOnce,
		OOMScoreAdj: oomScoreAdj(b.pod, c, b.memory),
		Resources:   containerResources(c),
		Security:    sec,
	}, nil
}
