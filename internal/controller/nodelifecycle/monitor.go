package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// monitorState is the monitor goroutine's own state.
type monitorState struct {
	// health is what was last seen of each node.
	health map[string]*health
	// zones holds each zone's state and NoExecute taint queue.
	zones map[string]*zone
	// retryNotReady names the nodes whose pods could not all be marked
	// not Ready yet.
	retryNotReady map[string]bool
}

type zone struct {
	state zoneState
	queue *taintQueue
}

func newMonitorState() monitorState {
	return monitorState{health: map[string]*health{}, zones: map[string]*zone{}, retryNotReady: map[string]bool{}}
}

// runMonitor runs the monitor pass every period and the taint pass every
// taintPassPeriod until ctx ends.
func (c *Controller) runMonitor(ctx context.Context) {
	monitor := c.clock.NewTicker(c.period)
	defer monitor.Stop()
	taint := c.clock.NewTicker(taintPassPeriod)
	defer taint.Stop()
	c.monitorPass(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-monitor.C():
			c.monitorPass(ctx)
		case <-taint.C():
			c.taintPass(ctx)
		}
	}
}

// monitorPass checks every node's health, marks silent nodes Unknown and
// their pods not Ready, queues or removes NoExecute taints, and sets each
// zone's tainting rate from its state.
func (c *Controller) monitorPass(ctx context.Context) {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return
	}
	now := c.clock.Now()
	seen := map[string]bool{}
	zoneReady := map[string][]corev1.ConditionStatus{}
	for _, node := range nodes {
		seen[node.Name] = true
		zk := zoneKey(node)
		if c.mon.zones[zk] == nil {
			c.mon.zones[zk] = &zone{state: zoneInitial, queue: newTaintQueue(c.rates.primary, c.clock)}
		}
		lease, _ := c.leases.Leases(corev1.NamespaceNodeLease).Get(node.Name)
		observed := readyStatus(node)
		h, grace := observe(c.mon.health[node.Name], node, lease, now, c.grace, c.startup)
		c.mon.health[node.Name] = h
		if now.After(h.probe.Add(grace)) {
			upd := node.DeepCopy()
			markUnknown(&upd.Status, node.CreationTimestamp, now)
			if !equality.Semantic.DeepEqual(condition(upd.Status.Conditions, corev1.NodeReady), condition(node.Status.Conditions, corev1.NodeReady)) {
				written, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, upd, metav1.UpdateOptions{})
				if err != nil {
					c.log.Error("marking node status unknown failed", "node", node.Name, "err", err)
					continue
				}
				c.log.Info("node stopped posting status", "node", node.Name, "lastProbe", h.probe)
				// The write keeps the heartbeat: it is no sign of life.
				h.ready = condition(written.Status.Conditions, corev1.NodeReady).DeepCopy()
				node = written
			}
		}
		status := readyStatus(node)
		zoneReady[zk] = append(zoneReady[zk], status)
		if status == "" {
			continue
		}
		c.noExecuteTaint(ctx, node, c.mon.zones[zk].queue, status, now)
		if status != corev1.ConditionTrue && (observed == corev1.ConditionTrue || c.mon.retryNotReady[node.Name]) {
			if err := c.markPodsNotReady(ctx, node.Name, now); err != nil {
				c.log.Error("marking pods not ready failed", "node", node.Name, "err", err)
				c.mon.retryNotReady[node.Name] = true
			} else {
				delete(c.mon.retryNotReady, node.Name)
			}
		}
	}
	for name := range c.mon.health {
		if !seen[name] {
			delete(c.mon.health, name)
			delete(c.mon.retryNotReady, name)
		}
	}
	c.handleDisruption(ctx, zoneReady, nodes, now)
}

// noExecuteTaint queues a not-Ready node for its NoExecute taint, swaps
// the not-ready and unreachable taints at once when it has the other one,
// and removes both from a Ready node.
func (c *Controller) noExecuteTaint(ctx context.Context, node *corev1.Node, q *taintQueue, status corev1.ConditionStatus, now time.Time) {
	want, other := notReadyNoExecute, unreachableNoExecute
	switch status {
	case corev1.ConditionTrue:
		q.remove(node.Name)
		if hasTaint(node.Spec.Taints, notReadyNoExecute) || hasTaint(node.Spec.Taints, unreachableNoExecute) {
			if err := swapTaints(ctx, c.client, node, nil, []corev1.Taint{notReadyNoExecute, unreachableNoExecute}, now); err != nil {
				c.log.Error("removing NoExecute taints failed", "node", node.Name, "err", err)
				return
			}
			c.log.Info("node is Ready again: NoExecute taints removed", "node", node.Name)
		}
		return
	case corev1.ConditionUnknown:
		want, other = unreachableNoExecute, notReadyNoExecute
	}
	switch {
	case hasTaint(node.Spec.Taints, other):
		if err := swapTaints(ctx, c.client, node, []corev1.Taint{want}, []corev1.Taint{other}, now); err != nil {
			c.log.Error("swapping NoExecute taints failed", "node", node.Name, "err", err)
		}
	case !hasTaint(node.Spec.Taints, want):
		q.add(node.Name, now)
	}
}

// taintPass gives the NoExecute taint to the queued nodes each zone's
// rate lets through.
func (c *Controller) taintPass(ctx context.Context) {
	now := c.clock.Now()
	for _, z := range c.mon.zones {
		z.queue.process(now, func(name string) (bool, time.Duration) {
			node, err := c.nodes.Get(name)
			if err != nil {
				return true, 0 // deleted
			}
			want, other := notReadyNoExecute, unreachableNoExecute
			switch readyStatus(node) {
			case corev1.ConditionFalse:
			case corev1.ConditionUnknown:
				want, other = unreachableNoExecute, notReadyNoExecute
			case "":
				return false, 50 * time.Millisecond
			default:
				return true, 0 // Ready again
			}
			if err := swapTaints(ctx, c.client, node, []corev1.Taint{want}, []corev1.Taint{other}, now); err != nil {
				c.log.Error("adding NoExecute taint failed", "node", name, "err", err)
				return false, 0
			}
			c.log.Info("node tainted", "node", name, "taint", want.Key)
			return true, 0
		})
	}
}

// handleDisruption moves each zone to the state its Ready counts give and
// sets its tainting rate accordingly. While every zone is fully disrupted
// no node is tainted and NoExecute taints are removed; when that ends,
// every node gets a fresh grace period.
func (c *Controller) handleDisruption(ctx context.Context, zoneReady map[string][]corev1.ConditionStatus, nodes []*corev1.Node, now time.Time) {
	states := map[string]zoneState{}
	allAre := true
	for zk, statuses := range zoneReady {
		_, s := computeZoneState(statuses, c.unhealthyThreshold)
		states[zk] = s
		allAre = allAre && s == zoneFullDisruption
	}
	allWere := true
	for zk, z := range c.mon.zones {
		if _, ok := zoneReady[zk]; !ok {
			delete(c.mon.zones, zk)
			continue
		}
		allWere = allWere && z.state == zoneFullDisruption
	}
	switch {
	case allAre && allWere:
		return
	case allAre:
		c.log.Warn("no node in any zone is Ready: NoExecute tainting stops")
		for _, node := range nodes {
			c.mon.zones[zoneKey(node)].queue.remove(node.Name)
			if err := swapTaints(ctx, c.client, node, nil, []corev1.Taint{notReadyNoExecute, unreachableNoExecute}, now); err != nil {
				c.log.Error("removing NoExecute taints failed", "node", node.Name, "err", err)
			}
		}
		for _, z := range c.mon.zones {
			z.queue.setRate(0)
			z.state = zoneFullDisruption
		}
		return
	case allWere:
		c.log.Info("some nodes are Ready again: NoExecute tainting resumes")
		for _, h := range c.mon.health {
			h.probe = now
		}
		for zk, z := range c.mon.zones {
			z.queue.setRate(c.rates.forState(states[zk], len(zoneReady[zk])))
			z.state = states[zk]
		}
		return
	}
	for zk, z := range c.mon.zones {
		if z.state != states[zk] {
			c.log.Info("zone state changed", "zone", zk, "from", z.state, "to", states[zk])
			z.queue.setRate(c.rates.forState(states[zk], len(zoneReady[zk])))
			z.state = states[zk]
		}
	}
}

// markPodsNotReady sets the Ready condition of the node's pods to False.
func (c *Controller) markPodsNotReady(ctx context.Context, nodeName string, now time.Time) error {
	objs, err := c.podIndexer.ByIndex(podNodeIndex, nodeName)
	if err != nil {
		return err
	}
	var errs []error
	for _, obj := range objs {
		pod := obj.(*corev1.Pod)
		i := podConditionIndex(pod.Status.Conditions, corev1.PodReady)
		if pod.Spec.NodeName != nodeName || i < 0 || pod.Status.Conditions[i].Status == corev1.ConditionFalse {
			continue
		}
		upd := pod.DeepCopy()
		upd.Status.Conditions[i].Status = corev1.ConditionFalse
		upd.Status.Conditions[i].LastTransitionTime = metav1.NewTime(now)
		if _, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err))
		}
	}
	return errors.Join(errs...)
}

func podConditionIndex(conds []corev1.PodCondition, typ corev1.PodConditionType) int {
	for i := range conds {
		if conds[i].Type == typ {
			return i
		}
	}
	return -1
}
