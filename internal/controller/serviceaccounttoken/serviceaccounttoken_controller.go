package serviceaccounttoken

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"

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

// Issuer signs legacy tokens; *serviceaccount.Issuer is one.
type Issuer interface {
	IssueLegacy(sa *corev1.ServiceAccount, secret *corev1.Secret) (string, error)
}

// Config configures a Controller.
type Config struct {
	// Client writes Secrets and reads ServiceAccounts the cache has not
	// seen yet. Required.
	Client kubernetes.Interface
	// Informers is the shared factory New registers its Secret and
	// ServiceAccount informers on; the caller starts it after New. Required.
	Informers informers.SharedInformerFactory
	// Tokens signs the tokens. Required.
	Tokens Issuer
	// RootCA is the cluster CA bundle in PEM, written as ca.crt. Required.
	RootCA []byte
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of Secrets synced at once; 0 means 2.
	Workers int
}

// Controller fills ServiceAccount token Secrets.
type Controller struct {
	client   kubernetes.Interface
	tokens   Issuer
	rootCA   []byte
	secrets  corelisters.SecretLister
	accounts corelisters.ServiceAccountLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[cache.ObjectName]
	log      *slog.Logger
	workers  int
}

// New validates cfg and registers the controller's informers on
// cfg.Informers.
func New(cfg Config) (*Controller, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("serviceaccounttoken: Client is required")
	case cfg.Informers == nil:
		return nil, errors.New("serviceaccounttoken: Informers is required")
	case cfg.Tokens == nil:
		return nil, errors.New("serviceaccounttoken: Tokens is required")
	case len(cfg.RootCA) == 0:
		return nil, errors.New("serviceaccounttoken: RootCA is required")
	case cfg.Workers < 0:
		return nil, fmt.Errorf("serviceaccounttoken: Workers is %d, must not be negative", cfg.Workers)
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	secrets := cfg.Informers.Core().V1().Secrets()
	accounts := cfg.Informers.Core().V1().ServiceAccounts()
	c := &Controller{
		client:   cfg.Client,
		tokens:   cfg.Tokens,
		rootCA:   cfg.RootCA,
		secrets:  secrets.Lister(),
		accounts: accounts.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[cache.ObjectName](),
			workqueue.TypedRateLimitingQueueConfig[cache.ObjectName]{Name: "serviceaccounttoken"}),
		log:     cfg.Logger.With("component", "serviceaccounttoken-controller"),
		workers: cfg.Workers,
	}
	enqueueSecret := func(obj any) {
		if s, ok := tombstone(obj).(*corev1.Secret); ok {
			c.queue.Add(cache.MetaObjectToName(s))
		}
	}
	secretReg, err := secrets.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool {
			s, ok := tombstone(obj).(*corev1.Secret)
			return ok && s.Type == corev1.SecretTypeServiceAccountToken
		},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    enqueueSecret,
			UpdateFunc: func(_, obj any) { enqueueSecret(obj) },
		},
	})
	if err != nil {
		return nil, fmt.Errorf("serviceaccounttoken: adding Secret handler: %w", err)
	}
	enqueueAccount := func(obj any) {
		if sa, ok := tombstone(obj).(*corev1.ServiceAccount); ok {
			c.enqueueSecretsOf(sa)
		}
	}
	saReg, err := accounts.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueueAccount,
		UpdateFunc: func(_, obj any) { enqueueAccount(obj) },
		DeleteFunc: enqueueAccount,
	})
	if err != nil {
		return nil, fmt.Errorf("serviceaccounttoken: adding ServiceAccount handler: %w", err)
	}
	c.synced = []cache.InformerSynced{secretReg.HasSynced, saReg.HasSynced}
	return c, nil
}

func tombstone(obj any) any {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return d.Obj
	}
	return obj
}

// enqueueSecretsOf queues the token Secrets that name sa.
func (c *Controller) enqueueSecretsOf(sa *corev1.ServiceAccount) {
	list, err := c.secrets.Secrets(sa.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range list {
		if s.Type == corev1.SecretTypeServiceAccountToken && s.Annotations[corev1.ServiceAccountNameKey] == sa.Name {
			c.queue.Add(cache.MetaObjectToName(s))
		}
	}
}

// Run waits for the caches to fill and syncs Secrets until ctx ends. It
// returns nil once ctx has ended and every worker has stopped. A
// Controller runs once.
func (c *Controller) Run(ctx context.Context) error {
	worker.Run(ctx, c.queue, c.workers, c.synced, c.sync, func(key cache.ObjectName, err error) {
		c.log.Log(ctx, worker.Level(err), "sync failed", "secret", key.String(), "err", err)
	})
	return nil
}

// sync makes one token Secret hold a token of its ServiceAccount, the CA
// and its namespace, or deletes it when its ServiceAccount is gone.
func (c *Controller) sync(ctx context.Context, key cache.ObjectName) error {
	secret, err := c.secrets.Secrets(key.Namespace).Get(key.Name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting Secret %s from cache: %w", key, err)
	}
	if secret.Type != corev1.SecretTypeServiceAccountToken || secret.DeletionTimestamp != nil {
		return nil
	}
	sa, err := c.account(ctx, secret)
	if err != nil {
		return err
	}
	if sa == nil {
		err := c.client.CoreV1().Secrets(key.Namespace).Delete(ctx, key.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &secret.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting Secret %s of a deleted ServiceAccount: %w", key, err)
		}
		return nil
	}
	needToken := len(secret.Data[corev1.ServiceAccountTokenKey]) == 0
	needCA := !bytes.Equal(secret.Data[corev1.ServiceAccountRootCAKey], c.rootCA)
	needNamespace := string(secret.Data[corev1.ServiceAccountNamespaceKey]) != secret.Namespace
	needUID := secret.Annotations[corev1.ServiceAccountUIDKey] == ""
	if !needToken && !needCA && !needNamespace && !needUID {
		return nil
	}
	secret = secret.DeepCopy()
	if secret.Data == nil {
		secret.Data = map[string][]byte{}
	}
	if secret.Annotations == nil {
		secret.Annotations = map[string]string{}
	}
	if needToken {
		tok, err := c.tokens.IssueLegacy(sa, secret)
		if err != nil {
			return err
		}
		secret.Data[corev1.ServiceAccountTokenKey] = []byte(tok)
	}
	secret.Data[corev1.ServiceAccountRootCAKey] = c.rootCA
	secret.Data[corev1.ServiceAccountNamespaceKey] = []byte(secret.Namespace)
	secret.Annotations[corev1.ServiceAccountUIDKey] = string(sa.UID)
	if _, err := c.client.CoreV1().Secrets(secret.Namespace).Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("updating Secret %s: %w", key, err)
	}
	return nil
}

// account returns the ServiceAccount secret names, or nil when it does
// not exist or is not the one the Secret's UID annotation names. A cache
// miss is checked against the API: the Secret may be newer than the cache.
func (c *Controller) account(ctx context.Context, secret *corev1.Secret) (*corev1.ServiceAccount, error) {
	name := secret.Annotations[corev1.ServiceAccountNameKey]
	if name == "" {
		return nil, nil
	}
	sa, err := c.accounts.ServiceAccounts(secret.Namespace).Get(name)
	if apierrors.IsNotFound(err) {
		sa, err = c.client.CoreV1().ServiceAccounts(secret.Namespace).Get(ctx, name, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("getting ServiceAccount %s/%s: %w", secret.Namespace, name, err)
	}
	if uid := secret.Annotations[corev1.ServiceAccountUIDKey]; (uid != "" && uid != string(sa.UID)) || sa.DeletionTimestamp != nil {
		return nil, nil
	}
	return sa, nil
}
