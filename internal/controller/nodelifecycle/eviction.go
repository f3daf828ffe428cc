package nodelifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// The condition a pod gets before the controller deletes it.
const (
	reasonTaintEviction  = "DeletionByTaintManager"
	messageTaintEviction = "Taint manager: deleting due to NoExecute taint"
)

// noExecuteTaints returns the NoExecute taints of taints.
func noExecuteTaints(taints []corev1.Taint) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			out = append(out, t)
		}
	}
	return out
}

func slicesEqualTaints(a, b []corev1.Taint) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.Taint) bool { return x.MatchTaint(&y) && x.Value == y.Value })
}

// evictionDelay returns how long a pod with tolerations may stay on a
// node with the NoExecute taints: forever (true) when there are none or
// every toleration the pod uses for them (the first that tolerates each
// taint) has no tolerationSeconds; 0 when some taint is not tolerated;
// else the smallest tolerationSeconds of those it uses, 0 if that is not
// positive.
func evictionDelay(tolerations []corev1.Toleration, taints []corev1.Taint) (time.Duration, bool) {
	if len(taints) == 0 {
		return 0, true
	}
	var least *int64
	for i := range taints {
		j := slices.IndexFunc(tolerations, func(t corev1.Toleration) bool {
			return t.ToleratesTaint(klog.Background(), &taints[i], false)
		})
		if j < 0 {
			return 0, false
		}
		if s := tolerations[j].TolerationSeconds; s != nil && (least == nil || *s < *least) {
			least = s
		}
	}
	if least == nil {
		return 0, true
	}
	return time.Duration(max(*least, 0)) * time.Second, false
}

// syncEviction deletes the pod once the NoExecute taints of its node call
// for it, and otherwise schedules its next check. The deletion time is
// set the first time the pod is seen exposed and kept while it stays so.
func (c *Controller) syncEviction(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if err != nil || pod.Spec.NodeName == "" || pod.DeletionTimestamp != nil {
		c.cancelEviction(key)
		return nil
	}
	node, err := c.nodes.Get(pod.Spec.NodeName)
	if err != nil {
		c.cancelEviction(key)
		return nil
	}
	delay, forever := evictionDelay(pod.Spec.Tolerations, noExecuteTaints(node.Spec.Taints))
	if forever {
		c.cancelEviction(key)
		return nil
	}
	now := c.clock.Now()
	at := c.evictionTime(key, now.Add(delay))
	if delay > 0 && now.Before(at) {
		c.evictions.AddAfter(key, at.Sub(now))
		return nil
	}
	c.log.Info("evicting pod from NoExecute-tainted node", "pod", key, "node", node.Name)
	return c.evict(ctx, pod, now)
}

// evictionTime returns the pod's deletion time, setting it to at if it
// has none.
func (c *Controller) evictionTime(key string, at time.Time) time.Time {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if t, ok := c.evictAt[key]; ok {
		return t
	}
	c.evictAt[key] = at
	return at
}

func (c *Controller) evictionScheduled(key string) bool {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	_, ok := c.evictAt[key]
	return ok
}

func (c *Controller) cancelEviction(key string) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	delete(c.evictAt, key)
}

// evict gives the pod the DisruptionTarget condition and deletes it with
// its own grace period.
func (c *Controller) evict(ctx context.Context, pod *corev1.Pod, now time.Time) error {
	patch, err := json.Marshal(map[string]any{
		"status": map[string]any{"conditions": []corev1.PodCondition{{
			Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
			Reason: reasonTaintEviction, Message: messageTaintEviction, LastTransitionTime: metav1.NewTime(now),
		}}},
	})
	if err != nil {
		return err
	}
	pods := c.client.CoreV1().Pods(pod.Namespace)
	if _, err := pods.Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("marking pod %s/%s as a disruption target: %w", pod.Namespace, pod.Name, err)
	}
	err = pods.Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(pod.UID))})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
