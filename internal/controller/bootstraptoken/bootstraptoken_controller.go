package bootstraptoken

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"berth.dev/berth/internal/auth/bootstrap"
	"berth.dev/berth/internal/controller/worker"
)

// Config configures a Controller.
type Config struct {
	// Client deletes Secrets. Required.
	Client kubernetes.Interface
	// Informers is the shared factory New registers its Secret informer
	// on; the caller starts it after New. Required.
	Informers informers.SharedInformerFactory
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of Secrets handled at once; 0 means 1.
	Workers int
}

// Controller deletes expired bootstrap tokens.
type Controller struct {
	client  kubernetes.Interface
	secrets corelisters.SecretLister
	now     func() time.Time
	synced  []cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string]
	log     *slog.Logger
	workers int
}

// New validates cfg and registers the controller's informer.
func New(cfg Config) (*Controller, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("bootstraptoken: Client is required")
	case cfg.Informers == nil:
		return nil, errors.New("bootstraptoken: Informers is required")
	case cfg.Workers < 0:
		return nil, fmt.Errorf("bootstraptoken: Workers is %d, must not be negative", cfg.Workers)
	}
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	inf := cfg.Informers.Core().V1().Secrets()
	c := &Controller{
		client:  cfg.Client,
		secrets: inf.Lister(),
		now:     cfg.Now,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "bootstraptoken"}),
		log:     cfg.Logger.With("component", "bootstraptoken-controller"),
		workers: cfg.Workers,
	}
	enqueue := func(obj any) {
		if s, ok := obj.(*corev1.Secret); ok {
			c.queue.Add(s.Name)
		}
	}
	reg, err := inf.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool {
			s, ok := obj.(*corev1.Secret)
			return ok && s.Namespace == bootstrap.Namespace && s.Type == bootstrap.SecretType
		},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    enqueue,
			UpdateFunc: func(_, obj any) { enqueue(obj) },
		},
	})
	if err != nil {
		return nil, fmt.Errorf("bootstraptoken: adding Secret handler: %w", err)
	}
	c.synced = []cache.InformerSynced{reg.HasSynced}
	return c, nil
}

// Run waits for the cache to fill and cleans tokens until ctx ends. It
// returns nil once ctx has ended and every worker has stopped. A
// Controller runs once.
func (c *Controller) Run(ctx context.Context) error {
	worker.Run(ctx, c.queue, c.workers, c.synced, c.sync, func(name string, err error) {
		c.log.Log(ctx, worker.Level(err), "sync failed", "secret", name, "err", err)
	})
	return nil
}

// sync deletes the bootstrap token Secret name in kube-system if it has
// expired, or looks at it again when it will have.
func (c *Controller) sync(ctx context.Context, name string) error {
	s, err := c.secrets.Secrets(bootstrap.Namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting Secret %s from cache: %w", name, err)
	}
	if s.Type != bootstrap.SecretType || s.DeletionTimestamp != nil {
		return nil
	}
	exp, ok := bootstrap.Expiration(s)
	if !ok {
		return nil
	}
	if left := exp.Sub(c.now()); left > 0 {
		c.queue.AddAfter(name, left)
		return nil
	}
	err = c.client.CoreV1().Secrets(bootstrap.Namespace).Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting expired bootstrap token %s: %w", name, err)
	}
	c.log.Info("deleted expired bootstrap token", "secret", name)
	return nil
}
