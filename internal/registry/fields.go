package registry

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// The functions below give each kind's selectable fields beyond
// metadata.name and metadata.namespace, keyed by the label a client puts
// in a field selector, with the value upstream's field selectors compare
// against (booleans and counts in strconv form).

func podFields(p *corev1.Pod) fields.Set {
	return fields.Set{
		"spec.nodeName":           p.Spec.NodeName,
		"spec.restartPolicy":      string(p.Spec.RestartPolicy),
		"spec.schedulerName":      p.Spec.SchedulerName,
		"spec.serviceAccountName": p.Spec.ServiceAccountName,
		"spec.hostNetwork":        strconv.FormatBool(p.Spec.HostNetwork),
		"status.phase":            string(p.Status.Phase),
		"status.podIP":            podIP(p),
		// Upstream accepts status.podIPs in a selector but never gives it a
		// value, so it compares as empty.
		"status.podIPs":            "",
		"status.nominatedNodeName": p.Status.NominatedNodeName,
	}
}

func nodeFields(n *corev1.Node) fields.Set {
	return fields.Set{"spec.unschedulable": strconv.FormatBool(n.Spec.Unschedulable)}
}

func namespaceFields(ns *corev1.Namespace) fields.Set {
	return fields.Set{"status.phase": string(ns.Status.Phase)}
}

func secretFields(s *corev1.Secret) fields.Set {
	return fields.Set{"type": string(s.Type)}
}

func serviceFields(s *corev1.Service) fields.Set {
	return fields.Set{
		"spec.clusterIP": s.Spec.ClusterIP,
		"spec.type":      string(s.Spec.Type),
	}
}

func replicationControllerFields(rc *corev1.ReplicationController) fields.Set {
	return fields.Set{"status.replicas": strconv.Itoa(int(rc.Status.Replicas))}
}

// replicaSetFields follows upstream's ReplicaSet strategy and the field
// selector documentation; upstream's apps/v1 API itself rejects the label
// (kubernetes/kubernetes#135136).
func replicaSetFields(rs *appsv1.ReplicaSet) fields.Set {
	return fields.Set{"status.replicas": strconv.Itoa(int(rs.Status.Replicas))}
}

func jobFields(j *batchv1.Job) fields.Set {
	return fields.Set{"status.successful": strconv.Itoa(int(j.Status.Succeeded))}
}

func coreEventFields(e *corev1.Event) fields.Set {
	source := e.Source.Component
	if source == "" {
		source = e.ReportingController
	}
	return fields.Set{
		"involvedObject.kind":            e.InvolvedObject.Kind,
		"involvedObject.namespace":       e.InvolvedObject.Namespace,
		"involvedObject.name":            e.InvolvedObject.Name,
		"involvedObject.uid":             string(e.InvolvedObject.UID),
		"involvedObject.apiVersion":      e.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       e.InvolvedObject.FieldPath,
		"reason":                         e.Reason,
		"reportingComponent":             e.ReportingController,
		"source":                         source,
		"type":                           e.Type,
	}
}

// eventsEventFields are the events.k8s.io/v1 spellings of the core Event
// fields that API accepts: regarding.* and reportingController.
func eventsEventFields(e *eventsv1.Event) fields.Set {
	return fields.Set{
		"regarding.kind":            e.Regarding.Kind,
		"regarding.namespace":       e.Regarding.Namespace,
		"regarding.name":            e.Regarding.Name,
		"regarding.uid":             string(e.Regarding.UID),
		"regarding.apiVersion":      e.Regarding.APIVersion,
		"regarding.resourceVersion": e.Regarding.ResourceVersion,
		"regarding.fieldPath":       e.Regarding.FieldPath,
		"reason":                    e.Reason,
		"reportingController":       e.ReportingController,
		"type":                      e.Type,
	}
}
