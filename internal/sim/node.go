package sim

import (
	"context"
	"fmt"
	"runtime"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// Versions the simulated nodes report.
const (
	KubeletVersion = "v1.37.0-berth-sim"
	RuntimeVersion = "sim://1"
)

func (s *Sim) enqueueNode(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if n, ok := obj.(*corev1.Node); ok {
		if _, ours := s.nodes[n.Name]; ours {
			s.nodeQueue.Add(n.Name)
		}
	}
}

// newNode returns the Node object n registers.
func newNode(n *node) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: n.name,
			Labels: map[string]string{
				corev1.LabelHostname:           n.name,
				corev1.LabelOSStable:           "linux",
				corev1.LabelArchStable:         runtime.GOARCH,
				corev1.LabelInstanceTypeStable: "sim",
				"type":                         "sim",
			},
		},
		Spec: corev1.NodeSpec{PodCIDR: n.podCIDR.String(), PodCIDRs: []string{n.podCIDR.String()}},
	}
}

// nodeStatus returns the status n reports at now, given the status it has:
// transition times are kept while a condition holds, and heartbeats are
// kept until statusReportInterval has passed, so an unchanged node yields
// an unchanged status between reports.
func (s *Sim) nodeStatus(n *node, have corev1.NodeStatus, now time.Time) corev1.NodeStatus {
	want := corev1.NodeStatus{
		Capacity:    s.capacity.DeepCopy(),
		Allocatable: s.capacity.DeepCopy(),
		Phase:       corev1.NodeRunning,
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: n.internal.String()},
			{Type: corev1.NodeHostName, Address: n.name},
		},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID: n.name, SystemUUID: n.name, BootID: n.name,
			KernelVersion: "sim", OSImage: "berth sim", OperatingSystem: "linux", Architecture: runtime.GOARCH,
			ContainerRuntimeVersion: RuntimeVersion, KubeletVersion: KubeletVersion,
		},
	}
	if n.port != 0 {
		want.DaemonEndpoints.KubeletEndpoint.Port = int32(n.port)
	}
	conditions := []struct {
		typ             corev1.NodeConditionType
		status          corev1.ConditionStatus
		reason, message string
	}{
		{corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"},
		{corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
		{corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"},
		{corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"},
	}
	stamp := metav1.NewTime(now)
	heartbeat := stamp
	for _, c := range have.Conditions {
		if c.Type == corev1.NodeReady && now.Sub(c.LastHeartbeatTime.Time) < statusReportInterval {
			heartbeat = c.LastHeartbeatTime
		}
	}
	for _, c := range conditions {
		cond := corev1.NodeCondition{Type: c.typ, Status: c.status, Reason: c.reason, Message: c.message,
			LastHeartbeatTime: heartbeat, LastTransitionTime: stamp}
		for _, old := range have.Conditions {
			if old.Type == c.typ && old.Status == c.status {
				cond.LastTransitionTime = old.LastTransitionTime
			}
		}
		want.Conditions = append(want.Conditions, cond)
	}
	// Anything else changed is reported at once, with a fresh heartbeat.
	if !equality.Semantic.DeepEqual(want, have) {
		for i := range want.Conditions {
			want.Conditions[i].LastHeartbeatTime = stamp
		}
	}
	return want
}

// syncNode registers the node if it is missing and reports its status when
// it changed or a report is due, then schedules the next report.
func (s *Sim) syncNode(ctx context.Context, name string) error {
	n := s.nodes[name]
	if n.isKilled() {
		return nil
	}
	cur, err := s.nodeLister.Get(name)
	if apierrors.IsNotFound(err) {
		cur, err = s.client.CoreV1().Nodes().Create(ctx, newNode(n), metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil // the informer brings it and enqueues it again
		}
		if err != nil {
			return fmt.Errorf("registering node %s: %w", name, err)
		}
	} else if err != nil {
		return err
	}
	status := s.nodeStatus(n, cur.Status, s.clock.Now())
	if !equality.Semantic.DeepEqual(status, cur.Status) {
		upd := cur.DeepCopy()
		upd.Status = status
		if _, err := s.client.CoreV1().Nodes().UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("reporting node %s status: %w", name, err)
		}
	}
	s.nodeQueue.AddAfter(name, jitter(statusReportInterval))
	return nil
}

// syncLease renews the node's Lease, creating it if it is missing, and
// schedules the next renewal. A killed node does neither; Revive
// schedules it again.
func (s *Sim) syncLease(ctx context.Context, name string) error {
	n := s.nodes[name]
	n.mu.Lock()
	killed, lease := n.killed, n.lease
	n.mu.Unlock()
	if killed {
		return nil
	}
	leases := s.client.CoordinationV1().Leases(leaseNamespace)
	if lease == nil {
		got, err := leases.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			lease = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: leaseNamespace}}
		case err != nil:
			return fmt.Errorf("reading lease %s: %w", name, err)
		default:
			lease = got
		}
	} else {
		lease = lease.DeepCopy()
	}
	now := metav1.NewMicroTime(s.clock.Now())
	lease.Spec.HolderIdentity = ptr.To(name)
	lease.Spec.LeaseDurationSeconds = ptr.To(int32(s.leaseDuration / time.Second))
	lease.Spec.RenewTime = &now
	if len(lease.OwnerReferences) == 0 {
		if node, err := s.nodeLister.Get(name); err == nil {
			lease.OwnerReferences = []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Node", Name: name, UID: node.UID,
			}}
		}
	}
	var err error
	if lease.ResourceVersion == "" {
		lease, err = leases.Create(ctx, lease, metav1.CreateOptions{})
	} else {
		lease, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	}
	if err != nil {
		n.mu.Lock()
		n.lease = nil // read it afresh on the retry
		n.mu.Unlock()
		return fmt.Errorf("renewing lease %s: %w", name, err)
	}
	n.mu.Lock()
	n.lease = lease
	n.mu.Unlock()
	s.leaseQueue.AddAfter(name, jitter(s.renewInterval()))
	return nil
}
