package clusterroleaggregation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"berth.dev/berth/internal/controller/worker"
)

// Config configures a Controller.
type Config struct {
	// Client updates ClusterRoles. Required.
	Client kubernetes.Interface
	// Informers is the shared factory New registers its ClusterRole
	// informer on; the caller starts it after New. Required.
	Informers informers.SharedInformerFactory
	// Logger receives sync failures; nil discards.
	Logger *slog.Logger
	// Workers is the number of ClusterRoles synced at once; 0 means 1.
	Workers int
}

// Controller keeps aggregated ClusterRoles' rules current.
type Controller struct {
	client  kubernetes.Interface
	lister  rbaclisters.ClusterRoleLister
	synced  []cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string]
	log     *slog.Logger
	workers int
}

// New validates cfg and registers the controller's informer.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("clusterroleaggregation: Client is required")
	}
	if cfg.Informers == nil {
		return nil, errors.New("clusterroleaggregation: Informers is required")
	}
	if cfg.Workers < 0 {
		return nil, fmt.Errorf("clusterroleaggregation: Workers is %d, must not be negative", cfg.Workers)
	}
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	inf := cfg.Informers.Rbac().V1().ClusterRoles()
	c := &Controller{
		client: cfg.Client,
		lister: inf.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "clusterroleaggregation"}),
		log:     cfg.Logger.With("component", "clusterrole-aggregation-controller"),
		workers: cfg.Workers,
	}
	reg, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.enqueueAll() },
		UpdateFunc: func(any, any) { c.enqueueAll() },
		DeleteFunc: func(any) { c.enqueueAll() },
	})
	if err != nil {
		return nil, fmt.Errorf("clusterroleaggregation: adding ClusterRole handler: %w", err)
	}
	c.synced = []cache.InformerSynced{reg.HasSynced}
	return c, nil
}

// enqueueAll queues every ClusterRole that aggregates: any change may
// concern any of them.
func (c *Controller) enqueueAll() {
	all, err := c.lister.List(labels.Everything())
	if err != nil {
		c.log.Error("listing cluster roles failed", "err", err)
		return
	}
	for _, r := range all {
		if r.AggregationRule != nil {
			c.queue.Add(r.Name)
		}
	}
}

// Run syncs until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return worker.Run(ctx, c.queue, c.workers, c.synced, c.sync, func(key string, err error) {
		c.log.Log(ctx, worker.Level(err), "sync failed", "clusterrole", key, "err", err)
	})
}

// sync sets the rules of one aggregating ClusterRole.
func (c *Controller) sync(ctx context.Context, name string) error {
	role, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if role.AggregationRule == nil {
		return nil
	}
	want, err := c.aggregate(role)
	if err != nil {
		return err
	}
	if equality.Semantic.DeepEqual(want, role.Rules) {
		return nil
	}
	updated := role.DeepCopy()
	updated.Rules = want
	_, err = c.client.RbacV1().ClusterRoles().Update(ctx, updated, metav1.UpdateOptions{FieldManager: "clusterrole-aggregation-controller"})
	return err
}

// aggregate is the union of the rules of the ClusterRoles role's
// selectors match, in selector order then by name, without duplicates.
func (c *Controller) aggregate(role *rbacv1.ClusterRole) ([]rbacv1.PolicyRule, error) {
	var rules []rbacv1.PolicyRule
	for _, ls := range role.AggregationRule.ClusterRoleSelectors {
		sel, err := metav1.LabelSelectorAsSelector(&ls)
		if err != nil {
			return nil, fmt.Errorf("aggregation selector of %s: %w", role.Name, err)
		}
		matched, err := c.lister.List(sel)
		if err != nil {
			return nil, err
		}
		slices.SortFunc(matched, func(a, b *rbacv1.ClusterRole) int { return strings.Compare(a.Name, b.Name) })
		for _, m := range matched {
			if m.Name == role.Name {
				continue
			}
			for _, r := range m.Rules {
				if !slices.ContainsFunc(rules, func(have rbacv1.PolicyRule) bool { return equality.Semantic.DeepEqual(have, r) }) {
					rules = append(rules, *r.DeepCopy())
				}
			}
		}
	}
	if rules == nil {
		rules = []rbacv1.PolicyRule{}
	}
	return rules, nil
}
