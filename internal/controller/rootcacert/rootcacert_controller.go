package rootcacert

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"berth.dev/berth/internal/controller/worker"
)

const (
	// ConfigMapName is the name of the ConfigMap published in every active
	// namespace.
	ConfigMapName = "kube-root-ca.crt"
	// DataKey is the key of the CA bundle in the ConfigMap's data.
	DataKey = "ca.crt"
	// DescriptionAnnotation is the annotation that says what the ConfigMap
	// is for.
	DescriptionAnnotation = "kubernetes.io/description"
	// Description is the value the publisher gives DescriptionAnnotation.
	Description = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. " +
		"No other usage is guaranteed across distributions of Kubernetes clusters."
)

// Config configures a Controller.
type Config struct {
	// Client writes ConfigMaps. Required.
	Client kubernetes.Interface
	// Informers is the shared factory New registers its Namespace and
	// ConfigMap informers on; the caller starts it after New. Required.
	Informers informers.SharedInformerFactory
	// RootCA is the cluster CA bundle in PEM, published as is. Required.
	RootCA []byte
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of namespaces synced at once; 0 means 2.
	Workers int
}

// Controller publishes the cluster CA bundle in every active namespace.
type Controller struct {
	client   kubernetes.Interface
	nsLister corelisters.NamespaceLister
	cmLister corelisters.ConfigMapLister
	data     map[string]string
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	log      *slog.Logger
	workers  int
}

// New validates cfg and registers the controller's informers on
// cfg.Informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("rootcacert: Client is required")
	}
	if cfg.Informers == nil {
		return nil, errors.New("rootcacert: Informers is required")
	}
	if block, _ := pem.Decode(cfg.RootCA); block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("rootcacert: RootCA must be a PEM certificate bundle")
	}
	if cfg.Workers < 0 {
		return nil, fmt.Errorf("rootcacert: Workers is %d, must not be negative", cfg.Workers)
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	nsInformer := cfg.Informers.Core().V1().Namespaces()
	cmInformer := cfg.Informers.Core().V1().ConfigMaps()
	c := &Controller{
		client:   cfg.Client,
		nsLister: nsInformer.Lister(),
		cmLister: cmInformer.Lister(),
		data:     map[string]string{DataKey: string(cfg.RootCA)},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "rootcacert"}),
		log:     cfg.Logger.With("component", "rootcacert-controller"),
		workers: cfg.Workers,
	}
	nsReg, err := nsInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if ns, ok := obj.(*corev1.Namespace); ok {
				c.queue.Add(ns.Name)
			}
		},
		UpdateFunc: func(_, obj any) {
			if ns, ok := obj.(*corev1.Namespace); ok && ns.Status.Phase == corev1.NamespaceActive {
				c.queue.Add(ns.Name)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("rootcacert: adding Namespace handler: %w", err)
	}
	enqueueConfigMap := func(obj any) {
		if cm, ok := obj.(*corev1.ConfigMap); ok {
			c.queue.Add(cm.Namespace)
		}
	}
	cmReg, err := cmInformer.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			cm, ok := obj.(*corev1.ConfigMap)
			return ok && cm.Name == ConfigMapName
		},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    enqueueConfigMap,
			UpdateFunc: func(_, obj any) { enqueueConfigMap(obj) },
			DeleteFunc: func(obj any) {
				if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = d.Obj
				}
				enqueueConfigMap(obj)
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("rootcacert: adding ConfigMap handler: %w", err)
	}
	c.synced = []cache.InformerSynced{nsReg.HasSynced, cmReg.HasSynced}
	return c, nil
}

// Run waits for the caches to fill and syncs namespaces until ctx ends. It
// returns nil once ctx has ended and every worker has stopped. A Controller
// runs once.
func (c *Controller) Run(ctx context.Context) error {
	worker.Run(ctx, c.queue, c.workers, c.synced, c.sync, func(ns string, err error) {
		c.log.Error("sync failed", "namespace", ns, "err", err)
	})
	return nil
}

// sync makes the ConfigMap in namespace carry exactly the CA bundle as data
// and the description annotation, if the namespace is active. Other
// annotations, labels and binaryData are left as they are; as upstream, a
// changed but non-empty description is rewritten only with drifted data.
func (c *Controller) sync(ctx context.Context, namespace string) error {
	ns, err := c.nsLister.Get(namespace)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting namespace %q from cache: %w", namespace, err)
	}
	if ns.Status.Phase != corev1.NamespaceActive || ns.DeletionTimestamp != nil {
		return nil
	}
	cm, err := c.cmLister.ConfigMaps(namespace).Get(ConfigMapName)
	if apierrors.IsNotFound(err) {
		cm = &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{
				Namespace:   namespace,
				Name:        ConfigMapName,
				Annotations: map[string]string{DescriptionAnnotation: Description},
			},
			Data: maps.Clone(c.data),
		}
		_, err = c.client.CoreV1().ConfigMaps(namespace).Create(ctx, cm, metav1.CreateOptions{})
		// A namespace that is gone or terminating wants no ConfigMap; a later
		// namespace event brings it back to the queue if that changes.
		if err == nil || apierrors.IsNotFound(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		return fmt.Errorf("creating ConfigMap %s/%s: %w", namespace, ConfigMapName, err)
	}
	if err != nil {
		return fmt.Errorf("getting ConfigMap %s/%s from cache: %w", namespace, ConfigMapName, err)
	}
	if maps.Equal(cm.Data, c.data) && cm.Annotations[DescriptionAnnotation] != "" {
		return nil
	}
	cm = cm.DeepCopy()
	cm.Data = maps.Clone(c.data)
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[DescriptionAnnotation] = Description
	if _, err := c.client.CoreV1().ConfigMaps(namespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating ConfigMap %s/%s: %w", namespace, ConfigMapName, err)
	}
	return nil
}
