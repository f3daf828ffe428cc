package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// Heartbeat timing, as the kubelet's defaults.
const (
	// LeaseDuration is the Lease's leaseDurationSeconds.
	LeaseDuration = 40 * time.Second
	// RenewInterval is how often the Lease is renewed.
	RenewInterval = 10 * time.Second
	// StatusInterval is how often the machine is read and compared.
	StatusInterval = 10 * time.Second
	// ReportInterval is the longest time between two status writes.
	ReportInterval = 5 * time.Minute
)

// LeaseNamespace holds the nodes' Leases.
const LeaseNamespace = corev1.NamespaceNodeLease

// Config configures an Agent.
type Config struct {
	// Client is authenticated as the node. Required.
	Client kubernetes.Interface
	// Name is the Node's name. Required.
	Name string
	// Machine reads the host; required (ReadMachine in production).
	Machine func(ctx context.Context) (Machine, error)
	// RenewInterval, StatusInterval and ReportInterval override the
	// defaults above when non-zero.
	RenewInterval, StatusInterval, ReportInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
}

// Agent registers and heartbeats one Node.
type Agent struct {
	cfg Config
	log *slog.Logger

	// mu guards reported and reportedAt, the last status written.
	mu         sync.Mutex
	reported   *corev1.NodeStatus
	reportedAt time.Time
}

// New validates cfg.
func New(cfg Config) (*Agent, error) {
	if cfg.Client == nil || cfg.Name == "" || cfg.Machine == nil {
		return nil, errors.New("node: Client, Name and Machine are required")
	}
	if cfg.RenewInterval == 0 {
		cfg.RenewInterval = RenewInterval
	}
	if cfg.StatusInterval == 0 {
		cfg.StatusInterval = StatusInterval
	}
	if cfg.ReportInterval == 0 {
		cfg.ReportInterval = ReportInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Agent{cfg: cfg, log: cfg.Logger.With("component", "node", "node", cfg.Name)}, nil
}

// Run registers the Node, retrying until it succeeds, then keeps its
// Lease and status fresh until ctx ends. It returns nil when ctx ends,
// after its goroutines have stopped.
func (a *Agent) Run(ctx context.Context) error {
	var node *corev1.Node
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		n, err := a.register(ctx)
		if err != nil {
			a.log.Error("registering the node failed", "err", err)
			return false, nil
		}
		node = n
		return true, nil
	})
	if err != nil {
		return nil // ctx ended
	}
	a.log.Info("node registered")
	var wg sync.WaitGroup
	wg.Go(func() {
		wait.UntilWithContext(ctx, func(ctx context.Context) {
			if err := a.renewLease(ctx, node); err != nil && ctx.Err() == nil {
				a.log.Error("renewing the node lease failed", "err", err)
			}
		}, a.cfg.RenewInterval)
	})
	wg.Go(func() {
		wait.UntilWithContext(ctx, func(ctx context.Context) {
			if err := a.updateStatus(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("updating the node status failed", "err", err)
			}
		}, a.cfg.StatusInterval)
	})
	wg.Wait()
	return nil
}

// register creates the Node with its status, or returns the existing one.
func (a *Agent) register(ctx context.Context) (*corev1.Node, error) {
	m, err := a.cfg.Machine(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the machine: %w", err)
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: a.cfg.Name, Labels: map[string]string{
			corev1.LabelHostname: a.cfg.Name, corev1.LabelOSStable: runtime.GOOS, corev1.LabelArchStable: runtime.GOARCH,
			"beta.kubernetes.io/os": runtime.GOOS, "beta.kubernetes.io/arch": runtime.GOARCH,
		}},
		Status: a.status(m, nil),
	}
	created, err := a.cfg.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return a.cfg.Client.CoreV1().Nodes().Get(ctx, a.cfg.Name, metav1.GetOptions{})
	}
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.reported, a.reportedAt = created.Status.DeepCopy(), a.cfg.Now()
	a.mu.Unlock()
	return created, nil
}

// status is the Node status m gives, keeping the transition times of
// old's conditions whose status did not change.
func (a *Agent) status(m Machine, old *corev1.NodeStatus) corev1.NodeStatus {
	now := metav1.NewTime(a.cfg.Now().Truncate(time.Second))
	// cond is a condition whose status is True when on.
	cond := func(t corev1.NodeConditionType, on bool, offReason, offMsg, onReason, onMsg string) corev1.NodeCondition {
		c := corev1.NodeCondition{Type: t, Status: corev1.ConditionFalse, Reason: offReason, Message: offMsg, LastHeartbeatTime: now, LastTransitionTime: now}
		if on {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, onReason, onMsg
		}
		if old != nil {
			for _, o := range old.Conditions {
				if o.Type == t && o.Status == c.Status {
					c.LastTransitionTime = o.LastTransitionTime
				}
			}
		}
		return c
	}
	return corev1.NodeStatus{
		Capacity:    m.Capacity,
		Allocatable: m.Allocatable,
		Addresses:   m.Addresses,
		NodeInfo:    m.Info,
		DaemonEndpoints: corev1.NodeDaemonEndpoints{
			KubeletEndpoint: corev1.DaemonEndpoint{Port: m.KubeletPort},
		},
		Conditions: []corev1.NodeCondition{
			cond(corev1.NodeMemoryPressure, m.MemoryPressure, "KubeletHasSufficientMemory", "kubelet has sufficient memory available", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
			cond(corev1.NodeDiskPressure, m.DiskPressure, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", "KubeletHasDiskPressure", "kubelet has disk pressure"),
			cond(corev1.NodePIDPressure, false, "KubeletHasSufficientPID", "kubelet has sufficient PID available", "", ""),
			// Ready as soon as the agent reports; it runs no pods yet.
			cond(corev1.NodeReady, true, "", "", "KubeletReady", "kubelet is posting ready status"),
		},
	}
}

// sameStatus compares statuses but for heartbeat times.
func sameStatus(a, b *corev1.NodeStatus) bool {
	strip := func(s *corev1.NodeStatus) *corev1.NodeStatus {
		s = s.DeepCopy()
		for i := range s.Conditions {
			s.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
		return s
	}
	return apiequality.Semantic.DeepEqual(strip(a), strip(b))
}

// updateStatus writes the Node's status when the machine changed or the
// last report is ReportInterval old.
func (a *Agent) updateStatus(ctx context.Context) error {
	m, err := a.cfg.Machine(ctx)
	if err != nil {
		return fmt.Errorf("reading the machine: %w", err)
	}
	node, err := a.cfg.Client.CoreV1().Nodes().Get(ctx, a.cfg.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	want := a.status(m, &node.Status)
	a.mu.Lock()
	fresh := a.reported != nil && sameStatus(a.reported, &want) && sameStatus(&node.Status, &want) && a.cfg.Now().Sub(a.reportedAt) < a.cfg.ReportInterval
	a.mu.Unlock()
	if fresh {
		return nil
	}
	node = node.DeepCopy()
	// Keep what others write in the status (images, volumes, endpoints).
	node.Status.Capacity, node.Status.Allocatable = want.Capacity, want.Allocatable
	node.Status.Addresses, node.Status.NodeInfo, node.Status.Conditions = want.Addresses, want.NodeInfo, want.Conditions
	node.Status.DaemonEndpoints = want.DaemonEndpoints
	updated, err := a.cfg.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.reported, a.reportedAt = updated.Status.DeepCopy(), a.cfg.Now()
	a.mu.Unlock()
	return nil
}

// renewLease creates or renews the node's Lease, owned by the Node.
func (a *Agent) renewLease(ctx context.Context, node *corev1.Node) error {
	leases := a.cfg.Client.CoordinationV1().Leases(LeaseNamespace)
	now := metav1.NewMicroTime(a.cfg.Now())
	owner := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}
	lease, err := leases.Get(ctx, a.cfg.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: a.cfg.Name, Namespace: LeaseNamespace, OwnerReferences: owner},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(a.cfg.Name),
				LeaseDurationSeconds: ptr.To(int32(LeaseDuration / time.Second)),
				RenewTime:            &now,
			},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	lease = lease.DeepCopy()
	lease.Spec.RenewTime = &now
	lease.Spec.HolderIdentity = ptr.To(a.cfg.Name)
	lease.Spec.LeaseDurationSeconds = ptr.To(int32(LeaseDuration / time.Second))
	if len(lease.OwnerReferences) == 0 {
		lease.OwnerReferences = owner
	}
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}
