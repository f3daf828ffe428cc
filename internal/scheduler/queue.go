package scheduler

import (
	"container/heap"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/clock"

	"berth.dev/berth/internal/scheduler/framework"
)

// Backoff bounds for pods whose scheduling attempt failed with an error.
const (
	initialBackoff = time.Second
	maxBackoff     = 10 * time.Second
)

// queuedPod is a pod waiting in the queue.
type queuedPod struct {
	pod *v1.Pod
	// seq orders pods of equal priority: lower was queued (or last
	// parked) first.
	seq int64
	// index in the active heap, -1 when not there.
	index int
	// since is when the pod was parked as unschedulable; readyAt when a
	// backing-off pod may return to the active heap.
	since, readyAt time.Time
	// attempts counts failed attempts, for the backoff.
	attempts int
	// waitsForPods is set for an unschedulable pod that a plugin looking
	// at other pods (pod affinity, topology spread) rejected somewhere.
	waitsForPods bool
}

// activeHeap orders pods by priority (highest first), then FIFO.
type activeHeap []*queuedPod

func (h activeHeap) Len() int { return len(h) }
func (h activeHeap) Less(i, j int) bool {
	pi, pj := framework.PodPriority(h[i].pod), framework.PodPriority(h[j].pod)
	if pi != pj {
		return pi > pj
	}
	return h[i].seq < h[j].seq
}
func (h activeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *activeHeap) Push(x any) {
	q := x.(*queuedPod)
	q.index = len(*h)
	*h = append(*h, q)
}
func (h *activeHeap) Pop() any {
	old := *h
	q := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	q.index = -1
	return q
}

// schedulingQueue holds the pods waiting to be scheduled, keyed by
// namespace/name, in one of three places: the active heap (ready to pop),
// unschedulable (parked until the cluster changes or they have waited
// unschedulableTimeout) and backoff (after an error, until readyAt). A
// popped pod is in flight until Done, AddUnschedulable or AddBackoff.
//
// A move request (the cluster changed) that arrives while a pod is in
// flight sends that pod back to the active heap rather than parking it,
// so no change is missed.
type schedulingQueue struct {
	clock                clock.Clock
	unschedulableTimeout time.Duration

	mu   sync.Mutex // guards the fields below
	cond *sync.Cond // signalled on Add to active and on close
	// active, unschedulable and backoff hold queued pods; a key is in at
	// most one of them.
	active        activeHeap
	activeByKey   map[string]*queuedPod
	unschedulable map[string]*queuedPod
	backoff       map[string]*queuedPod
	// inFlight maps popped pods to whether they changed since the pop.
	inFlight map[string]bool
	// attempts remembers failed attempts of in-flight pods.
	attempts map[string]int
	// cycle counts pops; moveCycle is the cycle of the last move request,
	// podMoveCycle that of the last one for pods waiting for other pods.
	cycle, moveCycle, podMoveCycle int64
	seq                            int64
	closed                         bool
}

func newSchedulingQueue(clk clock.Clock, unschedulableTimeout time.Duration) *schedulingQueue {
	q := &schedulingQueue{
		clock:                clk,
		unschedulableTimeout: unschedulableTimeout,
		activeByKey:          map[string]*queuedPod{},
		unschedulable:        map[string]*queuedPod{},
		backoff:              map[string]*queuedPod{},
		inFlight:             map[string]bool{},
		attempts:             map[string]int{},
		moveCycle:            -1,
		podMoveCycle:         -1,
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func podKey(pod *v1.Pod) string { return pod.Namespace + "/" + pod.Name }

// pushActiveLocked puts qp on the active heap, in its seq order.
func (q *schedulingQueue) pushActiveLocked(key string, qp *queuedPod) {
	heap.Push(&q.active, qp)
	q.activeByKey[key] = qp
	q.cond.Signal()
}

// Add queues a new pending pod, or updates it if it is already queued.
func (q *schedulingQueue) Add(pod *v1.Pod) { q.Update(pod) }

// Update records a new version of a pending pod. A parked pod whose spec
// or metadata changed is retried at once; status-only changes (such as
// the scheduler's own condition) leave it parked.
func (q *schedulingQueue) Update(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(pod)
	if qp, ok := q.activeByKey[key]; ok {
		qp.pod = pod
		heap.Fix(&q.active, qp.index)
		return
	}
	for _, parked := range []map[string]*queuedPod{q.unschedulable, q.backoff} {
		if qp, ok := parked[key]; ok {
			changed := !sameIgnoringStatus(qp.pod, pod)
			qp.pod = pod
			if changed {
				delete(parked, key)
				q.pushActiveLocked(key, qp)
			}
			return
		}
	}
	if _, ok := q.inFlight[key]; ok {
		q.inFlight[key] = true
		return
	}
	q.seq++
	q.pushActiveLocked(key, &queuedPod{pod: pod, index: -1, seq: q.seq})
}

// sameIgnoringStatus reports whether a and b differ only in status and
// bookkeeping metadata.
func sameIgnoringStatus(a, b *v1.Pod) bool {
	strip := func(p *v1.Pod) *v1.Pod {
		c := p.DeepCopy()
		c.Status = v1.PodStatus{}
		c.ResourceVersion, c.Generation, c.ManagedFields = "", 0, nil
		return c
	}
	return equality.Semantic.DeepEqual(strip(a), strip(b))
}

// Delete forgets a pod wherever it is, including in flight.
func (q *schedulingQueue) Delete(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(pod)
	if qp, ok := q.activeByKey[key]; ok {
		heap.Remove(&q.active, qp.index)
		delete(q.activeByKey, key)
	}
	delete(q.unschedulable, key)
	delete(q.backoff, key)
	delete(q.inFlight, key)
	delete(q.attempts, key)
}

// Pop waits for a pod on the active heap and returns it with the number
// of its scheduling cycle; ok is false once the queue is closed.
func (q *schedulingQueue) Pop() (pod *v1.Pod, cycle int64, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.active) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil, 0, false
	}
	qp := heap.Pop(&q.active).(*queuedPod)
	key := podKey(qp.pod)
	delete(q.activeByKey, key)
	q.inFlight[key] = false
	q.attempts[key] = qp.attempts
	q.cycle++
	return qp.pod, q.cycle, true
}

// Done ends an in-flight pod's attempt without requeueing it.
func (q *schedulingQueue) Done(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(pod)
	delete(q.inFlight, key)
	delete(q.attempts, key)
}

// takeInFlightLocked ends pod's flight and returns its queue entry; ok is
// false when the pod was deleted meanwhile.
func (q *schedulingQueue) takeInFlightLocked(pod *v1.Pod) (qp *queuedPod, changed, ok bool) {
	key := podKey(pod)
	changed, ok = q.inFlight[key]
	if !ok {
		return nil, false, false
	}
	q.seq++
	qp = &queuedPod{pod: pod, index: -1, seq: q.seq, attempts: q.attempts[key] + 1}
	delete(q.inFlight, key)
	delete(q.attempts, key)
	return qp, changed, true
}

// AddUnschedulable parks an in-flight pod that fit no node in cycle,
// unless the pod or the cluster changed since, in which case it is
// retried at once.
func (q *schedulingQueue) AddUnschedulable(pod *v1.Pod, cycle int64, waitsForPods bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp, changed, ok := q.takeInFlightLocked(pod)
	if !ok {
		return
	}
	qp.waitsForPods = waitsForPods
	if changed || q.moveCycle >= cycle || waitsForPods && q.podMoveCycle >= cycle {
		q.pushActiveLocked(podKey(pod), qp)
		return
	}
	qp.since = q.clock.Now()
	q.unschedulable[podKey(pod)] = qp
}

// AddBackoff requeues an in-flight pod whose attempt failed with an
// error, after a backoff doubling from initialBackoff to maxBackoff with
// each failure.
func (q *schedulingQueue) AddBackoff(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp, _, ok := q.takeInFlightLocked(pod)
	if !ok {
		return
	}
	d := initialBackoff
	for i := 1; i < qp.attempts && d < maxBackoff; i++ {
		d *= 2
	}
	qp.readyAt = q.clock.Now().Add(min(d, maxBackoff))
	q.backoff[podKey(pod)] = qp
}

// MoveAllToActive retries every parked unschedulable pod: the cluster
// changed in a way that may let them fit.
func (q *schedulingQueue) MoveAllToActive() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for key, qp := range q.unschedulable {
		delete(q.unschedulable, key)
		q.pushActiveLocked(key, qp)
	}
	q.moveCycle = q.cycle
}

// MovePodWaitersToActive moves the unschedulable pods that a newly placed
// pod may let fit (see AddUnschedulable) to the active heap.
func (q *schedulingQueue) MovePodWaitersToActive() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for key, qp := range q.unschedulable {
		if qp.waitsForPods {
			delete(q.unschedulable, key)
			q.pushActiveLocked(key, qp)
		}
	}
	q.podMoveCycle = q.cycle
}

// Flush moves backing-off pods whose time has come, and pods parked as
// unschedulable for unschedulableTimeout, to the active heap.
func (q *schedulingQueue) Flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	for key, qp := range q.backoff {
		if !now.Before(qp.readyAt) {
			delete(q.backoff, key)
			q.pushActiveLocked(key, qp)
		}
	}
	for key, qp := range q.unschedulable {
		if now.Sub(qp.since) >= q.unschedulableTimeout {
			delete(q.unschedulable, key)
			q.pushActiveLocked(key, qp)
		}
	}
}

// Close wakes Pop for good.
func (q *schedulingQueue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}
