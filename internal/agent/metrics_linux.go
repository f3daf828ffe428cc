package agent

import (
	"context"
	"fmt"

	"berth.dev/berth/internal/agent/runtime"
	"berth.dev/berth/internal/agent/stats"
	"berth.dev/berth/internal/metrics"
)

// ResourceMetrics reads the CPU and memory usage of the node and of each
// running container of its pods, for the node's /metrics/resource.
func (a *Agent) ResourceMetrics(ctx context.Context) (metrics.Scrape, error) {
	node, err := stats.ReadNode("/proc")
	if err != nil {
		return metrics.Scrape{}, fmt.Errorf("reading the node's usage: %w", err)
	}
	cs, err := a.containers.get(ctx)
	if err != nil {
		return metrics.Scrape{}, err
	}
	unified := a.cfg.Runtime.CgroupMode() == runtime.CgroupV2
	var running []stats.Container
	for _, c := range cs {
		if c.State != runtime.StateRunning || c.CgroupPath == "" || c.Labels[labelPodUID] == "" {
			continue
		}
		running = append(running, stats.Container{
			Namespace: c.Labels[labelPodNamespace], Pod: c.Labels[labelPodName], Name: c.Labels[labelContainer],
			Cgroup: stats.CgroupAt(unified, c.CgroupPath),
		})
	}
	return stats.Scrape(node, running, a.cfg.Clock.Now()), nil
}
