package probe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// Kind is a probe's purpose.
type Kind string

const (
	Liveness  Kind = "Liveness"
	Readiness Kind = "Readiness"
	Startup   Kind = "Startup"
)

// Event is a Kubernetes Event the pod worker should record on the pod.
type Event struct {
	// Type is "Warning" or "Normal".
	Type string
	// Reason is "Unhealthy" for probe failures and warnings.
	Reason string
	// Message is kubelet's text, such as "Liveness probe failed: ...".
	Message string
}

// Restart asks the pod worker to kill the container (it is restarted as
// the pod's restartPolicy says).
type Restart struct {
	// Probe is Liveness or Startup.
	Probe Kind
	// Message is kubelet's Killing event text: "Container c failed
	// liveness probe, will be restarted".
	Message string
	// GracePeriod is the probe's terminationGracePeriodSeconds if set, else
	// the pod's; nil when neither is set.
	GracePeriod *int64
}

// Config is one container instance's probing.
type Config struct {
	// Pod holds the container's spec and, in status.podIP, the default host.
	Pod *corev1.Pod
	// Container names the container in Pod.
	Container string
	// ContainerID is passed to Exec.
	ContainerID string
	// StartedAt is when the container started; initialDelaySeconds counts
	// from it.
	StartedAt time.Time
	// Exec runs exec probes; required only if an exec probe is configured.
	Exec ExecFunc
	// Clock drives the probe loops; defaults to the real clock.
	Clock clock.WithTicker
	Log   *slog.Logger

	// OnReady is called from Run with the container's readiness whenever it
	// changes, starting from false.
	OnReady func(ready bool)
	// OnStarted is called once, when the container counts as started.
	OnStarted func()
	// OnEvent is called for every failed probe and every probe warning.
	OnEvent func(Event)
	// OnRestart is called when liveness or startup has failed past its
	// threshold.
	OnRestart func(Restart)
}

// Manager runs one container instance's probes.
type Manager struct {
	cfg       Config
	container *corev1.Container
	target    target

	mu       sync.Mutex // guards the fields below
	started  bool       // the startup probe has succeeded (or there is none)
	ready    bool       // the readiness probe's current result
	reported bool       // the readiness last passed to OnReady
}

// New checks cfg and fills its defaults.
func New(cfg Config) (*Manager, error) {
	if cfg.Pod == nil {
		return nil, errors.New("probe: no pod")
	}
	var c *corev1.Container
	for i := range cfg.Pod.Spec.Containers {
		if cfg.Pod.Spec.Containers[i].Name == cfg.Container {
			c = &cfg.Pod.Spec.Containers[i]
		}
	}
	for i := range cfg.Pod.Spec.InitContainers {
		if cfg.Pod.Spec.InitContainers[i].Name == cfg.Container {
			c = &cfg.Pod.Spec.InitContainers[i]
		}
	}
	if c == nil {
		return nil, fmt.Errorf("probe: pod %s/%s has no container %q", cfg.Pod.Namespace, cfg.Pod.Name, cfg.Container)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.OnReady == nil {
		cfg.OnReady = func(bool) {}
	}
	if cfg.OnStarted == nil {
		cfg.OnStarted = func() {}
	}
	if cfg.OnEvent == nil {
		cfg.OnEvent = func(Event) {}
	}
	if cfg.OnRestart == nil {
		cfg.OnRestart = func(Restart) {}
	}
	cfg.Log = cfg.Log.With("component", "probe", "pod", cfg.Pod.Namespace+"/"+cfg.Pod.Name, "container", cfg.Container)
	return &Manager{
		cfg:       cfg,
		container: c,
		target:    target{podIP: cfg.Pod.Status.PodIP, container: c, containerID: cfg.ContainerID, exec: cfg.Exec},
		started:   c.StartupProbe == nil,
		ready:     c.ReadinessProbe == nil,
	}, nil
}

// Ready reports the container's current readiness.
func (m *Manager) Ready() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.started && m.ready
}

// Started reports whether the container counts as started.
func (m *Manager) Started() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.started
}

// Run probes until ctx ends, and returns when every probe loop has.
func (m *Manager) Run(ctx context.Context) error {
	if m.Started() {
		m.cfg.OnStarted()
	}
	m.reportReadiness()
	var wg sync.WaitGroup
	for kind, p := range map[Kind]*corev1.Probe{Startup: m.container.StartupProbe, Liveness: m.container.LivenessProbe, Readiness: m.container.ReadinessProbe} {
		if p == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.loop(ctx, newWorker(kind, p))
		}()
	}
	wg.Wait()
	return nil
}

// reportReadiness calls OnReady if readiness changed since it last did.
func (m *Manager) reportReadiness() {
	m.mu.Lock()
	ready := m.started && m.ready
	changed := ready != m.reported
	m.reported = ready
	m.mu.Unlock()
	if changed {
		m.cfg.OnReady(ready)
	}
}

// worker is one probe's state, owned by its loop.
type worker struct {
	kind  Kind
	probe *corev1.Probe
	// period, timeout, initialDelay and the thresholds have kubelet's
	// defaults filled in.
	period, timeout, initialDelay time.Duration
	successThreshold              int
	failureThreshold              int

	last   outcome // the last raw result
	run    int     // how many times in a row last has come
	onHold bool    // stopped after a restart was asked for
}

func newWorker(kind Kind, p *corev1.Probe) *worker {
	w := &worker{
		kind:             kind,
		probe:            p,
		period:           seconds(p.PeriodSeconds, 10),
		timeout:          seconds(p.TimeoutSeconds, 1),
		initialDelay:     time.Duration(p.InitialDelaySeconds) * time.Second,
		successThreshold: orDefault(p.SuccessThreshold, 1),
		failureThreshold: orDefault(p.FailureThreshold, 3),
		last:             -1,
	}
	return w
}

func seconds(v int32, def int) time.Duration {
	return time.Duration(orDefault(v, def)) * time.Second
}

func orDefault(v int32, def int) int {
	if v <= 0 {
		return def
	}
	return int(v)
}

func (m *Manager) loop(ctx context.Context, w *worker) {
	t := m.cfg.Clock.NewTicker(w.period)
	defer t.Stop()
	for {
		if !m.probeOnce(ctx, w) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// probeOnce runs w's probe once if it is due and applies the result. It
// returns false when the probe should stop for good.
func (m *Manager) probeOnce(ctx context.Context, w *worker) bool {
	if ctx.Err() != nil {
		return false
	}
	started := m.Started()
	switch {
	case w.kind == Startup && started:
		return false
	case w.kind != Startup && !started:
		return true
	case w.onHold:
		return false
	case m.cfg.Clock.Since(m.cfg.StartedAt) < w.initialDelay:
		return true
	}

	res, out, err := m.target.run(ctx, &w.probe.ProbeHandler, w.timeout)
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		m.cfg.Log.Debug("probe errored", "probe", w.kind, "err", err)
		res, out = failure, err.Error()
	}
	switch res {
	case failure:
		m.cfg.OnEvent(Event{Type: corev1.EventTypeWarning, Reason: "Unhealthy", Message: fmt.Sprintf("%s probe failed: %s", w.kind, out)})
	case warning:
		m.cfg.OnEvent(Event{Type: corev1.EventTypeWarning, Reason: "Unhealthy", Message: fmt.Sprintf("%s probe warning: %s", w.kind, out)})
		res = success
	}

	if res == w.last {
		w.run++
	} else {
		w.last, w.run = res, 1
	}
	if (res == failure && w.run < w.failureThreshold) || (res == success && w.run < w.successThreshold) {
		return true
	}
	return m.apply(w, res == success)
}

// apply makes a result past its threshold current.
func (m *Manager) apply(w *worker, ok bool) bool {
	switch w.kind {
	case Readiness:
		m.mu.Lock()
		m.ready = ok
		m.mu.Unlock()
		m.reportReadiness()
		return true
	case Startup:
		if !ok {
			break
		}
		m.mu.Lock()
		m.started = true
		m.mu.Unlock()
		m.cfg.OnStarted()
		m.reportReadiness()
		return false
	case Liveness:
		if ok {
			return true
		}
	}
	// Liveness or startup failed: the container is to be restarted, and
	// this instance is not probed again.
	w.run, w.onHold = 0, true
	grace := m.cfg.Pod.Spec.TerminationGracePeriodSeconds
	if w.probe.TerminationGracePeriodSeconds != nil {
		grace = w.probe.TerminationGracePeriodSeconds
	}
	m.cfg.OnRestart(Restart{
		Probe:       w.kind,
		Message:     fmt.Sprintf("Container %s failed %s probe, will be restarted", m.cfg.Container, lower(w.kind)),
		GracePeriod: grace,
	})
	return false
}

func lower(k Kind) string {
	switch k {
	case Liveness:
		return "liveness"
	case Startup:
		return "startup"
	}
	return "readiness"
}
