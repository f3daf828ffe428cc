package csrsigning

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	certlisters "k8s.io/client-go/listers/certificates/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"berth.dev/berth/internal/controller/worker"
)

// DefaultDuration is the lifetime of a certificate whose CSR does not ask
// for one, as upstream's --cluster-signing-duration default.
const DefaultDuration = 365 * 24 * time.Hour

// Config configures a Controller.
type Config struct {
	// Client writes CSR statuses. Required.
	Client kubernetes.Interface
	// Informers is the shared factory New registers its CSR informer on;
	// the caller starts it after New. Required.
	Informers informers.SharedInformerFactory
	// CA and CAKey are the cluster CA that signs. Required.
	CA    *x509.Certificate
	CAKey crypto.Signer
	// Duration is the longest certificate lifetime and the default of CSRs
	// without expirationSeconds; 0 means DefaultDuration.
	Duration time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of CSRs signed at once; 0 means 2.
	Workers int
}

// Controller signs approved CSRs of the cluster CA's signers.
type Controller struct {
	client   kubernetes.Interface
	lister   certlisters.CertificateSigningRequestLister
	ca       *x509.Certificate
	caKey    crypto.Signer
	duration time.Duration
	now      func() time.Time
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	log      *slog.Logger
	workers  int
}

// New validates cfg and registers the controller's informer.
func New(cfg Config) (*Controller, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("csrsigning: Client is required")
	case cfg.Informers == nil:
		return nil, errors.New("csrsigning: Informers is required")
	case cfg.CA == nil || cfg.CAKey == nil:
		return nil, errors.New("csrsigning: CA and CAKey are required")
	case cfg.Workers < 0:
		return nil, fmt.Errorf("csrsigning: Workers is %d, must not be negative", cfg.Workers)
	case cfg.Duration < 0:
		return nil, fmt.Errorf("csrsigning: Duration is %v, must not be negative", cfg.Duration)
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.Duration == 0 {
		cfg.Duration = DefaultDuration
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	inf := cfg.Informers.Certificates().V1().CertificateSigningRequests()
	c := &Controller{
		client: cfg.Client, lister: inf.Lister(), ca: cfg.CA, caKey: cfg.CAKey,
		duration: cfg.Duration, now: cfg.Now, workers: cfg.Workers,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "csrsigning"}),
		log: cfg.Logger.With("component", "csrsigning-controller"),
	}
	enqueue := func(obj any) {
		if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok {
			c.queue.Add(csr.Name)
		}
	}
	reg, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	if err != nil {
		return nil, fmt.Errorf("csrsigning: adding CSR handler: %w", err)
	}
	c.synced = []cache.InformerSynced{reg.HasSynced}
	return c, nil
}

// Run waits for the cache and signs CSRs until ctx ends; it returns once
// every worker has stopped. A Controller runs once.
func (c *Controller) Run(ctx context.Context) error {
	return worker.Run(ctx, c.queue, c.workers, c.synced, c.sync, func(name string, err error) {
		c.log.Log(ctx, worker.Level(err), "sync failed", "csr", name, "err", err)
	})
}

// sync issues the certificate of an approved, unfailed, unissued CSR of a
// signer this controller serves, or marks it Failed if the signer's rules
// reject it.
func (c *Controller) sync(ctx context.Context, name string) error {
	csr, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting CSR %q from cache: %w", name, err)
	}
	validate := validatorFor(csr.Spec.SignerName)
	if validate == nil || len(csr.Status.Certificate) > 0 || !approved(csr) {
		return nil
	}
	csr = csr.DeepCopy()
	req, err := ParseRequest(csr.Spec.Request)
	if err == nil {
		err = validate(req, csr.Spec.Usages)
	}
	if err != nil {
		now := metav1.NewTime(c.now())
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue, Reason: "SignerValidationFailure",
			Message: err.Error(), LastUpdateTime: now, LastTransitionTime: now,
		})
	} else {
		ttl := c.duration
		if es := csr.Spec.ExpirationSeconds; es != nil && time.Duration(*es)*time.Second < ttl {
			ttl = time.Duration(*es) * time.Second
		}
		if csr.Status.Certificate, err = sign(c.ca, c.caKey, req, csr.Spec.Usages, c.now(), ttl); err != nil {
			return fmt.Errorf("signing CSR %q: %w", name, err)
		}
	}
	if _, err := c.client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating the status of CSR %q: %w", name, err)
	}
	return nil
}

// approved reports an Approved CSR that is neither Denied nor Failed.
func approved(csr *certificatesv1.CertificateSigningRequest) bool {
	ok := false
	for _, c := range csr.Status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved:
			ok = true
		case certificatesv1.CertificateDenied, certificatesv1.CertificateFailed:
			return false
		}
	}
	return ok
}
