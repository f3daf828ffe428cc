package api

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BenchmarkGet measures reading one pod by name: resourceVersion ""
// (a consistent read from the store) and "0" (from the watch cache), by
// one client serially and by 32 goroutines sharing it.
func BenchmarkGet(b *testing.B) {
	cfg := startServer(b)
	const name = "get-me"
	if _, err := newClient(b, cfg, protobufEncoding).CoreV1().Pods(namespace).Create(b.Context(), newPod(name), metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	for _, enc := range encodings {
		pods := newClient(b, cfg, enc).CoreV1().Pods(namespace)
		for _, rv := range []struct{ name, rv string }{{"store", ""}, {"cache", "0"}} {
			opts := metav1.GetOptions{ResourceVersion: rv.rv}
			b.Run(rv.name+"/"+enc.name+"/serial", func(b *testing.B) {
				ctx := b.Context()
				for b.Loop() {
					if _, err := pods.Get(ctx, name, opts); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("%s/%s/parallel%d", rv.name, enc.name, workers), func(b *testing.B) {
				ctx := b.Context()
				setParallelism(b)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := pods.Get(ctx, name, opts); err != nil {
							b.Error(err)
							return
						}
					}
				})
				reportRate(b, b.N, "reads/s")
			})
		}
	}
}
