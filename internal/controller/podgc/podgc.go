package podgc

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Config configures a Controller.
type Config struct {
	// Client reads nodes and patches and deletes pods.
	Client kubernetes.Interface
	// Informers is shared; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// Clock drives the collection period and the quarantine; nil means
	// the real clock.
	Clock clock.WithTicker
	// Logger receives deletions and failures; nil discards.
	Logger *slog.Logger
	// TerminatedPodThreshold is how many finished pods may exist before
	// the oldest are deleted (terminated-pod-gc-threshold); 0 means
	// 12500, negative never deletes them.
	TerminatedPodThreshold int
	// GCPeriod is how often pods are collected; 0 means 20s.
	GCPeriod time.Duration
	// Quarantine is how long a node must be missing before its pods are
	// deleted; 0 means 40s.
	Quarantine time.Duration
}

// Controller collects pods. See the package documentation.
type Controller struct {
	client     kubernetes.Interface
	clock      clock.WithTicker
	log        *slog.Logger
	threshold  int
	period     time.Duration
	quarantine time.Duration
	pods       corelisters.PodLister
	nodes      corelisters.NodeLister
	synced     []cache.InformerSynced
	// missing holds the names of missing nodes, each handed out once its
	// quarantine has passed. Only the collecting goroutine uses it.
	missing workqueue.TypedDelayingInterface[string]
}

// Condition reason and message of pods deleted because their node is gone.
const (
	reasonNodeGone  = "DeletionByPodGC"
	messageNodeGone = "PodGC: node no longer exists"
)

// New validates cfg, fills its defaults and registers the informers
// (pods, nodes) on cfg.Informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("podgc: Client and Informers are required")
	}
	if cfg.GCPeriod < 0 || cfg.Quarantine < 0 {
		return nil, errors.New("podgc: GCPeriod and Quarantine must not be negative")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TerminatedPodThreshold == 0 {
		cfg.TerminatedPodThreshold = 12500
	}
	if cfg.GCPeriod == 0 {
		cfg.GCPeriod = 20 * time.Second
	}
	if cfg.Quarantine == 0 {
		cfg.Quarantine = 40 * time.Second
	}
	podInf, nodeInf := cfg.Informers.Core().V1().Pods(), cfg.Informers.Core().V1().Nodes()
	return &Controller{
		client: cfg.Client, clock: cfg.Clock, log: cfg.Logger.With("component", "podgc"),
		threshold: cfg.TerminatedPodThreshold, period: cfg.GCPeriod, quarantine: cfg.Quarantine,
		pods: podInf.Lister(), nodes: nodeInf.Lister(),
		synced: []cache.InformerSynced{podInf.Informer().HasSynced, nodeInf.Informer().HasSynced},
		missing: workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[string]{
			Name: "podgc-missing-nodes", Clock: cfg.Clock,
		}),
	}, nil
}

// Run waits for the caches and collects every GCPeriod until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.missing.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("podgc: waiting for caches: %w", ctx.Err())
	}
	t := c.clock.NewTicker(c.period)
	defer t.Stop()
	for {
		c.collect(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
	}
}

// collect runs one collection.
func (c *Controller) collect(ctx context.Context) {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return
	}
	existing := map[string]*corev1.Node{}
	for _, n := range nodes {
		existing[n.Name] = n
	}
	for _, p := range pods {
		if p.Spec.NodeName != "" && existing[p.Spec.NodeName] == nil {
			c.missing.AddAfter(p.Spec.NodeName, c.quarantine)
		}
	}
	gone := c.goneNodes(ctx, existing)
	for _, d := range plan(pods, existing, gone, c.threshold) {
		if err := c.forceDelete(ctx, d.pod, d.condition); err != nil {
			c.log.Error("deleting pod failed", "pod", d.pod.Namespace+"/"+d.pod.Name, "why", d.why, "err", err)
			continue
		}
		c.log.Info("pod deleted", "pod", d.pod.Namespace+"/"+d.pod.Name, "why", d.why)
	}
}

// goneNodes takes the missing nodes whose quarantine has passed and
// returns those the API confirms do not exist.
func (c *Controller) goneNodes(ctx context.Context, existing map[string]*corev1.Node) map[string]bool {
	gone := map[string]bool{}
	for c.missing.Len() > 0 {
		name, quit := c.missing.Get()
		if quit {
			return gone
		}
		if existing[name] == nil {
			_, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				gone[name] = true
			case err != nil:
				c.log.Error("checking a missing node failed", "node", name, "err", err)
			}
		}
		c.missing.Done(name)
	}
	return gone
}

// deletion is a pod to delete, why, and the condition it gets first.
type deletion struct {
	pod       *corev1.Pod
	why       string
	condition *corev1.PodCondition
}

// plan returns the pods one collection deletes, given the existing nodes
// and the nodes confirmed gone: finished pods beyond threshold (none when
// it is negative), evicted ones first, then by age and name; terminating
// pods on out-of-service nodes that are not Ready; pods of gone nodes;
// terminating pods never bound. A pod is listed once.
func plan(pods []*corev1.Pod, nodes map[string]*corev1.Node, gone map[string]bool, threshold int) []deletion {
	var out []deletion
	seen := map[types.UID]bool{}
	add := func(p *corev1.Pod, why string, cond *corev1.PodCondition) {
		if !seen[p.UID] {
			seen[p.UID] = true
			out = append(out, deletion{pod: p, why: why, condition: cond})
		}
	}
	if threshold >= 0 {
		var finished []*corev1.Pod
		for _, p := range pods {
			if ph := p.Status.Phase; ph != corev1.PodPending && ph != corev1.PodRunning && ph != corev1.PodUnknown {
				finished = append(finished, p)
			}
		}
		if excess := len(finished) - threshold; excess > 0 {
			slices.SortFunc(finished, func(a, b *corev1.Pod) int {
				if ea, eb := evicted(a), evicted(b); ea != eb {
					if ea {
						return -1
					}
					return 1
				}
				if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
					return c
				}
				return cmp.Compare(a.Name, b.Name)
			})
			for _, p := range finished[:excess] {
				add(p, "terminated", nil)
			}
		}
	}
	for _, p := range pods {
		if n := nodes[p.Spec.NodeName]; p.DeletionTimestamp != nil && n != nil && !ready(n) && slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool {
			return t.Key == corev1.TaintNodeOutOfService
		}) {
			add(p, "terminating on an out-of-service node", nil)
		}
	}
	for _, p := range pods {
		if p.Spec.NodeName != "" && gone[p.Spec.NodeName] {
			add(p, "orphaned", &corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: reasonNodeGone, Message: messageNodeGone})
		}
	}
	for _, p := range pods {
		if p.DeletionTimestamp != nil && p.Spec.NodeName == "" {
			add(p, "terminating unscheduled", nil)
		}
	}
	return out
}

func evicted(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "Evicted"
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// forceDelete marks an unfinished pod Failed (with cond, if any) and
// deletes it with a grace period of zero.
func (c *Controller) forceDelete(ctx context.Context, pod *corev1.Pod, cond *corev1.PodCondition) error {
	pods := c.client.CoreV1().Pods(pod.Namespace)
	if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		status := map[string]any{"phase": corev1.PodFailed}
		if cond != nil {
			withTime := *cond
			withTime.LastTransitionTime = metav1.NewTime(c.clock.Now())
			status["conditions"] = []corev1.PodCondition{withTime}
		}
		patch, err := json.Marshal(map[string]any{"status": status})
		if err != nil {
			return err
		}
		if _, err := pods.Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("marking the pod Failed: %w", err)
		}
	}
	err := pods.Delete(ctx, pod.Name, *metav1.NewDeleteOptions(0))
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}
