package csrapproving

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	certlisters "k8s.io/client-go/listers/certificates/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"berth.dev/berth/internal/controller/csrsigning"
	"berth.dev/berth/internal/controller/worker"
)

// Config configures a Controller.
type Config struct {
	// Client approves CSRs and creates SubjectAccessReviews. Required.
	Client kubernetes.Interface
	// Informers is the shared factory New registers its CSR informer on;
	// the caller starts it after New. Required.
	Informers informers.SharedInformerFactory
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of CSRs handled at once; 0 means 2.
	Workers int
}

// Controller auto-approves node client certificate requests.
type Controller struct {
	client  kubernetes.Interface
	lister  certlisters.CertificateSigningRequestLister
	nodes   corelisters.NodeLister
	synced  []cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string]
	log     *slog.Logger
	workers int
}

// New validates cfg and registers the controller's informer.
func New(cfg Config) (*Controller, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("csrapproving: Client is required")
	case cfg.Informers == nil:
		return nil, errors.New("csrapproving: Informers is required")
	case cfg.Workers < 0:
		return nil, fmt.Errorf("csrapproving: Workers is %d, must not be negative", cfg.Workers)
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	inf := cfg.Informers.Certificates().V1().CertificateSigningRequests()
	c := &Controller{
		client: cfg.Client, lister: inf.Lister(), workers: cfg.Workers,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "csrapproving"}),
		log: cfg.Logger.With("component", "csrapproving-controller"),
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
		return nil, fmt.Errorf("csrapproving: adding CSR handler: %w", err)
	}
	nodes := cfg.Informers.Core().V1().Nodes()
	c.nodes = nodes.Lister()
	c.synced = []cache.InformerSynced{reg.HasSynced, nodes.Informer().HasSynced}
	return c, nil
}

// Run waits for the cache and handles CSRs until ctx ends; it returns once
// every worker has stopped. A Controller runs once.
func (c *Controller) Run(ctx context.Context) error {
	return worker.Run(ctx, c.queue, c.workers, c.synced, c.sync, func(name string, err error) {
		c.log.Log(ctx, worker.Level(err), "sync failed", "csr", name, "err", err)
	})
}

// errNotAuthorized is returned for a recognised CSR whose requester may
// not have it approved: the queue retries, as upstream, in case the
// requester's permissions change.
var errNotAuthorized = errors.New("recognized but the subject access review was not approved")

// Permission is one way to have a CSR approved: the subresource of
// certificatesigningrequests its requester must be allowed to create.
type Permission struct {
	Subresource string
	Message     string
}

// Permissions returns the permissions under which req, a CSR's parsed
// request, may be approved, in the order to try them: selfnodeclient for a
// node renewing its own certificate, then nodeclient. None means this
// approver does not handle the CSR.
func Permissions(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) []Permission {
	if csr.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName || csrsigning.ValidateKubeletClient(req, csr.Spec.Usages) != nil {
		return nil
	}
	var out []Permission
	if csr.Spec.Username == req.Subject.CommonName {
		out = append(out, Permission{"selfnodeclient", "Auto approving self kubelet client certificate after SubjectAccessReview."})
	}
	return append(out, Permission{"nodeclient", "Auto approving kubelet client certificate after SubjectAccessReview."})
}

// sync approves a pending node client CSR its requester may have approved.
func (c *Controller) sync(ctx context.Context, name string) error {
	csr, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting CSR %q from cache: %w", name, err)
	}
	if len(csr.Status.Certificate) > 0 || decided(csr) {
		return nil
	}
	req, err := csrsigning.ParseRequest(csr.Spec.Request)
	if err != nil {
		return nil // validation let it in; nothing this approver can do
	}
	if csr.Spec.SignerName == certificatesv1.KubeletServingSignerName {
		return c.syncServing(ctx, csr, req)
	}
	perms := Permissions(csr, req)
	for _, p := range perms {
		ok, err := c.allowed(ctx, csr, p.Subresource)
		if err != nil {
			return err
		}
		if ok {
			return c.approve(ctx, csr, p.Message)
		}
	}
	if len(perms) > 0 {
		return fmt.Errorf("CSR %q: %w", name, errNotAuthorized)
	}
	return nil
}

// errNotNodesOwn is returned for a node's serving CSR naming what its Node
// does not have (yet): the queue retries, as the Node may be registering.
var errNotNodesOwn = errors.New("names or addresses that are not the node's own")

// syncServing approves a node's request for its own serving certificate
// (see the package documentation).
func (c *Controller) syncServing(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) error {
	if csrsigning.ValidateKubeletServing(req, csr.Spec.Usages) != nil ||
		csr.Spec.Username != req.Subject.CommonName || !slices.Contains(csr.Spec.Groups, csrsigning.NodeGroup) {
		return nil // not a node asking for itself: left to people
	}
	node, err := c.nodes.Get(strings.TrimPrefix(req.Subject.CommonName, csrsigning.NodeUserPrefix))
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("CSR %q: %w", csr.Name, errNotNodesOwn)
	}
	if err != nil {
		return err
	}
	if !OwnNames(node, req) {
		return fmt.Errorf("CSR %q: %w", csr.Name, errNotNodesOwn)
	}
	return c.approve(ctx, csr, "Auto approving kubelet serving certificate: the node's own names and addresses.")
}

// OwnNames reports whether every DNS name req asks for is node's name or
// one of its DNS or host name addresses, and every IP one of its IP
// addresses.
func OwnNames(node *corev1.Node, req *x509.CertificateRequest) bool {
	names, ips := []string{node.Name}, []net.IP{}
	for _, a := range node.Status.Addresses {
		switch a.Type {
		case corev1.NodeHostName, corev1.NodeInternalDNS, corev1.NodeExternalDNS:
			names = append(names, a.Address)
		case corev1.NodeInternalIP, corev1.NodeExternalIP:
			if ip := net.ParseIP(a.Address); ip != nil {
				ips = append(ips, ip)
			}
		}
	}
	for _, n := range req.DNSNames {
		if !slices.Contains(names, n) {
			return false
		}
	}
	for _, ip := range req.IPAddresses {
		if !slices.ContainsFunc(ips, ip.Equal) {
			return false
		}
	}
	return true
}

// approve adds the Approved condition with message.
func (c *Controller) approve(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, message string) error {
	csr = csr.DeepCopy()
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "AutoApproved", Message: message,
	})
	if _, err := c.client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("approving CSR %q: %w", csr.Name, err)
	}
	return nil
}

// allowed asks the API server whether the CSR's requester may create
// certificatesigningrequests/<subresource>.
func (c *Controller) allowed(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, subresource string) (bool, error) {
	extra := map[string]authorizationv1.ExtraValue{}
	for k, v := range csr.Spec.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: csr.Spec.Username, UID: csr.Spec.UID, Groups: csr.Spec.Groups, Extra: extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Group: "certificates.k8s.io", Version: "*", Resource: "certificatesigningrequests", Subresource: subresource, Verb: "create",
		},
	}}
	out, err := c.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("reviewing access to certificatesigningrequests/%s for %q: %w", subresource, csr.Spec.Username, err)
	}
	return out.Status.Allowed, nil
}

// decided reports a CSR already approved or denied.
func decided(csr *certificatesv1.CertificateSigningRequest) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == certificatesv1.CertificateApproved || c.Type == certificatesv1.CertificateDenied {
			return true
		}
	}
	return false
}
