package nodelifecycle

import (
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/flowcontrol"
)

// zoneState is how healthy a zone's nodes are.
type zoneState int

const (
	zoneInitial zoneState = iota
	zoneNormal
	zonePartialDisruption
	zoneFullDisruption
)

func (s zoneState) String() string {
	return [...]string{"Initial", "Normal", "PartialDisruption", "FullDisruption"}[s]
}

// zoneKey is the zone a node is in: its region and zone labels (the beta
// ones when the stable ones are missing), "" when it has neither.
func zoneKey(node *corev1.Node) string {
	label := func(stable, beta string) string {
		if v := node.Labels[stable]; v != "" {
			return v
		}
		return node.Labels[beta]
	}
	region := label(corev1.LabelTopologyRegion, corev1.LabelFailureDomainBetaRegion)
	zone := label(corev1.LabelTopologyZone, corev1.LabelFailureDomainBetaZone)
	if region == "" && zone == "" {
		return ""
	}
	return region + ":\x00:" + zone
}

// computeZoneState returns how many of a zone's nodes are not Ready (with
// a Ready condition other than True, or none) and the zone's state: full
// disruption when none is Ready, partial disruption when more than two
// and at least threshold of them are not Ready, normal otherwise.
func computeZoneState(ready []corev1.ConditionStatus, threshold float64) (int, zoneState) {
	notReady := 0
	for _, s := range ready {
		if s != corev1.ConditionTrue {
			notReady++
		}
	}
	switch {
	case notReady > 0 && notReady == len(ready):
		return notReady, zoneFullDisruption
	case notReady > 2 && float64(notReady)/float64(len(ready)) >= threshold:
		return notReady, zonePartialDisruption
	}
	return notReady, zoneNormal
}

// rates are the eviction rates of Config.
type rates struct {
	primary, secondary float64
	largeCluster       int
}

// forState is the rate of NoExecute tainting in a zone of size nodes in
// state s (while some zone is not fully disrupted): the primary rate, or
// in partial disruption the secondary rate in a large cluster and none in
// a small one.
func (r rates) forState(s zoneState, size int) float64 {
	if s == zonePartialDisruption {
		if size > r.largeCluster {
			return r.secondary
		}
		return 0
	}
	return r.primary
}

// taintQueue holds a zone's nodes waiting for a NoExecute taint and the
// token bucket that releases them. It is owned by the monitor goroutine.
type taintQueue struct {
	clock flowcontrol.Clock
	qps   float64
	// limiter is nil while the rate is zero.
	limiter flowcontrol.RateLimiter
	// items are in the order they are due.
	items []queued
}

type queued struct {
	node string
	due  time.Time
}

// newTaintQueue returns a queue whose bucket of qps nodes a second (none
// when qps is zero) starts full.
func newTaintQueue(qps float64, clk flowcontrol.Clock) *taintQueue {
	q := &taintQueue{clock: clk, qps: qps}
	if qps > 0 {
		q.limiter = flowcontrol.NewTokenBucketRateLimiterWithClock(float32(qps), 1, clk)
	}
	return q
}

// setRate replaces the token bucket with one of qps nodes a second and a
// burst of one (none when qps is zero). The new bucket starts empty when
// the old one was, or had a zero rate.
func (q *taintQueue) setRate(qps float64) {
	if q.qps == qps {
		return
	}
	wasEmpty := q.limiter == nil || !q.limiter.TryAccept()
	q.qps, q.limiter = qps, nil
	if qps > 0 {
		q.limiter = flowcontrol.NewTokenBucketRateLimiterWithClock(float32(qps), 1, q.clock)
		if wasEmpty {
			q.limiter.TryAccept()
		}
	}
}

// add queues node, due now, unless it is queued already.
func (q *taintQueue) add(node string, now time.Time) {
	if !slices.ContainsFunc(q.items, func(it queued) bool { return it.node == node }) {
		q.insert(queued{node: node, due: now})
	}
}

func (q *taintQueue) insert(it queued) {
	i, _ := slices.BinarySearchFunc(q.items, it.due, func(a queued, t time.Time) int {
		if a.due.After(t) {
			return 1
		}
		return -1
	})
	q.items = slices.Insert(q.items, i, it)
}

// remove drops node from the queue.
func (q *taintQueue) remove(node string) {
	q.items = slices.DeleteFunc(q.items, func(it queued) bool { return it.node == node })
}

// process hands due nodes to taint in order while the bucket has tokens.
// A node taint fails for (ok false) is queued again after retry.
func (q *taintQueue) process(now time.Time, taint func(node string) (ok bool, retry time.Duration)) {
	for len(q.items) > 0 && !q.items[0].due.After(now) {
		if q.limiter == nil || !q.limiter.TryAccept() {
			return
		}
		it := q.items[0]
		q.items = q.items[1:]
		if ok, retry := taint(it.node); !ok {
			q.insert(queued{node: it.node, due: now.Add(retry + time.Nanosecond)})
		}
	}
}
