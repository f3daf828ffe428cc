package volumebinding

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"berth.dev/berth/internal/controller/worker"
)

// Config configures a Controller.
type Config struct {
	// Client writes claims and volumes.
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of concurrent syncs; 0 means 5.
	Workers int
}

// key names a claim (Claim true) or a volume.
type key struct {
	Claim           bool
	Namespace, Name string
}

// Controller binds PersistentVolumeClaims and PersistentVolumes.
type Controller struct {
	client  kubernetes.Interface
	log     *slog.Logger
	workers int

	claims  corelisters.PersistentVolumeClaimLister
	volumes corelisters.PersistentVolumeLister
	classes storagelisters.StorageClassLister
	nodes   corelisters.NodeLister
	synced  []cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[key]

	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
}

// New registers the controller's informers on cfg.Informers and returns it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("volumebinding: Client and Informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	claims := cfg.Informers.Core().V1().PersistentVolumeClaims()
	volumes := cfg.Informers.Core().V1().PersistentVolumes()
	classes := cfg.Informers.Storage().V1().StorageClasses()
	nodes := cfg.Informers.Core().V1().Nodes()
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		broadcaster: broadcaster,
		recorder:    broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "persistentvolume-controller"}),
		client:      cfg.Client,
		log:         cfg.Logger.With("component", "volumebinding-controller"),
		workers:     cfg.Workers,
		claims:      claims.Lister(),
		volumes:     volumes.Lister(),
		classes:     classes.Lister(),
		nodes:       nodes.Lister(),
		synced:      []cache.InformerSynced{claims.Informer().HasSynced, volumes.Informer().HasSynced, classes.Informer().HasSynced, nodes.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[key](),
			workqueue.TypedRateLimitingQueueConfig[key]{Name: "volumebinding"}),
	}
	if _, err := claims.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.onClaim,
		UpdateFunc: func(_, cur any) { c.onClaim(cur) },
		DeleteFunc: c.onClaim,
	}); err != nil {
		return nil, fmt.Errorf("volumebinding: adding claim handler: %w", err)
	}
	if _, err := volumes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.onVolume,
		UpdateFunc: func(_, cur any) { c.onVolume(cur) },
		DeleteFunc: c.onVolume,
	}); err != nil {
		return nil, fmt.Errorf("volumebinding: adding volume handler: %w", err)
	}
	return c, nil
}

func (c *Controller) onClaim(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return
	}
	c.queue.Add(key{Claim: true, Namespace: pvc.Namespace, Name: pvc.Name})
	if pvc.Spec.VolumeName != "" {
		c.queue.Add(key{Name: pvc.Spec.VolumeName})
	}
	// A volume that names the claim (provisioned or pre-bound for it)
	// may now bind, or be released.
	if pvs, err := c.volumes.List(labels.Everything()); err == nil {
		for _, pv := range pvs {
			if ref := pv.Spec.ClaimRef; ref != nil && ref.Namespace == pvc.Namespace && ref.Name == pvc.Name {
				c.queue.Add(key{Name: pv.Name})
			}
		}
	}
}

func (c *Controller) onVolume(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pv, ok := obj.(*corev1.PersistentVolume)
	if !ok {
		return
	}
	c.queue.Add(key{Name: pv.Name})
	if ref := pv.Spec.ClaimRef; ref != nil {
		c.queue.Add(key{Claim: true, Namespace: ref.Namespace, Name: ref.Name})
		return
	}
	// A new Available volume may suit a pending claim.
	if pvcs, err := c.claims.List(labels.Everything()); err == nil {
		for _, pvc := range pvcs {
			if pvc.Spec.VolumeName == "" {
				c.queue.Add(key{Claim: true, Namespace: pvc.Namespace, Name: pvc.Name})
			}
		}
	}
}

// Run records Events, waits for the caches and binds until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()
	if err := worker.Run(ctx, c.queue, c.workers, c.synced, c.sync, func(k key, err error) {
		c.log.Log(ctx, worker.Level(err), "sync failed", "claim", k.Claim, "namespace", k.Namespace, "name", k.Name, "err", err)
	}); err != nil {
		return fmt.Errorf("volumebinding: waiting for caches: %w", err)
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

// syncClaim binds an unbound claim to a matching or named volume, and
// keeps a bound one Bound (or Lost when its volume is gone).
func (c *Controller) syncClaim(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	if _, done := pvc.Annotations[AnnBindCompleted]; done {
		if pvc.Spec.VolumeName == "" {
			return c.claimPhase(ctx, pvc, corev1.ClaimLost)
		}
		pv, err := c.volumes.Get(pvc.Spec.VolumeName)
		if apierrors.IsNotFound(err) {
			return c.claimPhase(ctx, pvc, corev1.ClaimLost)
		}
		if err != nil {
			return err
		}
		if pv.Spec.ClaimRef == nil || (boundTo(pv, pvc) && pv.Spec.ClaimRef.UID == pvc.UID) {
			return c.bind(ctx, pv, pvc)
		}
		return c.claimPhase(ctx, pvc, corev1.ClaimLost)
	}
	if pvc.Spec.VolumeName != "" {
		pv, err := c.volumes.Get(pvc.Spec.VolumeName)
		if apierrors.IsNotFound(err) {
			return c.claimPhase(ctx, pvc, corev1.ClaimPending)
		}
		if err != nil {
			return err
		}
		if pv.Spec.ClaimRef == nil || boundTo(pv, pvc) {
			return c.bind(ctx, pv, pvc)
		}
		return c.claimPhase(ctx, pvc, corev1.ClaimPending) // the volume is someone else's
	}
	className := ClaimClass(pvc)
	class, err := c.classes.Get(className)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		class = nil
	}
	delayed := class != nil && class.VolumeBindingMode != nil && *class.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer
	var node *corev1.Node
	if name := pvc.Annotations[AnnSelectedNode]; delayed && name != "" {
		node, _ = c.nodes.Get(name)
	}
	pvs, err := c.volumes.List(labels.Everything())
	if err != nil {
		return err
	}
	if pv := FindMatch(pvc, pvs, delayed, node); pv != nil {
		return c.bind(ctx, pv, pvc)
	}
	// Nothing fits yet: say why, and hand the claim to its provisioner.
	switch {
	case delayed && pvc.Annotations[AnnSelectedNode] == "":
		c.recorder.Event(pvc, corev1.EventTypeNormal, "WaitForFirstConsumer", "waiting for first consumer to be created before binding")
	case className == "":
		c.recorder.Event(pvc, corev1.EventTypeNormal, "FailedBinding", "no persistent volumes available for this claim and no storage class is set")
	case class == nil:
		c.recorder.Eventf(pvc, corev1.EventTypeWarning, "ProvisioningFailed", "storageclass.storage.k8s.io %q not found", className)
	case class.Provisioner != noProvisioner:
		if pvc.Annotations[AnnStorageProvisioner] != class.Provisioner || pvc.Annotations[annBetaStorageProvisioner] != class.Provisioner {
			upd := pvc.DeepCopy()
			metav1.SetMetaDataAnnotation(&upd.ObjectMeta, AnnStorageProvisioner, class.Provisioner)
			metav1.SetMetaDataAnnotation(&upd.ObjectMeta, annBetaStorageProvisioner, class.Provisioner)
			if pvc, err = c.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("handing claim %s/%s to its provisioner: %w", upd.Namespace, upd.Name, err)
			}
		}
		c.recorder.Eventf(pvc, corev1.EventTypeNormal, "ExternalProvisioning",
			"Waiting for a volume to be created either by the external provisioner '%s' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.", class.Provisioner)
	}
	return c.claimPhase(ctx, pvc, corev1.ClaimPending)
}

// bind points pv and pvc at each other, marks pv Bound, and then pvc
// Bound with the volume's access modes and capacity, as upstream, in
// that order, so a crash half way is finished by the next sync.
func (c *Controller) bind(ctx context.Context, pv *corev1.PersistentVolume, pvc *corev1.PersistentVolumeClaim) error {
	if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != pvc.UID || pv.Spec.ClaimRef.Name != pvc.Name || pv.Spec.ClaimRef.Namespace != pvc.Namespace {
		upd := pv.DeepCopy()
		if pv.Spec.ClaimRef == nil {
			metav1.SetMetaDataAnnotation(&upd.ObjectMeta, AnnBoundByController, "yes")
		}
		upd.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
			Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID, ResourceVersion: pvc.ResourceVersion}
		var err error
		if pv, err = c.client.CoreV1().PersistentVolumes().Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("binding volume %s: %w", upd.Name, err)
		}
	}
	if pv.Status.Phase != corev1.VolumeBound {
		upd := pv.DeepCopy()
		upd.Status.Phase = corev1.VolumeBound
		upd.Status.Message, upd.Status.Reason = "", ""
		var err error
		if pv, err = c.client.CoreV1().PersistentVolumes().UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("marking volume %s bound: %w", upd.Name, err)
		}
	}
	if _, done := pvc.Annotations[AnnBindCompleted]; !done || pvc.Spec.VolumeName != pv.Name {
		upd := pvc.DeepCopy()
		if upd.Spec.VolumeName != pv.Name {
			upd.Spec.VolumeName = pv.Name
			metav1.SetMetaDataAnnotation(&upd.ObjectMeta, AnnBoundByController, "yes")
		}
		metav1.SetMetaDataAnnotation(&upd.ObjectMeta, AnnBindCompleted, "yes")
		var err error
		if pvc, err = c.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("binding claim %s/%s: %w", upd.Namespace, upd.Name, err)
		}
	}
	capacity := pv.Spec.Capacity[corev1.ResourceStorage]
	have := pvc.Status.Capacity[corev1.ResourceStorage]
	if pvc.Status.Phase != corev1.ClaimBound || have.Cmp(capacity) != 0 || !sameModes(pvc.Status.AccessModes, pv.Spec.AccessModes) {
		upd := pvc.DeepCopy()
		upd.Status.Phase = corev1.ClaimBound
		upd.Status.AccessModes = pv.Spec.AccessModes
		upd.Status.Capacity = pv.Spec.Capacity.DeepCopy()
		if _, err := c.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("marking claim %s/%s bound: %w", upd.Namespace, upd.Name, err)
		}
	}
	return nil
}

func sameModes(a, b []corev1.PersistentVolumeAccessMode) bool {
	return accessModesCover(a, b) && accessModesCover(b, a)
}

func (c *Controller) claimPhase(ctx context.Context, pvc *corev1.PersistentVolumeClaim, phase corev1.PersistentVolumeClaimPhase) error {
	if pvc.Status.Phase == phase {
		return nil
	}
	upd := pvc.DeepCopy()
	upd.Status.Phase = phase
	if _, err := c.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("setting claim %s/%s %s: %w", pvc.Namespace, pvc.Name, phase, err)
	}
	return nil
}

func (c *Controller) volumePhase(ctx context.Context, pv *corev1.PersistentVolume, phase corev1.PersistentVolumePhase) (*corev1.PersistentVolume, error) {
	if pv.Status.Phase == phase {
		return pv, nil
	}
	upd := pv.DeepCopy()
	upd.Status.Phase = phase
	out, err := c.client.CoreV1().PersistentVolumes().UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("setting volume %s %s: %w", pv.Name, phase, err)
	}
	return out, nil
}

// syncVolume makes a volume Available without a claim, Bound with its
// claim, and Released once its claim is gone — then reclaims it: Delete
// deletes it, Retain keeps it Released.
func (c *Controller) syncVolume(ctx context.Context, pv *corev1.PersistentVolume) error {
	ref := pv.Spec.ClaimRef
	if ref == nil {
		_, err := c.volumePhase(ctx, pv, corev1.VolumeAvailable)
		return err
	}
	pvc, err := c.claims.PersistentVolumeClaims(ref.Namespace).Get(ref.Name)
	if apierrors.IsNotFound(err) {
		// The cache may lag behind a claim just created: ask the server.
		pvc, err = c.client.CoreV1().PersistentVolumeClaims(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if ref.UID == "" {
		// Pre-bound by name: the claim's sync binds it; without the claim
		// the volume waits Available.
		if pvc == nil || apierrors.IsNotFound(err) {
			_, err := c.volumePhase(ctx, pv, corev1.VolumeAvailable)
			return err
		}
		return nil
	}
	if apierrors.IsNotFound(err) || pvc.UID != ref.UID {
		return c.release(ctx, pv)
	}
	switch pvc.Spec.VolumeName {
	case "":
		return nil // the claim's sync binds it
	case pv.Name:
		_, err := c.volumePhase(ctx, pv, corev1.VolumeBound)
		return err
	}
	// The claim is bound to another volume: one provisioned for it with
	// reclaim policy Delete is released (and deleted), one the controller
	// bound goes back to the pool, one a user pre-bound is left alone.
	if _, ok := pv.Annotations[AnnProvisionedBy]; ok && pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete {
		return c.release(ctx, pv)
	}
	if _, ok := pv.Annotations[AnnBoundByController]; !ok {
		return nil
	}
	upd := pv.DeepCopy()
	upd.Spec.ClaimRef = nil
	delete(upd.Annotations, AnnBoundByController)
	out, err := c.client.CoreV1().PersistentVolumes().Update(ctx, upd, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("unbinding volume %s: %w", pv.Name, err)
	}
	_, err = c.volumePhase(ctx, out, corev1.VolumeAvailable)
	return err
}

// release marks pv Released and applies its reclaim policy.
func (c *Controller) release(ctx context.Context, pv *corev1.PersistentVolume) error {
	if pv.Status.Phase != corev1.VolumeFailed {
		var err error
		if pv, err = c.volumePhase(ctx, pv, corev1.VolumeReleased); err != nil {
			return err
		}
	}
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete || pv.DeletionTimestamp != nil {
		return nil
	}
	err := c.client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pv.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting released volume %s: %w", pv.Name, err)
	}
	c.log.Debug("deleted released volume", "volume", pv.Name)
	return nil
}
