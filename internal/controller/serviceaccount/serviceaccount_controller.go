package serviceaccount

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

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

// DefaultName is the name of the ServiceAccount every active namespace has.
const DefaultName = "default"

// Config configures a Controller.
type Config struct {
	// Client writes ServiceAccounts. Required.
	Client kubernetes.Interface
	// Informers is the shared factory New registers its Namespace and
	// ServiceAccount informers on; the caller starts it after New. Required.
	Informers informers.SharedInformerFactory
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of namespaces synced at once; 0 means 2.
	Workers int
}

// Controller keeps a "default" ServiceAccount in every active namespace.
type Controller struct {
	client   kubernetes.Interface
	nsLister corelisters.NamespaceLister
	saLister corelisters.ServiceAccountLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	log      *slog.Logger
	workers  int
}

// New validates cfg and registers the controller's informers on
// cfg.Informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("serviceaccount: Client is required")
	}
	if cfg.Informers == nil {
		return nil, errors.New("serviceaccount: Informers is required")
	}
	if cfg.Workers < 0 {
		return nil, fmt.Errorf("serviceaccount: Workers is %d, must not be negative", cfg.Workers)
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	nsInformer := cfg.Informers.Core().V1().Namespaces()
	saInformer := cfg.Informers.Core().V1().ServiceAccounts()
	c := &Controller{
		client:   cfg.Client,
		nsLister: nsInformer.Lister(),
		saLister: saInformer.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "serviceaccount"}),
		log:     cfg.Logger.With("component", "serviceaccount-controller"),
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
		return nil, fmt.Errorf("serviceaccount: adding Namespace handler: %w", err)
	}
	saReg, err := saInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if sa, ok := obj.(*corev1.ServiceAccount); ok && sa.Name == DefaultName {
				c.queue.Add(sa.Namespace)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("serviceaccount: adding ServiceAccount handler: %w", err)
	}
	c.synced = []cache.InformerSynced{nsReg.HasSynced, saReg.HasSynced}
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

// sync creates the default ServiceAccount in namespace if the namespace is
// active and the cache has no such account.
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
	_, err = c.saLister.ServiceAccounts(namespace).Get(DefaultName)
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("getting ServiceAccount %s/%s from cache: %w", namespace, DefaultName, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: DefaultName}}
	_, err = c.client.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
	// A namespace that is gone or terminating wants no account; a later
	// namespace event brings it back to the queue if that changes.
	if err == nil || apierrors.IsAlreadyExists(err) || apierrors.IsNotFound(err) ||
		apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return nil
	}
	return fmt.Errorf("creating ServiceAccount %s/%s: %w", namespace, DefaultName, err)
}
