package api

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// watchers is the number of pod watches BenchmarkWatchFanout keeps open.
const watchers = 100

// fanoutTimeout bounds the wait for one event to reach every watcher.
const fanoutTimeout = 30 * time.Second

// BenchmarkWatchFanout measures how fast a pod create reaches 100 pod
// watchers, each on its own client and connection (as 100 node agents
// would be). An op is one create; its latency runs from just before the
// create request to the moment the last watcher has decoded the ADDED
// event. serial creates one pod at a time; parallel32 creates from 32
// goroutines, each waiting for its own pod's fan-out. events/s counts
// events delivered to watchers.
func BenchmarkWatchFanout(b *testing.B) {
	cfg := startServer(b)
	for _, enc := range encodings {
		b.Run(enc.name, func(b *testing.B) {
			f := startFanout(b, cfg, enc)
			cs := newClient(b, cfg, enc)
			b.Run("serial", func(b *testing.B) {
				ctx := b.Context()
				var lat []time.Duration
				for b.Loop() {
					d, err := f.createAndWait(ctx, cs)
					if err != nil {
						b.Fatal(err)
					}
					lat = append(lat, d)
				}
				reportPercentiles(b, lat)
				reportRate(b, len(lat)*watchers, "events/s")
			})
			b.Run(fmt.Sprintf("parallel%d", workers), func(b *testing.B) {
				ctx := b.Context()
				var mu sync.Mutex // guards lat
				var lat []time.Duration
				setParallelism(b)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						d, err := f.createAndWait(ctx, cs)
						if err != nil {
							b.Error(err)
							return
						}
						mu.Lock()
						lat = append(lat, d)
						mu.Unlock()
					}
				})
				reportPercentiles(b, lat)
				reportRate(b, len(lat)*watchers, "events/s")
			})
		})
	}
}

// fanout is a set of pod watchers that count, per pod name, how many of
// them have seen its ADDED event.
type fanout struct {
	prefix  string // of the pod names
	seq     atomic.Int64
	pending sync.Map // pod name → *arrival
	stopped atomic.Bool

	failOnce sync.Once
	failed   chan struct{} // closed when a watch has ended early
	failErr  error         // why; set before failed is closed
}

// arrival tracks one pod's event across the watchers.
type arrival struct {
	left atomic.Int32
	done chan struct{} // closed when left reaches zero
}

// startFanout opens the watches from the current resourceVersion, each on
// its own connection, and stops them when b ends.
func startFanout(b *testing.B, cfg *rest.Config, enc encoding) *fanout {
	b.Helper()
	f := &fanout{prefix: "w-" + enc.name + "-", failed: make(chan struct{})}
	list, err := newClient(b, cfg, enc).CoreV1().Pods(namespace).List(b.Context(), metav1.ListOptions{Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var ws []watch.Interface
	b.Cleanup(func() {
		f.stopped.Store(true)
		for _, w := range ws {
			w.Stop()
		}
		wg.Wait()
	})
	for range watchers {
		w, err := newClient(b, cfg, enc).CoreV1().Pods(namespace).Watch(context.Background(), metav1.ListOptions{ResourceVersion: list.ResourceVersion})
		if err != nil {
			b.Fatal(err)
		}
		ws = append(ws, w)
		wg.Go(func() { f.watch(w) })
	}
	return f
}

// watch counts w's ADDED events until w is stopped.
func (f *fanout) watch(w watch.Interface) {
	for ev := range w.ResultChan() {
		if ev.Type == watch.Error {
			f.fail(fmt.Errorf("watch error: %v", ev.Object))
			return
		}
		pod, ok := ev.Object.(*corev1.Pod)
		if !ok || ev.Type != watch.Added {
			continue
		}
		if a, ok := f.pending.Load(pod.Name); ok {
			if a := a.(*arrival); a.left.Add(-1) == 0 {
				close(a.done)
			}
		}
	}
	if !f.stopped.Load() {
		f.fail(errors.New("a watch ended early"))
	}
}

// fail records the first reason a watch ended early.
func (f *fanout) fail(err error) {
	f.failOnce.Do(func() {
		f.failErr = err
		close(f.failed)
	})
}

// createAndWait creates a pod and returns how long it took until every
// watcher had its ADDED event.
func (f *fanout) createAndWait(ctx context.Context, cs *kubernetes.Clientset) (time.Duration, error) {
	name := fmt.Sprintf("%s%d", f.prefix, f.seq.Add(1))
	a := &arrival{done: make(chan struct{})}
	a.left.Store(watchers)
	f.pending.Store(name, a)
	defer f.pending.Delete(name)
	start := time.Now()
	if _, err := cs.CoreV1().Pods(namespace).Create(ctx, newPod(name), metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	timeout := time.NewTimer(fanoutTimeout)
	defer timeout.Stop()
	select {
	case <-a.done:
		return time.Since(start), nil
	case <-f.failed:
		return 0, f.failErr
	case <-timeout.C:
		return 0, fmt.Errorf("pod %s reached %d of %d watchers in %v", name, watchers-int(a.left.Load()), watchers, fanoutTimeout)
	}
}
