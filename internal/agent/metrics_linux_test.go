package agent

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"berth.dev/berth/internal/metrics"
)

func TestResourceMetrics(t *testing.T) {
	n := newTestNode(t)
	// One container burns CPU and holds memory, the other sleeps.
	n.createPod(newPod("busy",
		busybox("burn", "sh", "-c", "head -c 20000000 /dev/zero > /dev/shm/fill; while :; do :; done"),
		busybox("idle", "sleep", "3600")))
	n.waitPod("busy", "Running", running)

	var s metrics.Scrape
	byName := map[string]metrics.Point{}
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		if s, err = n.agent.ResourceMetrics(ctx); err != nil {
			return false, err
		}
		clear(byName)
		for _, c := range s.Containers {
			if c.Namespace == "default" && c.Pod == "busy" {
				byName[c.Container] = c.Point
			}
		}
		return byName["burn"].CPUSeconds > 0.2 && byName["burn"].MemoryBytes > 20e6, nil
	})
	if err != nil {
		t.Fatalf("the burning container's usage never showed: %v; containers %+v", err, s.Containers)
	}
	if _, ok := byName["idle"]; !ok {
		t.Errorf("no usage for the idle container: %+v", s.Containers)
	}
	if byName["idle"].CPUSeconds >= byName["burn"].CPUSeconds {
		t.Errorf("idle container used %.3fs of CPU, the burning one %.3fs", byName["idle"].CPUSeconds, byName["burn"].CPUSeconds)
	}
	if s.Node.CPUSeconds <= byName["burn"].CPUSeconds || s.Node.MemoryBytes == 0 || time.Since(s.Node.Time) > time.Minute {
		t.Errorf("node point %+v", s.Node)
	}
}
