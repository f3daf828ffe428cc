package plugins

import (
	"context"
	"fmt"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func BenchmarkSchedule5000Nodes(b *testing.B) {
	var nodes []scoreNode
	for i := range 5000 {
		nodes = append(nodes, scoreNode{
			node: newNode(fmt.Sprintf("n%04d", i)).alloc("cpu", "8", "memory", "32Gi").label("zone", fmt.Sprintf("z%d", i%3)).obj(),
			pods: []*v1.Pod{newPod(fmt.Sprintf("e%d", i)).req("cpu", "1", "memory", "1Gi").obj()},
		})
	}
	snap := snapshot(nodes...)
	fw, err := NewInTreeRegistry(Options{})
	if err != nil {
		b.Fatal(err)
	}
	pod := newPod("p").req("cpu", "500m", "memory", "512Mi").obj()
	b.ResetTimer()
	for b.Loop() {
		if _, err := fw.Schedule(context.Background(), pod, snap); err != nil {
			b.Fatal(err)
		}
	}
}
