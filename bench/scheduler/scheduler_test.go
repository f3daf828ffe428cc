package scheduler

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"berth.dev/berth/internal/apiserver/apiservertest"
	"berth.dev/berth/internal/scheduler"
	"berth.dev/berth/internal/sim"
)

var (
	numNodes = flag.Int("sched.nodes", 100, "nodes in BenchmarkSchedulingThroughput")
	numPods  = flag.Int("sched.pods", 1000, "pods in BenchmarkSchedulingThroughput")
	useSim   = flag.Bool("sched.sim", false, "play the nodes with internal/sim (leases, node and pod status) instead of registering them once")
	creators = flag.Int("sched.creators", 32, "concurrent pod creators")
)

// nodeCapacity and podRequests follow upstream's SchedulingBasic workload
// (scheduler_perf): 4 cpu, 32Gi, 110 pods per node; 100m and 500Mi per pod.
var (
	nodeCapacity = v1.ResourceList{v1.ResourceCPU: resource.MustParse("4"), v1.ResourceMemory: resource.MustParse("32Gi"), v1.ResourcePods: resource.MustParse("110")}
	podRequests  = v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m"), v1.ResourceMemory: resource.MustParse("500Mi")}
)

const namespace = "default"

// protobuf returns a copy of cfg speaking protobuf, as berth's components do.
func protobuf(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.ContentType = "application/vnd.kubernetes.protobuf"
	c.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	c.QPS = -1
	// Every pod would warn about the restricted Pod Security level.
	c.WarningHandler = rest.NoWarnings{}
	return c
}

// BenchmarkSchedulingThroughput creates -sched.pods pods on -sched.nodes
// nodes and measures, from the create request to the binding seen by a
// watch, the throughput (pods/s over the whole run) and the latency
// percentiles. Each iteration is a new cluster; run it with
// -benchtime=1x.
func BenchmarkSchedulingThroughput(b *testing.B) {
	// The scheduler's event recorder writes one event per pod, one at a
	// time, far behind the bindings; those still queued when the server
	// stops would each log an error.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	b.Run(fmt.Sprintf("nodes=%d/pods=%d", *numNodes, *numPods), func(b *testing.B) {
		for range b.N {
			run(b, *numNodes, *numPods)
		}
	})
}

func run(b *testing.B, nodes, pods int) {
	b.StopTimer()
	srv := apiservertest.Start(b)
	defer srv.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := kubernetes.NewForConfigOrDie(protobuf(srv.Admin))
	schedClient := kubernetes.NewForConfigOrDie(protobuf(srv.Admin))

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	factory := informers.NewSharedInformerFactory(schedClient, 0)
	start := time.Now()
	if *useSim {
		s, err := sim.New(sim.Config{Client: client, Informers: factory, Nodes: nodes, Capacity: nodeCapacity})
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() { _ = s.Run(ctx) })
	} else {
		registerNodes(b, ctx, client, nodes)
	}
	sched, err := scheduler.New(scheduler.Config{Client: schedClient, Informers: factory})
	if err != nil {
		b.Fatal(err)
	}
	factory.Start(ctx.Done())
	wg.Go(func() { _ = sched.Run(ctx) })

	// The watcher records when each pod is first seen bound.
	var (
		mu      sync.Mutex
		created = make(map[string]time.Time, pods)
		bound   = make(map[string]time.Time, pods)
		all     = make(chan struct{})
	)
	watchFactory := informers.NewSharedInformerFactory(kubernetes.NewForConfigOrDie(protobuf(srv.Admin)), 0)
	onPod := func(obj any) {
		p, ok := obj.(*v1.Pod)
		if !ok || p.Spec.NodeName == "" {
			return
		}
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if _, seen := bound[p.Name]; seen || p.Name == "warmup" {
			return
		}
		bound[p.Name] = now
		if len(bound) == pods {
			close(all)
		}
	}
	if _, err := watchFactory.Core().V1().Pods().Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: onPod, UpdateFunc: func(_, obj any) { onPod(obj) },
	}); err != nil {
		b.Fatal(err)
	}
	watchFactory.Start(ctx.Done())
	watchFactory.WaitForCacheSync(ctx.Done())

	// A first pod bound means the scheduler is running; wait for it to see
	// every node too.
	if _, err := client.CoreV1().Pods(namespace).Create(ctx, newPod("warmup"), metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	waitFor(b, 5*time.Minute, func() bool {
		p, err := client.CoreV1().Pods(namespace).Get(ctx, "warmup", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName != "" && len(factory.Core().V1().Nodes().Informer().GetStore().ListKeys()) == nodes
	})
	b.Logf("setup (server, %d nodes, scheduler) took %v", nodes, time.Since(start).Round(time.Millisecond))

	var heapPeak atomic.Uint64
	wg.Go(func() { sampleHeap(ctx, &heapPeak) })

	b.StartTimer()
	begin := time.Now()
	next := atomic.Int64{}
	var createWG sync.WaitGroup
	for range *creators {
		createWG.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(pods) {
					return
				}
				name := fmt.Sprintf("pod-%06d", i)
				mu.Lock()
				created[name] = time.Now()
				mu.Unlock()
				if _, err := client.CoreV1().Pods(namespace).Create(ctx, newPod(name), metav1.CreateOptions{}); err != nil {
					b.Errorf("creating %s: %v", name, err)
					return
				}
			}
		})
	}
	createWG.Wait()
	createdAll := time.Since(begin)
	select {
	case <-all:
	case <-time.After(30 * time.Minute):
		b.Fatalf("%d of %d pods bound within 30 minutes", len(bound), pods)
	}
	elapsed := time.Since(begin)
	b.StopTimer()

	mu.Lock()
	lat := make([]time.Duration, 0, pods)
	for name, t := range bound {
		lat = append(lat, t.Sub(created[name]))
	}
	mu.Unlock()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(pods)/elapsed.Seconds(), "pods/s")
	b.ReportMetric(float64(pods)/createdAll.Seconds(), "creates/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(heapPeak.Load())/(1<<20), "peak-heap-MiB")
	if hwm, err := procStatus("VmHWM"); err == nil {
		b.ReportMetric(float64(hwm)/(1<<20), "peak-rss-MiB")
	}
	load, _ := os.ReadFile("/proc/loadavg")
	b.Logf("%d pods bound in %v (created in %v); load average %s", pods, elapsed.Round(time.Millisecond), createdAll.Round(time.Millisecond), strings.TrimSpace(string(load)))
}

func newPod(name string) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"app": "bench"}},
		Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
			Resources: v1.ResourceRequirements{Requests: podRequests}}}},
	}
}

// registerNodes creates ready nodes with nodeCapacity, as a kubelet
// registers once, without leases or later status reports.
func registerNodes(b *testing.B, ctx context.Context, client kubernetes.Interface, n int) {
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range *creators {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				name := fmt.Sprintf("node-%05d", i)
				node := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
					v1.LabelHostname: name, v1.LabelTopologyZone: fmt.Sprintf("zone-%d", i%3)}}}
				created, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
				if err != nil {
					b.Errorf("creating node %s: %v", name, err)
					return
				}
				created.Status = v1.NodeStatus{Capacity: nodeCapacity, Allocatable: nodeCapacity,
					Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue, Reason: "KubeletReady"}}}
				if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
					b.Errorf("reporting node %s ready: %v", name, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// sampleHeap records the largest HeapInuse seen every 100 ms until ctx ends.
func sampleHeap(ctx context.Context, peak *atomic.Uint64) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var ms runtime.MemStats
	for {
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > peak.Load() {
			peak.Store(ms.HeapInuse)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// waitFor polls cond every 20 ms until it holds or timeout passes.
func waitFor(b *testing.B, timeout time.Duration, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procStatus returns a size field (in bytes) of /proc/self/status.
func procStatus(field string) (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		return kb << 10, err
	}
	return 0, fmt.Errorf("%s not in /proc/self/status", field)
}
