package probe

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// execResult is one scripted run of an exec probe command.
type execResult struct {
	code int
	out  string
}

func execProbe(cmd string) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{cmd}}}}
}

func withTiming(p *corev1.Probe, delay, period, success, failure int32) *corev1.Probe {
	p.InitialDelaySeconds, p.PeriodSeconds, p.SuccessThreshold, p.FailureThreshold = delay, period, success, failure
	return p
}

func TestManager(t *testing.T) {
	fail := execResult{1, "boom"}
	ok := execResult{0, ""}
	tests := []struct {
		name      string
		container corev1.Container
		scripts   map[string][]execResult
		// steps is how many periods of 10s to advance after the start.
		steps int
		want  []string
	}{
		{
			name:      "liveness restarts after failureThreshold failures in a row",
			container: corev1.Container{LivenessProbe: withTiming(execProbe("live"), 0, 10, 1, 3)},
			scripts:   map[string][]execResult{"live": {fail, fail, ok, fail, fail, fail, ok}},
			steps:     8,
			want: []string{
				"started", "ready true",
				"0s exec live", "event Warning Unhealthy: Liveness probe failed: boom",
				"10s exec live", "event Warning Unhealthy: Liveness probe failed: boom",
				"20s exec live",
				"30s exec live", "event Warning Unhealthy: Liveness probe failed: boom",
				"40s exec live", "event Warning Unhealthy: Liveness probe failed: boom",
				"50s exec live", "event Warning Unhealthy: Liveness probe failed: boom",
				"restart Liveness: Container c failed liveness probe, will be restarted (grace 30)",
			},
		},
		{
			name: "probe terminationGracePeriodSeconds overrides the pod's",
			container: corev1.Container{LivenessProbe: func() *corev1.Probe {
				p := withTiming(execProbe("live"), 0, 10, 1, 1)
				p.TerminationGracePeriodSeconds = ptr.To[int64](5)
				return p
			}()},
			scripts: map[string][]execResult{"live": {fail}},
			steps:   2,
			want: []string{
				"started", "ready true",
				"0s exec live", "event Warning Unhealthy: Liveness probe failed: boom",
				"restart Liveness: Container c failed liveness probe, will be restarted (grace 5)",
			},
		},
		{
			name:      "readiness follows its thresholds",
			container: corev1.Container{ReadinessProbe: withTiming(execProbe("ready"), 0, 10, 2, 2)},
			scripts:   map[string][]execResult{"ready": {ok, ok, fail, ok, fail, fail, ok, ok}},
			steps:     7,
			want: []string{
				"started",
				"0s exec ready",
				"10s exec ready", "ready true",
				"20s exec ready", "event Warning Unhealthy: Readiness probe failed: boom",
				"30s exec ready",
				"40s exec ready", "event Warning Unhealthy: Readiness probe failed: boom",
				"50s exec ready", "event Warning Unhealthy: Readiness probe failed: boom", "ready false",
				"60s exec ready",
				"70s exec ready", "ready true",
			},
		},
		{
			name:      "initialDelaySeconds skips probes until it has passed",
			container: corev1.Container{ReadinessProbe: withTiming(execProbe("ready"), 25, 10, 1, 3)},
			scripts:   map[string][]execResult{"ready": {ok}},
			steps:     3,
			want:      []string{"started", "30s exec ready", "ready true"},
		},
		{
			name: "startup gates readiness",
			container: corev1.Container{
				StartupProbe: withTiming(execProbe("start"), 0, 10, 1, 5),
				// The delay keeps the readiness loop from racing the startup
				// loop at the instant startup succeeds.
				ReadinessProbe: withTiming(execProbe("ready"), 15, 10, 1, 3),
			},
			scripts: map[string][]execResult{"start": {fail, ok}, "ready": {ok}},
			steps:   2,
			want: []string{
				"0s exec start", "event Warning Unhealthy: Startup probe failed: boom",
				"10s exec start", "started",
				"20s exec ready", "ready true",
			},
		},
		{
			name: "startup gates liveness; without a readiness probe started means ready",
			container: corev1.Container{
				StartupProbe: withTiming(execProbe("start"), 0, 10, 1, 5),
				// The delay keeps the liveness loop from racing the startup
				// loop at the instant startup succeeds.
				LivenessProbe: withTiming(execProbe("live"), 25, 10, 1, 3),
			},
			scripts: map[string][]execResult{"start": {fail, fail, ok}, "live": {fail}},
			steps:   3,
			want: []string{
				"0s exec start", "event Warning Unhealthy: Startup probe failed: boom",
				"10s exec start", "event Warning Unhealthy: Startup probe failed: boom",
				"20s exec start", "started", "ready true",
				"30s exec live", "event Warning Unhealthy: Liveness probe failed: boom",
			},
		},
		{
			name:      "startup failure past its threshold restarts with the pod's grace period",
			container: corev1.Container{StartupProbe: withTiming(execProbe("start"), 0, 10, 1, 2), LivenessProbe: execProbe("live")},
			scripts:   map[string][]execResult{"start": {fail}},
			steps:     4,
			want: []string{
				"0s exec start", "event Warning Unhealthy: Startup probe failed: boom",
				"10s exec start", "event Warning Unhealthy: Startup probe failed: boom",
				"restart Startup: Container c failed startup probe, will be restarted (grace 30)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newStepClock(probeCount(tt.container))
			start := clk.Now()
			var mu sync.Mutex // guards log and calls
			var log []string
			calls := map[string]int{}
			record := func(s string) {
				mu.Lock()
				defer mu.Unlock()
				log = append(log, s)
			}
			exec := func(_ context.Context, id string, cmd []string) (int, []byte, error) {
				if id != "cid" {
					return 0, nil, fmt.Errorf("exec in %q", id)
				}
				mu.Lock()
				script := tt.scripts[cmd[0]]
				r := script[min(calls[cmd[0]], len(script)-1)]
				calls[cmd[0]]++
				log = append(log, fmt.Sprintf("%ds exec %s", int(clk.Since(start).Seconds()), cmd[0]))
				mu.Unlock()
				return r.code, []byte(r.out), nil
			}
			c := tt.container
			c.Name = "c"
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "other"}, c}, TerminationGracePeriodSeconds: ptr.To[int64](30)},
			}
			m, err := New(Config{
				Pod: pod, Container: "c", ContainerID: "cid", StartedAt: start, Exec: exec, Clock: clk,
				OnReady:   func(r bool) { record(fmt.Sprintf("ready %v", r)) },
				OnStarted: func() { record("started") },
				OnEvent:   func(e Event) { record(fmt.Sprintf("event %s %s: %s", e.Type, e.Reason, e.Message)) },
				OnRestart: func(r Restart) {
					record(fmt.Sprintf("restart %s: %s (grace %d)", r.Probe, r.Message, *r.GracePeriod))
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error)
			go func() { done <- m.Run(ctx) }()
			clk.settle(t)
			for range tt.steps {
				clk.advance(t, 10*time.Second)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff(tt.want, log); diff != "" {
				t.Errorf("callbacks (-want +got):\n%s", diff)
			}
		})
	}
}

func probeCount(c corev1.Container) int {
	n := 0
	for _, p := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
		if p != nil {
			n++
		}
	}
	return n
}
