package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"berth.dev/berth/internal/agent/env"
	"berth.dev/berth/internal/agent/image"
	"berth.dev/berth/internal/agent/network"
	"berth.dev/berth/internal/agent/runtime"
	"berth.dev/berth/internal/agent/volume"
)

// Config configures an Agent.
type Config struct {
	// Rest is the node's identity towards the API server (user
	// system:node:<NodeName> in group system:nodes); required.
	Rest *rest.Config
	// NodeName is the Node whose pods the agent runs; required.
	NodeName string
	// NodeIP is reported as the pods' hostIP.
	NodeIP string
	// DataDir is the agent's directory: container logs under pods/,
	// Localhost seccomp profiles under seccomp/; required.
	DataDir string
	// Runtime, Images and Network are the node's container runtime, image
	// store and pod network; required. The agent owns every sandbox and
	// container the Runtime has.
	Runtime *runtime.Runtime
	Images  *image.Store
	Network *network.Network
	// Volumes sets up the pods' volumes; required. The agent tears down
	// the volumes of pods the API does not have.
	Volumes *volume.Manager
	// ClusterDNS and ClusterDomain make the resolv.conf of ClusterFirst
	// pods; without ClusterDNS they get the host's.
	ClusterDNS    []string
	ClusterDomain string
	// PodPidsLimit caps the tasks of each pod; 0 is no limit.
	PodPidsLimit int64
	// VolumeRefreshPeriod is how often a running pod's configMap, secret,
	// downwardAPI and projected volumes are brought up to date; default
	// 30s.
	VolumeRefreshPeriod time.Duration
	// SyncPeriod is how often a pod worker looks at its pod's containers
	// when nothing else wakes it; default 1s.
	SyncPeriod time.Duration
	// Clock is what back-off, start times and condition transitions read
	// the time from; default the real clock. Syncs are timed by the real
	// clock.
	Clock clock.PassiveClock
	// Logger receives the agent's logs; nil discards them.
	Logger *slog.Logger
}

// Agent runs the pods bound to one node. Create it with New; Run runs it.
type Agent struct {
	cfg      Config
	client   kubernetes.Interface
	log      *slog.Logger
	memory   int64
	restarts *backoff
	pulls    *backoff
	env      *env.Resolver
	// services feeds env's Service variables; Run starts it.
	services informers.SharedInformerFactory

	// mu guards workers and lister.
	mu      sync.Mutex
	workers map[types.UID]*worker
	lister  listerscorev1.PodLister
	// wg counts the workers' goroutines.
	wg sync.WaitGroup
	// recorder is set by Run before any worker starts.
	recorder record.EventRecorder
	// containers is the workers' shared container listing.
	containers *listing
}

// New checks cfg and returns an Agent.
func New(cfg Config) (*Agent, error) {
	switch {
	case cfg.Rest == nil:
		return nil, errors.New("agent: no API server configuration")
	case cfg.NodeName == "":
		return nil, errors.New("agent: no node name")
	case cfg.DataDir == "":
		return nil, errors.New("agent: no data directory")
	case cfg.Runtime == nil || cfg.Images == nil || cfg.Network == nil || cfg.Volumes == nil:
		return nil, errors.New("agent: runtime, image store, network and volumes are required")
	}
	if cfg.SyncPeriod <= 0 {
		cfg.SyncPeriod = time.Second
	}
	if cfg.VolumeRefreshPeriod <= 0 {
		cfg.VolumeRefreshPeriod = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	client, err := kubernetes.NewForConfig(cfg.Rest)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return nil, fmt.Errorf("agent: reading memory size: %w", err)
	}
	services := informers.NewSharedInformerFactory(client, 0)
	resolver, err := env.New(env.Config{
		Client:   client,
		Services: services.Core().V1().Services().Lister(),
		Allocatable: corev1.ResourceList{
			corev1.ResourceCPU:    *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
			corev1.ResourceMemory: *resource.NewQuantity(int64(si.Totalram)*int64(si.Unit), resource.BinarySI),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	return &Agent{
		cfg:        cfg,
		env:        resolver,
		services:   services,
		client:     client,
		log:        cfg.Logger.With("component", "agent", "node", cfg.NodeName),
		memory:     int64(si.Totalram) * int64(si.Unit),
		restarts:   newBackoff(),
		pulls:      newBackoff(),
		workers:    map[types.UID]*worker{},
		containers: &listing{rt: cfg.Runtime},
	}, nil
}

// Run watches the node's pods and runs them until ctx ends. Containers
// keep running when it returns; a later Run adopts them. Containers and
// sandboxes of pods the API does not have are removed.
func (a *Agent) Run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(a.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", a.cfg.NodeName).String()
		}))
	pods := factory.Core().V1().Pods()
	a.mu.Lock()
	a.lister = pods.Lister()
	a.mu.Unlock()

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: a.client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	a.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: a.cfg.NodeName})

	enqueue := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if p, ok := obj.(*corev1.Pod); ok {
			a.kick(ctx, p.UID, p.Namespace, p.Name)
		}
	}
	if _, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if err := a.sweep(ctx); err != nil {
		a.log.Error("removing leftovers failed", "err", err)
	}
	factory.Start(ctx.Done())
	a.services.Start(ctx.Done())
	defer func() {
		factory.Shutdown()
		a.services.Shutdown()
		a.wg.Wait()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), pods.Informer().HasSynced) {
		return nil
	}
	for _, ok := range a.services.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return nil
		}
	}
	a.log.Info("agent running")
	// Everything on the node gets a worker, which adopts what belongs to
	// a pod and removes what does not.
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		if err := a.adopt(ctx); err != nil {
			a.log.Error("listing the node's containers failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sweep undoes what a crash between steps may have left, before any
// worker runs: root filesystems prepared for containers that were never
// created, and network attachments of sandboxes that are gone.
func (a *Agent) sweep(ctx context.Context) error {
	cs, err := a.cfg.Runtime.List(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, c := range cs {
		known[c.ID] = true
	}
	var errs []error
	for _, id := range a.cfg.Images.Containers() {
		if !known[id] {
			errs = append(errs, a.cfg.Images.Release(id))
		}
	}
	attached, err := a.cfg.Network.Pods()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, id := range attached {
		if _, err := a.cfg.Runtime.Sandbox(id); errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, a.cfg.Network.Teardown(ctx, id))
		}
	}
	return errors.Join(errs...)
}

// adopt starts a worker for every pod that has containers or a sandbox on
// the node.
func (a *Agent) adopt(ctx context.Context) error {
	cs, err := a.cfg.Runtime.List(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if uid := c.Labels[labelPodUID]; uid != "" {
			a.kick(ctx, types.UID(uid), c.Labels[labelPodNamespace], c.Labels[labelPodName])
		}
	}
	sbs, err := a.cfg.Runtime.Sandboxes()
	if err != nil {
		return err
	}
	for _, s := range sbs {
		a.kick(ctx, types.UID(s.Config.ID), s.Config.Namespace, s.Config.Name)
	}
	return a.orphanVolumes(ctx)
}

// orphanVolumes tears down the volumes of pods that neither the API nor a
// worker has. The cache is read after the volumes: a pod's volumes are
// set up only once it is in the cache.
func (a *Agent) orphanVolumes(ctx context.Context) error {
	uids, err := a.cfg.Volumes.Pods()
	if err != nil || len(uids) == 0 {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	pods, err := a.lister.List(labels.Everything())
	if err != nil {
		return err
	}
	known := map[types.UID]bool{}
	for _, p := range pods {
		known[p.UID] = true
	}
	var errs []error
	for _, uid := range uids {
		if _, ok := a.workers[uid]; ok || known[uid] {
			continue
		}
		a.log.Debug("tearing down the volumes of a pod the API does not have", "uid", uid)
		errs = append(errs, a.cfg.Volumes.Teardown(ctx, uid))
	}
	return errors.Join(errs...)
}

// kick wakes the worker of a pod, starting it if needed.
func (a *Agent) kick(ctx context.Context, uid types.UID, namespace, name string) {
	if uid == "" || ctx.Err() != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	w, ok := a.workers[uid]
	if !ok {
		w = &worker{
			a: a, uid: uid, namespace: namespace, name: name,
			wake:    make(chan struct{}, 1),
			waiting: map[string]waiting{}, pullFailed: map[string]time.Time{}, probes: map[string]*probing{},
			log: a.log.With("pod", namespace+"/"+name, "uid", uid),
		}
		a.workers[uid] = w
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			w.run(ctx)
		}()
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// retire removes a worker that has finished with its pod.
func (a *Agent) retire(w *worker) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.workers[w.uid] == w {
		delete(a.workers, w.uid)
	}
}

// pod returns the pod from the cache, or nil when the API does not have
// it (by UID: a pod recreated under the same name is another pod).
func (a *Agent) pod(namespace, name string, uid types.UID) *corev1.Pod {
	a.mu.Lock()
	l := a.lister
	a.mu.Unlock()
	p, err := l.Pods(namespace).Get(name)
	if err != nil || p.UID != uid {
		return nil
	}
	return p
}

// logPath is the CRI log file of one attempt of a container, laid out as
// kubelet's /var/log/pods.
func (a *Agent) logPath(pod *corev1.Pod, container string, attempt int32) string {
	return logFile(a.podLogDir(pod.Namespace, pod.Name, pod.UID), container, attempt)
}

// logFile is the log of one attempt of a container in a pod's log
// directory. The attempts' logs stay until the pod goes, so that the one
// before the latest can be read (kubectl logs --previous).
func logFile(podLogDir, container string, attempt int32) string {
	return filepath.Join(podLogDir, container, fmt.Sprintf("%d.log", attempt))
}

// podLogDir holds the logs of a pod's containers; it goes with the pod.
func (a *Agent) podLogDir(namespace, name string, uid types.UID) string {
	return filepath.Join(a.cfg.DataDir, "pods", fmt.Sprintf("%s_%s_%s", namespace, name, uid))
}
