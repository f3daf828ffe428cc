// Package volumeprotection runs upstream's PVC and PV protection
// controllers (StorageObjectInUseProtection): every PersistentVolumeClaim
// carries the kubernetes.io/pvc-protection finalizer and every
// PersistentVolume kubernetes.io/pv-protection; once one is being deleted,
// the controller removes the finalizer when nothing uses it any more — no
// scheduled, unfinished pod names the claim (the cache's answer is checked
// against a live list before the claim goes), no claim is bound to the
// volume (it is not Bound).
//
// The controller owns those two finalizers.
package volumeprotection

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"berth.dev/berth/internal/controller/worker"
)

// The finalizers, as upstream names them.
const (
	ClaimFinalizer  = "kubernetes.io/pvc-protection"
	VolumeFinalizer = "kubernetes.io/pv-protection"
)

// Config configures a Controller.
type Config struct {
	// Client updates claims and volumes and lists pods.
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of concurrent syncs; 0 means 2.
	Workers int
}

// key names a claim (Claim true) or a volume.
type key struct {
	Claim           bool
	Namespace, Name string
}

// Controller adds and removes the protection finalizers.
type Controller struct {
	client  kubernetes.Interface
	log     *slog.Logger
	workers int

	claims  corelisters.PersistentVolumeClaimLister
	volumes corelisters.PersistentVolumeLister
	pods    corelisters.PodLister
	synced  []cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[key]
}

// New registers the controller's informers on cfg.Informers and returns it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("volumeprotection: Client and Informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	claims := cfg.Informers.Core().V1().PersistentVolumeClaims()
	volumes := cfg.Informers.Core().V1().PersistentVolumes()
	pods := cfg.Informers.Core().V1().Pods()
	c := &Controller{
		client:  cfg.Client,
		log:     cfg.Logger.With("component", "volume-protection-controller"),
		workers: cfg.Workers,
		claims:  claims.Lister(),
		volumes: volumes.Lister(),
		pods:    pods.Lister(),
		synced:  []cache.InformerSynced{claims.Informer().HasSynced, volumes.Informer().HasSynced, pods.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[key](),
			workqueue.TypedRateLimitingQueueConfig[key]{Name: "volumeprotection"}),
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandlerFuncs
	}{
		{claims.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.onClaim,
			UpdateFunc: func(_, cur any) { c.onClaim(cur) },
		}},
		{volumes.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.onVolume,
			UpdateFunc: func(_, cur any) { c.onVolume(cur) },
		}},
		// A pod that ends or goes may release the claims it names.
		{pods.Informer(), cache.ResourceEventHandlerFuncs{
			UpdateFunc: func(_, cur any) { c.onPod(cur) },
			DeleteFunc: c.onPod,
		}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("volumeprotection: adding handler: %w", err)
		}
	}
	return c, nil
}

func (c *Controller) onClaim(obj any) {
	if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok {
		c.queue.Add(key{Claim: true, Namespace: pvc.Namespace, Name: pvc.Name})
	}
}

func (c *Controller) onVolume(obj any) {
	if pv, ok := obj.(*corev1.PersistentVolume); ok {
		c.queue.Add(key{Name: pv.Name})
	}
}

func (c *Controller) onPod(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	for _, name := range claimNames(pod) {
		c.queue.Add(key{Claim: true, Namespace: pod.Namespace, Name: name})
	}
}

// claimNames are the claims pod's volumes name, its generic ephemeral
// volumes' ("<pod>-<volume>") included.
func claimNames(pod *corev1.Pod) []string {
	var out []string
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			out = append(out, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			out = append(out, pod.Name+"-"+v.Name)
		}
	}
	return out
}

// uses reports whether pod holds claim: scheduled, not finished, naming it.
func uses(pod *corev1.Pod, claim string) bool {
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	return slices.Contains(claimNames(pod), claim)
}

// Run waits for the caches and works until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	if err := worker.Run(ctx, c.queue, c.workers, c.synced, c.sync, func(k key, err error) {
		c.log.Log(ctx, worker.Level(err), "sync failed", "claim", k.Claim, "namespace", k.Namespace, "name", k.Name, "err", err)
	}); err != nil {
		return fmt.Errorf("volumeprotection: waiting for caches: %w", err)
	}
	return nil
}

func (c *Controller) sync(ctx context.Context, k key) error {
	if k.Claim {
		pvc, err := c.claims.PersistentVolumeClaims(k.Namespace).Get(k.Name)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return c.syncClaim(ctx, pvc)
	}
	pv, err := c.volumes.Get(k.Name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.syncVolume(ctx, pv)
}

func (c *Controller) syncClaim(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	has := slices.Contains(pvc.Finalizers, ClaimFinalizer)
	if pvc.DeletionTimestamp == nil {
		if has {
			return nil
		}
		upd := pvc.DeepCopy()
		upd.Finalizers = append(upd.Finalizers, ClaimFinalizer)
		_, err := c.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Update(ctx, upd, metav1.UpdateOptions{})
		return ignoreNotFound(err, "adding the claim finalizer")
	}
	if !has {
		return nil
	}
	inUse, err := c.claimInUse(ctx, pvc)
	if err != nil || inUse {
		return err
	}
	upd := pvc.DeepCopy()
	upd.Finalizers = slices.DeleteFunc(upd.Finalizers, func(f string) bool { return f == ClaimFinalizer })
	_, err = c.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Update(ctx, upd, metav1.UpdateOptions{})
	return ignoreNotFound(err, "removing the claim finalizer")
}

// claimInUse asks the cache, and when it says no, the server, whether a
// pod holds the claim.
func (c *Controller) claimInUse(ctx context.Context, pvc *corev1.PersistentVolumeClaim) (bool, error) {
	pods, err := c.pods.Pods(pvc.Namespace).List(labels.Everything())
	if err != nil {
		return false, err
	}
	for _, p := range pods {
		if uses(p, pvc.Name) {
			return true, nil
		}
	}
	live, err := c.client.CoreV1().Pods(pvc.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, fmt.Errorf("listing pods: %w", err)
	}
	for i := range live.Items {
		if uses(&live.Items[i], pvc.Name) {
			return true, nil
		}
	}
	return false, nil
}

func (c *Controller) syncVolume(ctx context.Context, pv *corev1.PersistentVolume) error {
	has := slices.Contains(pv.Finalizers, VolumeFinalizer)
	if pv.DeletionTimestamp == nil {
		if has {
			return nil
		}
		upd := pv.DeepCopy()
		upd.Finalizers = append(upd.Finalizers, VolumeFinalizer)
		_, err := c.client.CoreV1().PersistentVolumes().Update(ctx, upd, metav1.UpdateOptions{})
		return ignoreNotFound(err, "adding the volume finalizer")
	}
	if !has || pv.Status.Phase == corev1.VolumeBound {
		return nil
	}
	upd := pv.DeepCopy()
	upd.Finalizers = slices.DeleteFunc(upd.Finalizers, func(f string) bool { return f == VolumeFinalizer })
	_, err := c.client.CoreV1().PersistentVolumes().Update(ctx, upd, metav1.UpdateOptions{})
	return ignoreNotFound(err, "removing the volume finalizer")
}

func ignoreNotFound(err error, doing string) error {
	if err == nil || apierrors.IsNotFound(err) {
		return nil
	}
	return fmt.Errorf("%s: %w", doing, err)
}
