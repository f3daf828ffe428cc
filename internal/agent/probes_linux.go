package agent

import (
	"bytes"
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"berth.dev/berth/internal/agent/probe"
	"berth.dev/berth/internal/agent/runtime"
)

// probing is the probe.Manager of one running container instance.
type probing struct {
	id     string
	mgr    *probe.Manager
	cancel context.CancelFunc
	done   chan struct{}
}

// restartRequests are the container instances whose liveness or startup
// probe failed, by container ID, for the worker to kill. The probe
// managers' goroutines add to it.
type restartRequests struct {
	mu      sync.Mutex
	pending map[string]probe.Restart
}

func (r *restartRequests) add(id string, req probe.Restart) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending == nil {
		r.pending = map[string]probe.Restart{}
	}
	r.pending[id] = req
}

func (r *restartRequests) take() map[string]probe.Restart {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pending
	r.pending = nil
	return p
}

// syncProbes gives every running container instance of the pod (the
// containers and the sidecars) a probe.Manager and stops those of
// instances that no longer run. podIPs is the default host of HTTP, TCP
// and gRPC probes.
func (w *worker) syncProbes(ctx context.Context, pod *corev1.Pod, cs map[string]attempts, podIPs []string) {
	want := map[string]*runtime.Container{}
	for _, c := range probedContainers(pod) {
		if l := cs[c.Name].latest; l != nil && l.State == runtime.StateRunning {
			want[c.Name] = l
		}
	}
	for name, p := range w.probes {
		if l, ok := want[name]; !ok || l.ID != p.id {
			w.stopProbe(name)
		}
	}
	for name, l := range want {
		if _, ok := w.probes[name]; ok {
			continue
		}
		probed := pod.DeepCopy()
		probed.Status.PodIP = first(podIPs)
		id := l.ID
		mgr, err := probe.New(probe.Config{
			Pod: probed, Container: name, ContainerID: id, StartedAt: l.StartedAt,
			Exec: w.execProbe, Log: w.log,
			OnReady:   func(bool) { w.poke() },
			OnStarted: w.poke,
			OnEvent: func(e probe.Event) {
				w.event(pod, e.Type, e.Reason, "%s", e.Message)
			},
			OnRestart: func(r probe.Restart) {
				w.restarts.add(id, r)
				w.poke()
			},
		})
		if err != nil {
			w.log.Error("starting probes failed", "container", name, "err", err)
			continue
		}
		pctx, cancel := context.WithCancel(ctx)
		p := &probing{id: id, mgr: mgr, cancel: cancel, done: make(chan struct{})}
		go func() {
			defer close(p.done)
			_ = mgr.Run(pctx)
		}()
		w.probes[name] = p
	}
}

// probedContainers are the containers that have probes: the sidecars and
// the regular containers.
func probedContainers(pod *corev1.Pod) []*corev1.Container {
	var out []*corev1.Container
	for i := range pod.Spec.InitContainers {
		if isSidecar(&pod.Spec.InitContainers[i]) {
			out = append(out, &pod.Spec.InitContainers[i])
		}
	}
	for i := range pod.Spec.Containers {
		out = append(out, &pod.Spec.Containers[i])
	}
	return out
}

// stopProbe stops the probes of a container and waits for them.
func (w *worker) stopProbe(name string) {
	if p, ok := w.probes[name]; ok {
		p.cancel()
		<-p.done
		delete(w.probes, name)
	}
}

// stopProbes stops every probe of the pod.
func (w *worker) stopProbes() {
	for name := range w.probes {
		w.stopProbe(name)
	}
}

// probeState is what the probes say of a running container: started and
// ready. A container without a probe manager is both.
func (w *worker) probeState(_ *corev1.Pod, name string) (started, ready bool) {
	if p, ok := w.probes[name]; ok {
		return p.mgr.Started(), p.mgr.Ready()
	}
	return true, true
}

// killFailed stops the running container instances whose liveness or
// startup probe failed, with kubelet's Killing event; the restart policy
// decides what follows.
func (w *worker) killFailed(ctx context.Context, pod *corev1.Pod, cs map[string]attempts) error {
	reqs := w.restarts.take()
	if len(reqs) == 0 {
		return nil
	}
	for _, c := range probedContainers(pod) {
		l := cs[c.Name].latest
		if l == nil || l.State != runtime.StateRunning {
			continue
		}
		req, ok := reqs[l.ID]
		if !ok {
			continue
		}
		grace := gracePeriod(pod)
		if req.GracePeriod != nil {
			grace = time.Duration(*req.GracePeriod) * time.Second
		}
		w.stopProbe(c.Name)
		if err := w.stop(ctx, pod, c, l, grace, req.Message); err != nil {
			return err
		}
	}
	return nil
}

// execProbe runs an exec probe's command in the container.
func (w *worker) execProbe(ctx context.Context, id string, cmd []string) (int, []byte, error) {
	var out bytes.Buffer
	code, err := w.a.cfg.Runtime.Exec(ctx, id, runtime.ExecConfig{Args: cmd}, runtime.Streams{Stdout: &out, Stderr: &out})
	return code, out.Bytes(), err
}

// poke asks the worker for a sync without blocking.
func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
