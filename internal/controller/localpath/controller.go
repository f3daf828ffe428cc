// Package localpath is berth's built-in local-path provisioner: for each
// claim of a StorageClass whose provisioner is berth.dev/local-path, once
// the scheduler has named the node of its first pod (the
// volume.kubernetes.io/selected-node annotation of a WaitForFirstConsumer
// claim), it creates a PersistentVolume "pvc-<claim uid>" pre-bound to the
// claim: a `local` volume at <data dir>/storage/<volume name> on that node,
// with node affinity to it, the claim's size and access modes and the
// class's reclaim policy and mount options — unless an Available volume
// on that node already fits the claim. The volume binder then binds the
// claim. The node agent creates and removes the directory; this
// controller only records its path.
//
// It also ensures, when it starts, that the default StorageClass
// "local-path" exists (WaitForFirstConsumer, reclaim policy Delete,
// marked default); one a user changed or deleted later is left alone
// until the next start.
//
// The controller owns the volumes it provisions (their creation) and the
// creation of the default class.
package localpath

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

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

	"berth.dev/berth/internal/controller/volumebinding"
	"berth.dev/berth/internal/controller/worker"
)

const (
	// Provisioner is the provisioner name of the classes served here.
	Provisioner = "berth.dev/local-path"
	// DefaultClass is the name of the StorageClass ensured at start.
	DefaultClass = "local-path"
	// AnnDefaultClass marks the default StorageClass.
	AnnDefaultClass = "storageclass.kubernetes.io/is-default-class"
)

// Config configures a Controller.
type Config struct {
	// Client creates volumes and the default class.
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// DataDir is berth's data directory on the nodes; volumes live under
	// DataDir/storage. Required.
	DataDir string
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of concurrent syncs; 0 means 2.
	Workers int
}

// Controller provisions local-path volumes.
type Controller struct {
	client  kubernetes.Interface
	dataDir string
	log     *slog.Logger
	workers int

	claims  corelisters.PersistentVolumeClaimLister
	volumes corelisters.PersistentVolumeLister
	classes storagelisters.StorageClassLister
	nodes   corelisters.NodeLister
	synced  []cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[cache.ObjectName]

	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
}

// New registers the controller's informers on cfg.Informers and returns it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil || cfg.DataDir == "" {
		return nil, errors.New("localpath: Client, Informers and DataDir are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	claims := cfg.Informers.Core().V1().PersistentVolumeClaims()
	volumes := cfg.Informers.Core().V1().PersistentVolumes()
	classes := cfg.Informers.Storage().V1().StorageClasses()
	nodes := cfg.Informers.Core().V1().Nodes()
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		broadcaster: broadcaster,
		recorder:    broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Provisioner}),
		client:      cfg.Client,
		dataDir:     cfg.DataDir,
		log:         cfg.Logger.With("component", "local-path-provisioner"),
		workers:     cfg.Workers,
		claims:      claims.Lister(),
		volumes:     volumes.Lister(),
		classes:     classes.Lister(),
		nodes:       nodes.Lister(),
		synced:      []cache.InformerSynced{claims.Informer().HasSynced, volumes.Informer().HasSynced, classes.Informer().HasSynced, nodes.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[cache.ObjectName](),
			workqueue.TypedRateLimitingQueueConfig[cache.ObjectName]{Name: "localpath"}),
	}
	if _, err := claims.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
	}); err != nil {
		return nil, fmt.Errorf("localpath: adding claim handler: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok && pvc.Spec.VolumeName == "" {
		c.queue.Add(cache.ObjectName{Namespace: pvc.Namespace, Name: pvc.Name})
	}
}

// Run ensures the default class, waits for the caches and provisions
// until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()
	if err := c.ensureDefaultClass(ctx); err != nil && ctx.Err() == nil {
		// Not fatal: provisioning for other classes of ours still works.
		c.log.Error("ensuring the default StorageClass failed", "err", err)
	}
	if err := worker.Run(ctx, c.queue, c.workers, c.synced, c.sync, func(k cache.ObjectName, err error) {
		c.log.Log(ctx, worker.Level(err), "sync failed", "namespace", k.Namespace, "name", k.Name, "err", err)
	}); err != nil {
		return fmt.Errorf("localpath: waiting for caches: %w", err)
	}
	return nil
}

// DefaultStorageClass is the class ensured at start.
func DefaultStorageClass() *storagev1.StorageClass {
	mode := storagev1.VolumeBindingWaitForFirstConsumer
	reclaim := corev1.PersistentVolumeReclaimDelete
	return &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: DefaultClass, Annotations: map[string]string{AnnDefaultClass: "true"}},
		Provisioner:       Provisioner,
		ReclaimPolicy:     &reclaim,
		VolumeBindingMode: &mode,
	}
}

func (c *Controller) ensureDefaultClass(ctx context.Context) error {
	_, err := c.client.StorageV1().StorageClasses().Create(ctx, DefaultStorageClass(), metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating StorageClass %s: %w", DefaultClass, err)
	}
	return nil
}

// VolumeName is the name of the volume provisioned for a claim.
func VolumeName(pvc *corev1.PersistentVolumeClaim) string { return "pvc-" + string(pvc.UID) }

func (c *Controller) sync(ctx context.Context, k cache.ObjectName) error {
	pvc, err := c.claims.PersistentVolumeClaims(k.Namespace).Get(k.Name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pvc.Spec.VolumeName != "" || pvc.DeletionTimestamp != nil {
		return nil
	}
	class, err := c.classes.Get(volumebinding.ClaimClass(pvc))
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	nodeName := pvc.Annotations[volumebinding.AnnSelectedNode]
	if class.Provisioner != Provisioner || nodeName == "" {
		// Not ours, or no node chosen yet: a local volume needs one, so
		// Immediate classes are not served.
		return nil
	}
	if _, err := c.volumes.Get(VolumeName(pvc)); err == nil {
		return nil
	}
	node, err := c.nodes.Get(nodeName)
	if err != nil {
		return fmt.Errorf("getting selected node %s: %w", nodeName, err)
	}
	pvs, err := c.volumes.List(labels.Everything())
	if err != nil {
		return err
	}
	if volumebinding.FindMatch(pvc, pvs, true, node) != nil {
		return nil // an existing volume on the node fits: the binder binds it
	}
	pv := c.volumeFor(pvc, class, node)
	c.recorder.Eventf(pvc, corev1.EventTypeNormal, "Provisioning", "External provisioner is provisioning volume for claim %q", k.String())
	if _, err := c.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		c.recorder.Eventf(pvc, corev1.EventTypeWarning, "ProvisioningFailed", "failed to provision volume with StorageClass %q: %v", class.Name, err)
		return fmt.Errorf("creating volume %s: %w", pv.Name, err)
	}
	c.recorder.Eventf(pvc, corev1.EventTypeNormal, "ProvisioningSucceeded", "Successfully provisioned volume %s", pv.Name)
	c.log.Info("provisioned volume", "volume", pv.Name, "claim", k.String(), "node", nodeName)
	return nil
}

// volumeFor is the volume provisioned for pvc of class on node.
func (c *Controller) volumeFor(pvc *corev1.PersistentVolumeClaim, class *storagev1.StorageClass, node *corev1.Node) *corev1.PersistentVolume {
	name := VolumeName(pvc)
	reclaim := corev1.PersistentVolumeReclaimDelete
	if class.ReclaimPolicy != nil {
		reclaim = *class.ReclaimPolicy
	}
	// Nodes carry their kubernetes.io/hostname label; the name stands in
	// for a node without one.
	host, ok := node.Labels[corev1.LabelHostname]
	key := corev1.LabelHostname
	if !ok {
		host, key = node.Name, ""
	}
	term := corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{host}}}}
	if key == "" {
		term = corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{host}}}}
	}
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{volumebinding.AnnProvisionedBy: Provisioner}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   pvc.Spec.AccessModes,
			VolumeMode:                    pvc.Spec.VolumeMode,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              class.Name,
			MountOptions:                  class.MountOptions,
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID, ResourceVersion: pvc.ResourceVersion},
			PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: filepath.Join(c.dataDir, "storage", name)}},
			NodeAffinity:           &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{term}}},
		},
	}
}
