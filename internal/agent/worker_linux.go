package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"berth.dev/berth/internal/agent/env"
	"berth.dev/berth/internal/agent/image"
	"berth.dev/berth/internal/agent/network"
	"berth.dev/berth/internal/agent/runtime"
)

// worker runs one pod. Its fields other than wake and restarts are used
// only by its own goroutine.
type worker struct {
	a               *Agent
	uid             types.UID
	namespace, name string
	log             *slog.Logger
	// wake asks for a sync.
	wake chan struct{}
	// waiting holds why containers do not run, by name.
	waiting map[string]waiting
	// pullFailed is when each container's last image pull failed.
	pullFailed map[string]time.Time
	// idle says the pod has finished and nothing of it runs: only a
	// change of the pod wakes the worker.
	idle bool
	// volumesSetUp says Setup succeeded; refreshed is when the data
	// volumes were last set up or refreshed; mountErr is the last Setup
	// error reported.
	volumesSetUp bool
	refreshed    time.Time
	mountErr     string
	// probes are the probe managers of the running containers, by name;
	// restarts are the instances their liveness or startup probes failed.
	probes   map[string]*probing
	restarts restartRequests
}

// run syncs the pod when woken and every SyncPeriod until the pod is gone
// from the API and the node, or ctx ends.
func (w *worker) run(ctx context.Context) {
	t := time.NewTicker(w.a.cfg.SyncPeriod)
	defer t.Stop()
	defer w.stopProbes()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-t.C:
			if w.idle {
				continue
			}
		}
		done, err := w.sync(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.Error("pod sync failed", "err", err)
		}
		if done {
			w.a.retire(w)
			return
		}
	}
}

// sync does the next steps toward the pod's spec and reports its status.
// done says the pod is gone and everything of it removed.
func (w *worker) sync(ctx context.Context) (done bool, err error) {
	pod := w.a.pod(w.namespace, w.name, w.uid)
	cs, err := w.containers(ctx)
	if err != nil {
		return false, err
	}
	if pod == nil || pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		w.stopProbes()
	}
	if pod == nil {
		w.log.Debug("removing the containers of a pod the API does not have", "containers", len(cs))
		return true, w.remove(ctx, cs)
	}
	if pod.DeletionTimestamp != nil {
		w.log.Debug("terminating pod", "containers", len(cs))
		return w.terminate(ctx, pod, cs)
	}
	if p := pod.Status.Phase; p == corev1.PodSucceeded || p == corev1.PodFailed {
		err := w.stopAll(ctx, pod, cs, 0)
		w.idle = err == nil
		return false, err
	}
	view := podView{pod: pod, containers: cs, waiting: w.waiting, hostIP: w.a.cfg.NodeIP, probed: w.probeState}
	if !w.volumes(ctx, pod) {
		view.now = w.a.cfg.Clock.Now()
		return false, w.writeStatus(ctx, pod, view.podStatus())
	}
	sb, ips, err := w.sandbox(ctx, pod)
	if err == nil {
		view.sandboxReady, view.podIPs = true, ips
		err = errors.Join(w.killFailed(ctx, pod, cs),
			w.step(ctx, pod, sb, cs, podFields{hostIP: w.a.cfg.NodeIP, podIPs: ips, podIP: first(ips)}))
		// What step did shows in the runtime's state.
		if cs2, lerr := w.containers(ctx); lerr == nil {
			view.containers = cs2
			w.syncProbes(ctx, pod, cs2, ips)
		}
	}
	view.now = w.a.cfg.Clock.Now()
	st := view.podStatus()
	if serr := w.writeStatus(ctx, pod, st); serr != nil {
		err = errors.Join(err, serr)
	}
	return false, err
}

// podFields are the pod's addresses, which the worker knows before the
// API does.
type podFields struct {
	podIP, hostIP string
	podIPs        []string
}

// volumes sets up the pod's volumes until that succeeds, then refreshes
// them every VolumeRefreshPeriod. false says they are not set up: the pod
// stays ContainerCreating, with a FailedMount event per new error, and the
// next sync retries.
func (w *worker) volumes(ctx context.Context, pod *corev1.Pod) bool {
	vm := w.a.cfg.Volumes
	if !w.volumesSetUp {
		if _, err := vm.Setup(ctx, pod); err != nil {
			if msg := err.Error(); msg != w.mountErr {
				w.event(pod, corev1.EventTypeWarning, "FailedMount", "MountVolume.SetUp failed: %s", msg)
				w.log.Debug("setting up volumes failed", "err", err)
				w.mountErr = msg
			}
			return false
		}
		w.volumesSetUp, w.refreshed, w.mountErr = true, time.Now(), ""
		return true
	}
	if time.Since(w.refreshed) >= w.a.cfg.VolumeRefreshPeriod {
		w.refreshed = time.Now()
		if err := vm.Refresh(ctx, pod); err != nil {
			w.log.Warn("refreshing volumes failed", "err", err)
		}
	}
	return true
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// containers returns the pod's containers on the node by name: the latest
// attempt and the one before. Older attempts are deleted.
func (w *worker) containers(ctx context.Context) (map[string]attempts, error) {
	all, err := w.a.containers.get(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string][]*runtime.Container{}
	for i := range all {
		c := &all[i]
		if c.Labels[labelPodUID] == string(w.uid) {
			byName[c.Labels[labelContainer]] = append(byName[c.Labels[labelContainer]], c)
		}
	}
	out := map[string]attempts{}
	for name, list := range byName {
		slices.SortFunc(list, func(x, y *runtime.Container) int { return int(attempt(y) - attempt(x)) })
		a := attempts{latest: list[0]}
		if len(list) > 1 {
			a.previous = list[1]
		}
		for _, old := range list[min(len(list), 2):] {
			if err := w.deleteContainer(ctx, old.ID); err != nil {
				return nil, err
			}
		}
		out[name] = a
	}
	return out, nil
}

func (w *worker) deleteContainer(ctx context.Context, id string) error {
	defer w.a.containers.changed()
	if err := errors.Join(w.a.cfg.Runtime.Delete(ctx, id), w.a.cfg.Images.Release(id)); err != nil {
		return err
	}
	w.log.Debug("container deleted", "id", id)
	return nil
}

// sandbox returns the pod's sandbox and IPs, creating and attaching them
// when missing.
func (w *worker) sandbox(ctx context.Context, pod *corev1.Pod) (*runtime.Sandbox, []string, error) {
	id := string(pod.UID)
	sb, err := w.a.cfg.Runtime.Sandbox(id)
	created := false
	if errors.Is(err, fs.ErrNotExist) {
		sb, err = w.a.cfg.Runtime.CreateSandbox(w.sandboxConfig(pod))
		created = true
	}
	if err != nil {
		w.event(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
		return nil, nil, err
	}
	if pod.Spec.HostNetwork {
		if created {
			if err := sb.SetPodIPs(nil); err != nil {
				return nil, nil, err
			}
		}
		if w.a.cfg.NodeIP == "" {
			return sb, nil, nil
		}
		return sb, []string{w.a.cfg.NodeIP}, nil
	}
	addrs, attached, err := w.a.cfg.Network.PodIPs(id)
	if err != nil {
		return nil, nil, err
	}
	if !attached {
		addrs, err = w.a.cfg.Network.Setup(ctx, network.Pod{
			ID: id, Namespace: pod.Namespace, Name: pod.Name, UID: id,
			NetNS: sb.NetNSPath(), Ports: hostPorts(pod),
		})
		if err != nil {
			w.event(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to set up the pod network: %v", err)
			return nil, nil, err
		}
	}
	ips := make([]string, len(addrs))
	for i, a := range addrs {
		ips[i] = a.String()
	}
	if !attached {
		if err := sb.SetPodIPs(ips); err != nil {
			return nil, nil, err
		}
	}
	return sb, ips, nil
}

func hostPorts(pod *corev1.Pod) []network.PortMapping {
	var out []network.PortMapping
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort > 0 {
				out = append(out, network.PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: string(p.Protocol), HostIP: p.HostIP})
			}
		}
	}
	return out
}

func (w *worker) sandboxConfig(pod *corev1.Pod) runtime.SandboxConfig {
	cfg := runtime.SandboxConfig{
		ID: string(pod.UID), Name: pod.Name, Namespace: pod.Namespace, UID: string(pod.UID),
		Hostname:    pod.Spec.Hostname,
		HostNetwork: pod.Spec.HostNetwork, HostIPC: pod.Spec.HostIPC, HostPID: pod.Spec.HostPID,
		DNS:       w.dnsConfig(pod),
		Resources: podResources(pod, w.a.cfg.PodPidsLimit),
	}
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain != "" {
		cfg.FQDN = fmt.Sprintf("%s.%s.%s.svc.%s", pod.Spec.Hostname, pod.Spec.Subdomain, pod.Namespace, w.a.cfg.ClusterDomain)
	}
	for _, h := range pod.Spec.HostAliases {
		cfg.HostAliases = append(cfg.HostAliases, runtime.HostAlias{IP: h.IP, Hostnames: h.Hostnames})
	}
	return cfg
}

// dnsConfig is the pod's resolv.conf by its dnsPolicy; nil is the host's.
func (w *worker) dnsConfig(pod *corev1.Pod) *runtime.DNSConfig {
	var d *runtime.DNSConfig
	policy := pod.Spec.DNSPolicy
	if pod.Spec.HostNetwork && policy == corev1.DNSClusterFirst {
		policy = corev1.DNSDefault
	}
	switch {
	case policy == corev1.DNSNone:
		d = &runtime.DNSConfig{}
	case (policy == corev1.DNSClusterFirst || policy == corev1.DNSClusterFirstWithHostNet || policy == "") && len(w.a.cfg.ClusterDNS) > 0:
		dom := w.a.cfg.ClusterDomain
		d = &runtime.DNSConfig{
			Servers:  slices.Clone(w.a.cfg.ClusterDNS),
			Searches: []string{pod.Namespace + ".svc." + dom, "svc." + dom, dom},
			Options:  []string{"ndots:5"},
		}
	}
	if extra := pod.Spec.DNSConfig; extra != nil {
		if d == nil {
			d = &runtime.DNSConfig{}
		}
		d.Servers = append(d.Servers, extra.Nameservers...)
		d.Searches = append(d.Searches, extra.Searches...)
		for _, o := range extra.Options {
			if o.Value != nil {
				d.Options = append(d.Options, o.Name+":"+*o.Value)
			} else {
				d.Options = append(d.Options, o.Name)
			}
		}
	}
	return d
}

// step starts what should run next: the init containers in order, the
// sidecars, then the containers, restarting what exited as the
// restartPolicy says.
func (w *worker) step(ctx context.Context, pod *corev1.Pod, sb *runtime.Sandbox, cs map[string]attempts, f podFields) error {
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		a := cs[c.Name]
		if isSidecar(c) {
			if a.latest != nil && a.latest.State == runtime.StateRunning {
				continue
			}
			return w.ensure(ctx, pod, sb, c, a, f)
		}
		switch {
		case a.latest == nil, a.latest.State == runtime.StateCreated:
			return w.ensure(ctx, pod, sb, c, a, f)
		case a.latest.State == runtime.StateRunning:
			return nil
		case a.latest.ExitCode == 0 && a.latest.State == runtime.StateExited:
			continue
		case pod.Spec.RestartPolicy == corev1.RestartPolicyNever:
			return nil
		}
		return w.ensure(ctx, pod, sb, c, a, f)
	}
	var errs []error
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		a := cs[c.Name]
		if a.latest != nil && a.latest.State == runtime.StateRunning {
			continue
		}
		if exited(a.latest) {
			switch pod.Spec.RestartPolicy {
			case corev1.RestartPolicyNever:
				continue
			case corev1.RestartPolicyOnFailure:
				if a.latest.State == runtime.StateExited && a.latest.ExitCode == 0 {
					continue
				}
			}
		}
		errs = append(errs, w.ensure(ctx, pod, sb, c, a, f))
	}
	return errors.Join(errs...)
}

// ensure starts a container that is not running: a created one is
// started, an exited one restarted unless in back-off, a missing one
// created.
func (w *worker) ensure(ctx context.Context, pod *corev1.Pod, sb *runtime.Sandbox, c *corev1.Container, a attempts, f podFields) error {
	rt := w.a.cfg.Runtime
	if a.latest != nil && a.latest.State == runtime.StateCreated {
		if err := rt.Start(ctx, a.latest.ID); err != nil {
			return w.fail(pod, c, "RunContainerError", err)
		}
		w.event(pod, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
		delete(w.waiting, c.Name)
		return nil
	}
	next := int32(0)
	key := string(pod.UID) + "/" + c.Name
	if exited(a.latest) {
		next = attempt(a.latest) + 1
		now := w.a.cfg.Clock.Now()
		if d := w.a.restarts.wait(key, a.latest.FinishedAt, now); d > 0 {
			if w.waiting[c.Name].reason != reasonCrashLoopBackOff {
				w.event(pod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s", c.Name, podRef(pod))
			}
			w.waiting[c.Name] = waiting{reasonCrashLoopBackOff, fmt.Sprintf("back-off %s restarting failed container=%s pod=%s",
				w.a.restarts.delay(key), c.Name, podRef(pod))}
			return nil
		}
		w.a.restarts.retried(key, a.latest.FinishedAt)
	}
	img, ok := w.pull(ctx, pod, c)
	if !ok {
		return nil
	}
	if a.previous != nil {
		// Only the latest attempt's predecessor is kept.
		if err := w.deleteContainer(ctx, a.previous.ID); err != nil {
			return err
		}
	}
	return w.create(ctx, pod, sb, c, img, next, f)
}

// pull makes sure the container's image is present, as its pull policy
// says, with back-off after failures. false means it is not (the reason
// is in w.waiting).
func (w *worker) pull(ctx context.Context, pod *corev1.Pod, c *corev1.Container) (*image.Image, bool) {
	store := w.a.cfg.Images
	img, err := store.Get(c.Image)
	present := err == nil
	need, err := image.ShouldPull(c.ImagePullPolicy, c.Image, present)
	switch {
	case errors.Is(err, image.ErrNeverPull):
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		w.setWaiting(pod, c, reasonErrImageNeverPull, msg)
		return nil, false
	case err != nil:
		w.setWaiting(pod, c, "InvalidImageName", err.Error())
		return nil, false
	case !need:
		w.event(pod, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.Image)
		return img, true
	}
	key := string(pod.UID) + "/" + c.Name
	now := w.a.cfg.Clock.Now()
	if failed, ok := w.pullFailed[c.Name]; ok {
		if d := w.a.pulls.wait(key, failed, now); d > 0 {
			if w.waiting[c.Name].reason != reasonImagePullBackOff {
				w.event(pod, corev1.EventTypeNormal, "BackOff", "Back-off pulling image %q", c.Image)
			}
			w.waiting[c.Name] = waiting{reasonImagePullBackOff, fmt.Sprintf("Back-off pulling image %q", c.Image)}
			return nil, false
		}
		w.a.pulls.retried(key, failed)
	}
	secrets, err := w.pullSecrets(ctx, pod)
	if err != nil {
		w.log.Warn("reading image pull secrets failed", "err", err)
	}
	w.event(pod, corev1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	start := w.a.cfg.Clock.Now()
	img, err = store.Pull(ctx, c.Image, secrets)
	if err != nil {
		w.pullFailed[c.Name] = w.a.cfg.Clock.Now()
		w.event(pod, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", c.Image, err)
		w.setWaiting(pod, c, reasonErrImagePull, err.Error())
		return nil, false
	}
	delete(w.pullFailed, c.Name)
	w.event(pod, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s. Image size: %d bytes.", c.Image, w.a.cfg.Clock.Since(start).Round(time.Millisecond), img.Size)
	return img, true
}

// pullSecrets reads the pod's image pull Secrets; missing ones are
// skipped, as kubelet does.
func (w *worker) pullSecrets(ctx context.Context, pod *corev1.Pod) ([]corev1.Secret, error) {
	var out []corev1.Secret
	var errs []error
	for _, ref := range pod.Spec.ImagePullSecrets {
		s, err := w.a.client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, *s)
	}
	return out, errors.Join(errs...)
}

// setWaiting records why a container does not run, with a Failed event
// ("Error: <reason>") when the reason is new.
func (w *worker) setWaiting(pod *corev1.Pod, c *corev1.Container, reason, msg string) {
	if w.waiting[c.Name].reason != reason {
		w.event(pod, corev1.EventTypeWarning, "Failed", "Error: %s", reason)
	}
	w.waiting[c.Name] = waiting{reason, msg}
}

// fail records err as the container's waiting reason, with a Failed event
// ("Error: <err>") when it is new; it is not an error of the sync (the
// next sync retries).
func (w *worker) fail(pod *corev1.Pod, c *corev1.Container, reason string, err error) error {
	if prev := w.waiting[c.Name]; prev.reason != reason || prev.message != err.Error() {
		w.event(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
	}
	w.waiting[c.Name] = waiting{reason, err.Error()}
	return nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// create makes, starts and hooks up one attempt of a container.
func (w *worker) create(ctx context.Context, pod *corev1.Pod, sb *runtime.Sandbox, c *corev1.Container, img *image.Image, n int32, f podFields) error {
	var hostIPs []string
	if f.hostIP != "" {
		hostIPs = []string{f.hostIP}
	}
	vars, err := w.a.env.Resolve(ctx, pod, c, env.IPs{Pod: f.podIPs, Host: hostIPs})
	if err != nil {
		return w.fail(pod, c, reasonConfigError, err)
	}
	for _, warning := range vars.Warnings {
		w.event(pod, corev1.EventTypeWarning, "InvalidEnvironmentVariableNames", "%s", warning)
	}
	id := newID()
	w.log.Debug("creating container", "container", c.Name, "id", id, "attempt", n)
	rootfs, release, err := w.a.cfg.Images.Prepare(id, img.ID)
	if err != nil {
		return w.fail(pod, c, reasonCreateError, err)
	}
	users, err := openUserDB(rootfs)
	if err != nil {
		return errors.Join(w.fail(pod, c, reasonCreateError, err), release())
	}
	cfg, err := buildContainerConfig(buildConfig{
		pod: pod, container: c, image: img.Config, users: users, env: vars,
		seccompDir: filepath.Join(w.a.cfg.DataDir, "seccomp"), memory: w.a.memory,
	})
	if err != nil {
		var ce *configError
		if errors.As(err, &ce) {
			return errors.Join(w.fail(pod, c, reasonConfigError, err), release())
		}
		return errors.Join(err, release())
	}
	cfg.Mounts, err = w.a.cfg.Volumes.Mounts(pod, c, vars.Map)
	if err != nil {
		return errors.Join(w.fail(pod, c, reasonConfigError, err), release())
	}
	cfg.ID, cfg.Rootfs = id, rootfs
	cfg.LogPath = w.a.logPath(pod, c.Name, n)
	if err := os.MkdirAll(filepath.Dir(cfg.LogPath), 0o755); err != nil {
		return errors.Join(err, release())
	}
	if pod.Spec.RuntimeClassName != nil {
		rc, err := w.a.client.NodeV1().RuntimeClasses().Get(ctx, *pod.Spec.RuntimeClassName, metav1.GetOptions{})
		if err != nil {
			return errors.Join(w.fail(pod, c, reasonConfigError, fmt.Errorf("runtime class %q: %w", *pod.Spec.RuntimeClassName, err)), release())
		}
		cfg.Handler = rc.Handler
	}
	cfg.Labels = map[string]string{
		labelPodUID: string(pod.UID), labelPodName: pod.Name, labelPodNamespace: pod.Namespace,
		labelContainer: c.Name, labelAttempt: strconv.Itoa(int(n)),
	}
	cfg.Annotations = map[string]string{annotationImageID: img.ImageID()}
	defer w.a.containers.changed()
	if err := w.a.cfg.Runtime.Create(ctx, cfg, sb); err != nil {
		return errors.Join(w.fail(pod, c, reasonCreateError, err), release())
	}
	w.event(pod, corev1.EventTypeNormal, "Created", "Created container: %s", c.Name)
	if err := w.a.cfg.Runtime.Start(ctx, id); err != nil {
		// The attempt stays, exited or unknown: the restart policy decides.
		w.event(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return nil
	}
	delete(w.waiting, c.Name)
	w.event(pod, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		if err := w.runHook(ctx, pod, c, id, f.podIP, c.Lifecycle.PostStart); err != nil {
			w.event(pod, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %v", err)
			return w.a.cfg.Runtime.Kill(ctx, id, syscall.SIGKILL)
		}
	}
	return nil
}

// writeStatus writes the pod's status when it changed.
func (w *worker) writeStatus(ctx context.Context, pod *corev1.Pod, st corev1.PodStatus) error {
	// Fields other writers own are kept.
	st.NominatedNodeName = pod.Status.NominatedNodeName
	st.Resize = pod.Status.Resize
	if apiequality.Semantic.DeepEqual(pod.Status, st) {
		return nil
	}
	p := pod.DeepCopy()
	p.Status = st
	_, err := w.a.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		// The cache is behind: the next sync computes from the newer pod.
		w.log.Debug("pod status write conflicted", "err", err)
		return nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("writing pod status: %w", err)
	}
	return nil
}

// stopAll stops the pod's running containers, the containers in parallel
// first, then the sidecars in reverse order, each within grace (preStop
// hook, stop signal, SIGKILL), and detaches the pod from the network.
func (w *worker) stopAll(ctx context.Context, pod *corev1.Pod, cs map[string]attempts, grace time.Duration) error {
	running := func(name string) *runtime.Container {
		if l := cs[name].latest; l != nil && (l.State == runtime.StateRunning || l.State == runtime.StateCreated) {
			return l
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, len(pod.Spec.Containers))
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if rc := running(c.Name); rc != nil {
			wg.Go(func() { errs[i] = w.stop(ctx, pod, c, rc, grace, "") })
		}
	}
	wg.Wait()
	for i := len(pod.Spec.InitContainers) - 1; i >= 0; i-- {
		c := &pod.Spec.InitContainers[i]
		if rc := running(c.Name); rc != nil {
			errs = append(errs, w.stop(ctx, pod, c, rc, grace, ""))
		}
	}
	errs = append(errs, w.a.cfg.Network.Teardown(ctx, string(pod.UID)))
	return errors.Join(errs...)
}

// stop stops one container within grace, with a Killing event saying
// why: msg, or that it is stopped.
func (w *worker) stop(ctx context.Context, pod *corev1.Pod, c *corev1.Container, rc *runtime.Container, grace time.Duration, msg string) error {
	defer w.a.containers.changed()
	rt := w.a.cfg.Runtime
	if msg == "" {
		msg = "Stopping container " + c.Name
	}
	w.event(pod, corev1.EventTypeNormal, "Killing", "%s", msg)
	deadline, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	if rc.State == runtime.StateRunning && grace > 0 {
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
			ips, _, _ := w.a.cfg.Network.PodIPs(string(pod.UID))
			podIP := w.a.cfg.NodeIP
			if len(ips) > 0 {
				podIP = ips[0].String()
			}
			if err := w.runHook(deadline, pod, c, rc.ID, podIP, c.Lifecycle.PreStop); err != nil {
				w.event(pod, corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %v", err)
			}
		}
		if err := rt.Kill(ctx, rc.ID, stopSignal(c)); err != nil {
			return err
		}
		if _, err := rt.Wait(deadline, rc.ID); err == nil {
			return nil
		}
	}
	if err := rt.Kill(ctx, rc.ID, syscall.SIGKILL); err != nil {
		return err
	}
	_, err := rt.Wait(ctx, rc.ID)
	return err
}

// stopSignal is the container's stop signal: its lifecycle's, or SIGTERM.
func stopSignal(c *corev1.Container) syscall.Signal {
	if c.Lifecycle != nil && c.Lifecycle.StopSignal != nil {
		if s, ok := signalNames[string(*c.Lifecycle.StopSignal)]; ok {
			return s
		}
	}
	return syscall.SIGTERM
}

var signalNames = map[string]syscall.Signal{
	"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT, "SIGQUIT": syscall.SIGQUIT,
	"SIGHUP": syscall.SIGHUP, "SIGKILL": syscall.SIGKILL, "SIGUSR1": syscall.SIGUSR1,
	"SIGUSR2": syscall.SIGUSR2, "SIGWINCH": syscall.SIGWINCH,
}

// gracePeriod is how long the pod's containers get to stop.
func gracePeriod(pod *corev1.Pod) time.Duration {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}

// terminate stops a pod being deleted, removes everything of it from the node and finishes its deletion.
func (w *worker) terminate(ctx context.Context, pod *corev1.Pod, cs map[string]attempts) (bool, error) {
	if err := w.stopAll(ctx, pod, cs, gracePeriod(pod)); err != nil {
		return false, err
	}
	// No status is written here: berth's API server deletes a pod with a
	// deletionTimestamp and no finalizers on any update, which would end
	// its deletion before its containers are gone.
	cs, err := w.containers(ctx)
	if err != nil {
		return false, err
	}
	if err := w.remove(ctx, cs); err != nil {
		return false, err
	}
	uid := pod.UID
	err = w.a.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: new(int64),
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return false, fmt.Errorf("deleting pod: %w", err)
	}
	return true, nil
}

// remove deletes every container of the pod (killing what runs), its
// network attachment and its sandbox.
func (w *worker) remove(ctx context.Context, cs map[string]attempts) error {
	var errs []error
	for _, a := range cs {
		for _, c := range []*runtime.Container{a.latest, a.previous} {
			if c != nil {
				errs = append(errs, w.deleteContainer(ctx, c.ID))
			}
		}
	}
	id := string(w.uid)
	errs = append(errs, w.a.cfg.Network.Teardown(ctx, id), w.a.cfg.Runtime.RemoveSandbox(id))
	// Volumes go once nothing can use them.
	if errors.Join(errs...) == nil {
		errs = append(errs, w.a.cfg.Volumes.Teardown(ctx, w.uid))
	}
	errs = append(errs, os.RemoveAll(w.a.podLogDir(w.namespace, w.name, w.uid)))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	keep := func(k string) bool { return !strings.HasPrefix(k, id+"/") }
	w.a.restarts.forget(keep)
	w.a.pulls.forget(keep)
	return nil
}

func (w *worker) event(pod *corev1.Pod, typ, reason, format string, args ...any) {
	w.a.recorder.Eventf(pod, typ, reason, format, args...)
}
