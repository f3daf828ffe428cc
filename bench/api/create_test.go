package api

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// creator creates one object of a kind.
type creator struct {
	name   string
	create func(ctx context.Context, cs *kubernetes.Clientset, name string) error
}

var creators = []creator{
	{"configmaps", func(ctx context.Context, cs *kubernetes.Clientset, name string) error {
		_, err := cs.CoreV1().ConfigMaps(namespace).Create(ctx, newConfigMap(name), metav1.CreateOptions{})
		return err
	}},
	{"pods", func(ctx context.Context, cs *kubernetes.Clientset, name string) error {
		_, err := cs.CoreV1().Pods(namespace).Create(ctx, newPod(name), metav1.CreateOptions{})
		return err
	}},
}

// BenchmarkCreate measures creates of ConfigMaps and Pods: one client
// waiting for each answer (serial: latency, one fsync per write), and one
// client shared by 32 goroutines (parallel: throughput, writes sharing
// commits). ns/op of the parallel runs is wall time divided by writes.
func BenchmarkCreate(b *testing.B) {
	cfg := startServer(b)
	var seq atomic.Int64
	for _, enc := range encodings {
		cs := newClient(b, cfg, enc)
		for _, c := range creators {
			b.Run(c.name+"/"+enc.name+"/serial", func(b *testing.B) {
				ctx := b.Context()
				n := 0
				for b.Loop() {
					if err := c.create(ctx, cs, fmt.Sprintf("s-%d", seq.Add(1))); err != nil {
						b.Fatal(err)
					}
					n++
				}
				reportRate(b, n, "writes/s")
			})
			b.Run(fmt.Sprintf("%s/%s/parallel%d", c.name, enc.name, workers), func(b *testing.B) {
				ctx := b.Context()
				setParallelism(b)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := c.create(ctx, cs, fmt.Sprintf("p-%d", seq.Add(1))); err != nil {
							b.Error(err)
							return
						}
					}
				})
				reportRate(b, b.N, "writes/s")
			})
		}
	}
}
