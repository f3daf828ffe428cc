package podstartup

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

const (
	// runTimeout bounds the wait for one batch of pods to be Running and
	// Ready.
	runTimeout = 3 * time.Minute
	// goneTimeout bounds the wait for one batch of pods to be deleted.
	goneTimeout = 2 * time.Minute
	// idle is how long 10 running pods sit before memory is read.
	idle = 10 * time.Second
)

// BenchmarkPodStartup creates N pods at once (one goroutine each, client-go
// with protobuf) and measures, per pod, the time from just before its
// create request to the moment a watch sees it Running (p50-ms, p99-ms,
// max-ms), Ready (ready-p99-ms) and bound to the node (bound-p50-ms), and
// pods/s (pods over the time from the first create to the last Running).
// ns/op is that time for one batch. Deleting the pods, and waiting until
// they are gone, is outside the timer. `pods=N` leaves nodeName unset, so
// the scheduler binds the pods; `preset/pods=N` sets it, so the agent sees
// the pods as they are created.
func BenchmarkPodStartup(b *testing.B) {
	n := startNode(b)
	batch := 0
	for _, preset := range []bool{false, true} {
		for _, count := range []int{1, 10, 50} {
			name := fmt.Sprintf("pods=%d", count)
			if preset {
				name = "preset/" + name
			}
			b.Run(name, func(b *testing.B) {
				var running, ready, bound []time.Duration
				var measured time.Duration
				for b.Loop() {
					batch++
					r := n.runBatch(b, fmt.Sprintf("b%d", batch), count, preset, false)
					running = append(running, r.since(func(p podTimes) time.Time { return p.running })...)
					ready = append(ready, r.since(func(p podTimes) time.Time { return p.ready })...)
					bound = append(bound, r.since(func(p podTimes) time.Time { return p.bound })...)
					measured += r.wall
				}
				b.ReportMetric(percentile(running, 50), "p50-ms")
				b.ReportMetric(percentile(running, 99), "p99-ms")
				b.ReportMetric(percentile(running, 100), "max-ms")
				b.ReportMetric(percentile(ready, 99), "ready-p99-ms")
				b.ReportMetric(percentile(bound, 50), "bound-p50-ms")
				b.ReportMetric(float64(len(running))/measured.Seconds(), "pods/s")
			})
		}
	}
}

// BenchmarkIdleMemory starts a server with its agent, runs 10 sleeping
// pods, waits 10 s and reads the resident memory (VmRSS) of the server
// process (server-rss-MiB: API server, store, controllers, scheduler and
// agent; server-anon-MiB is its RssAnon, without the pages of the berth
// binary), and of the pods' `berth shim` processes, one per container:
// the sum of their VmRSS (shims-rss-MiB, which counts the berth binary's
// shared text once per shim) and of their proportional set sizes
// (shims-pss-MiB). Target (DESIGN.md): < 100 MiB with the local agent.
// ns/op is meaningless.
func BenchmarkIdleMemory(b *testing.B) {
	n := startNode(b)
	var m memory
	batch := 0
	for b.Loop() {
		batch++
		n.runBatch(b, fmt.Sprintf("idle%d", batch), 10, false, true)
		time.Sleep(idle)
		var err error
		if m, err = n.memory(); err != nil {
			b.Fatal(err)
		}
		if m.shims != 10 {
			b.Fatalf("%d shims of this server running, want 10", m.shims)
		}
		n.deleteAll(b)
	}
	b.ReportMetric(float64(m.server)/(1<<20), "server-rss-MiB")
	b.ReportMetric(float64(m.serverAnon)/(1<<20), "server-anon-MiB")
	b.ReportMetric(float64(m.shimsRSS)/(1<<20), "shims-rss-MiB")
	b.ReportMetric(float64(m.shimsPSS)/(1<<20), "shims-pss-MiB")
}

// podTimes are the times of one pod: just before its create request, and
// of the watch events that first showed it bound to a node, Running, and
// Ready (zero until seen).
type podTimes struct {
	created, bound, running, ready time.Time
}

// batchResult is one batch: each pod's times, and the time from the first
// create to the last pod seen Running and Ready.
type batchResult struct {
	pods []podTimes
	wall time.Duration
}

// since returns the time from each pod's create to the time at picks.
func (r batchResult) since(at func(podTimes) time.Time) []time.Duration {
	ds := make([]time.Duration, len(r.pods))
	for i, p := range r.pods {
		ds[i] = at(p).Sub(p.created)
	}
	return ds
}

// runBatch creates count pods labelled batch=name at once and waits until
// a watch has seen all of them Running and Ready; the timer runs from just
// before the first create to then. Unless keep, it then deletes the pods
// and waits until they are gone, with the timer stopped.
func (n *node) runBatch(b *testing.B, name string, count int, preset, keep bool) batchResult {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	// The watch lives for the whole batch; each phase has its own deadline.
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	pods := n.client.CoreV1().Pods(metav1.NamespaceDefault)
	selector := "batch=" + name
	w, err := pods.Watch(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()

	times := make([]podTimes, count) // created, written by the creators
	seen := make([]podTimes, count)  // the rest, written by the watcher
	index := map[string]int{}
	names := make([]string, count)
	for i := range count {
		names[i] = fmt.Sprintf("%s-%d", name, i)
		index[names[i]] = i
	}
	var created sync.WaitGroup
	errs := make(chan error, count)
	b.StartTimer()
	begin := time.Now()
	for i := range count {
		created.Go(func() {
			p := newPod(names[i], name, preset)
			times[i].created = time.Now()
			if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
				errs <- fmt.Errorf("creating pod %s: %w", p.Name, err)
			}
		})
	}
	// Creates run while events arrive; the create times are read once all
	// creates have returned.
	deadline := time.After(runTimeout)
	left := count
	for left > 0 {
		select {
		case err := <-errs:
			b.Fatal(err)
		case <-deadline:
			b.Fatalf("%d of %d pods of batch %s not Running and Ready after %v", left, count, name, runTimeout)
		case ev, ok := <-w.ResultChan():
			now := time.Now()
			if !ok {
				b.Fatalf("watch of batch %s ended", name)
			}
			if ev.Type == watch.Error {
				b.Fatalf("watch of batch %s: %v", name, ev.Object)
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				continue
			}
			i, mine := index[p.Name]
			if !mine {
				continue
			}
			t := &seen[i]
			done := !t.running.IsZero() && !t.ready.IsZero()
			if t.bound.IsZero() && p.Spec.NodeName != "" {
				t.bound = now
			}
			if t.running.IsZero() && p.Status.Phase == corev1.PodRunning {
				t.running = now
			}
			if t.ready.IsZero() && podReady(p) {
				t.ready = now
			}
			if !done && !t.running.IsZero() && !t.ready.IsZero() {
				left--
			}
		}
	}
	wall := time.Since(begin)
	b.StopTimer()
	created.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}

	for i := range seen {
		seen[i].created = times[i].created
	}
	result := batchResult{pods: seen, wall: wall}
	if keep {
		return result
	}

	// Delete the batch and wait until the agent has removed it.
	deadline = time.After(goneTimeout)
	var deleted sync.WaitGroup
	for _, name := range names {
		deleted.Go(func() {
			if err := pods.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
				errs <- fmt.Errorf("deleting pod %s: %w", name, err)
			}
		})
	}
	for left = count; left > 0; {
		select {
		case err := <-errs:
			b.Fatal(err)
		case <-deadline:
			b.Fatalf("%d of %d pods of batch %s still there %v after deleting them", left, count, name, goneTimeout)
		case ev, ok := <-w.ResultChan():
			if !ok {
				b.Fatalf("watch of batch %s ended", name)
			}
			if ev.Type == watch.Deleted {
				left--
			}
		}
	}
	deleted.Wait()
	return result
}

// newPod is a pod of batch running `sleep 3600` from the imported busybox
// image, on the node when preset. Sleep ignores SIGTERM, so deletion takes
// the grace period of 1 s.
func newPod(name, batch string, preset bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"batch": batch}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:            "sleep",
				Image:           image,
				ImagePullPolicy: corev1.PullNever,
				Command:         []string{"sleep", "3600"},
			}},
			TerminationGracePeriodSeconds: new(int64(1)),
		},
	}
	if preset {
		p.Spec.NodeName = nodeName
	}
	return p
}

// podReady reports whether p's Ready condition is True.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// percentile returns the q-th percentile (nearest rank) of ds in
// milliseconds; 100 is the maximum.
func percentile(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := max(int(math.Ceil(q/100*float64(len(s))))-1, 0)
	return float64(s[i]) / float64(time.Millisecond)
}
