package registry

import (
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

const (
	// nodeRolePrefix labels a node with a role: node-role.kubernetes.io/<role>.
	nodeRolePrefix = "node-role.kubernetes.io/"
	// nodeRoleLabel is the older role label, whose value is the role.
	nodeRoleLabel = "kubernetes.io/role"
)

func nodeTable() table {
	info := corev1.NodeSystemInfo{}.SwaggerDoc()
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Status", "string", "The status of the node"),
			column("Roles", "string", "The roles of the node"),
			ageColumn(),
			column("Version", "string", info["kubeletVersion"]),
			wide(column("Internal-IP", "string", corev1.NodeStatus{}.SwaggerDoc()["addresses"])),
			wide(column("External-IP", "string", corev1.NodeStatus{}.SwaggerDoc()["addresses"])),
			wide(column("OS-Image", "string", info["osImage"])),
			wide(column("Kernel-Version", "string", info["kernelVersion"])),
			wide(column("Container-Runtime", "string", info["containerRuntimeVersion"])),
		},
		row: rowOf(func(n *corev1.Node, now time.Time) []any {
			ni := n.Status.NodeInfo
			return []any{
				n.Name, nodeStatus(n), orNone(strings.Join(nodeRoles(n), ",")), since(n.CreationTimestamp, now), ni.KubeletVersion,
				nodeAddress(n, corev1.NodeInternalIP), nodeAddress(n, corev1.NodeExternalIP),
				orUnknown(ni.OSImage), orUnknown(ni.KernelVersion), orUnknown(ni.ContainerRuntimeVersion),
			}
		}),
		fields: fieldsOf(nodeFields),
	}
}

// nodeStatus is "Ready", "NotReady" or "Unknown" (no Ready condition; the
// last one counts when there are several), followed by
// ",SchedulingDisabled" when the node is cordoned.
func nodeStatus(n *corev1.Node) string {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		status = "Not" + string(corev1.NodeReady)
		if c.Status == corev1.ConditionTrue {
			status = string(corev1.NodeReady)
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

// nodeRoles are the sorted, distinct roles named by the node's
// node-role.kubernetes.io/<role> labels and its kubernetes.io/role label.
func nodeRoles(n *corev1.Node) []string {
	roles := sets.New[string]()
	for k, v := range n.Labels {
		switch {
		case strings.HasPrefix(k, nodeRolePrefix):
			if role := strings.TrimPrefix(k, nodeRolePrefix); role != "" {
				roles.Insert(role)
			}
		case k == nodeRoleLabel && v != "":
			roles.Insert(v)
		}
	}
	return sets.List(roles)
}

// nodeAddress is the node's first address of type t, or "<none>".
func nodeAddress(n *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

func namespaceTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Status", "string", "The status of the namespace"),
			ageColumn(),
		},
		row: rowOf(func(ns *corev1.Namespace, now time.Time) []any {
			return []any{ns.Name, string(ns.Status.Phase), since(ns.CreationTimestamp, now)}
		}),
		fields: fieldsOf(namespaceFields),
	}
}

func leaseTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Holder", "string", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]),
			ageColumn(),
		},
		row: rowOf(func(l *coordinationv1.Lease, now time.Time) []any {
			var holder string
			if l.Spec.HolderIdentity != nil {
				holder = *l.Spec.HolderIdentity
			}
			return []any{l.Name, holder, since(l.CreationTimestamp, now)}
		}),
	}
}

func runtimeClassTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Handler", "string", nodev1.RuntimeClass{}.SwaggerDoc()["handler"]),
			ageColumn(),
		},
		row: rowOf(func(r *nodev1.RuntimeClass, now time.Time) []any {
			return []any{r.Name, r.Handler, since(r.CreationTimestamp, now)}
		}),
	}
}

func priorityClassTable() table {
	doc := schedulingv1.PriorityClass{}.SwaggerDoc()
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Value", "integer", doc["value"]),
			column("Global-Default", "boolean", doc["globalDefault"]),
			ageColumn(),
			column("PreemptionPolicy", "string", doc["preemptionPolicy"]),
		},
		row: rowOf(func(p *schedulingv1.PriorityClass, now time.Time) []any {
			var policy string
			if p.PreemptionPolicy != nil {
				policy = string(*p.PreemptionPolicy)
			}
			return []any{p.Name, int64(p.Value), p.GlobalDefault, since(p.CreationTimestamp, now), policy}
		}),
	}
}
