package registry

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

// kindPrinters returns the printer columns, rows and selectable fields of
// each kind, reading the wall clock for relative times such as AGE.
func kindPrinters() map[schema.GroupKind]Strategy {
	return kindPrintersAt(time.Now)
}

// kindPrintersAt is kindPrinters with the clock injected. Every Row call
// reads now() once, so relative times are those of the request, not of
// the moment the map was built.
//
// The cells follow upstream Kubernetes' server-side printers with wide
// output on (as the upstream API server always generates them): one cell
// per column, priority-1 columns included. A Row given an object of
// another type than its kind's returns nil.
func kindPrintersAt(now func() time.Time) map[schema.GroupKind]Strategy {
	out := make(map[schema.GroupKind]Strategy)
	for gk, p := range tables() {
		row := p.row
		out[gk] = Strategy{
			Columns: p.columns,
			Row:     func(obj runtime.Object) []any { return row(obj, now()) },
			Fields:  p.fields,
		}
	}
	return out
}

// table is one kind's printer: its columns, its cells at an instant, and
// its selectable fields (nil when it has none beyond the metadata ones).
type table struct {
	columns []TableColumn
	row     func(obj runtime.Object, now time.Time) []any
	fields  func(obj runtime.Object) fields.Set
}

func groupKind(group, kind string) schema.GroupKind {
	return schema.GroupKind{Group: group, Kind: kind}
}

// tables lists every kind's printer; the print_<area>.go files hold them.
func tables() map[schema.GroupKind]table {
	return map[schema.GroupKind]table{
		groupKind("", "Pod"):                                                          podTable(),
		groupKind("", "PodTemplate"):                                                  podTemplateTable(),
		groupKind("", "ReplicationController"):                                        replicationControllerTable(),
		groupKind("apps", "Deployment"):                                               deploymentTable(),
		groupKind("apps", "ReplicaSet"):                                               replicaSetTable(),
		groupKind("apps", "StatefulSet"):                                              statefulSetTable(),
		groupKind("apps", "DaemonSet"):                                                daemonSetTable(),
		groupKind("apps", "ControllerRevision"):                                       controllerRevisionTable(),
		groupKind("policy", "PodDisruptionBudget"):                                    podDisruptionBudgetTable(),
		groupKind("batch", "Job"):                                                     jobTable(),
		groupKind("batch", "CronJob"):                                                 cronJobTable(),
		groupKind("", "Service"):                                                      serviceTable(),
		groupKind("", "Endpoints"):                                                    endpointsTable(),
		groupKind("discovery.k8s.io", "EndpointSlice"):                                endpointSliceTable(),
		groupKind("networking.k8s.io", "Ingress"):                                     ingressTable(),
		groupKind("networking.k8s.io", "IngressClass"):                                ingressClassTable(),
		groupKind("networking.k8s.io", "NetworkPolicy"):                               networkPolicyTable(),
		groupKind("", "Node"):                                                         nodeTable(),
		groupKind("", "Namespace"):                                                    namespaceTable(),
		groupKind("coordination.k8s.io", "Lease"):                                     leaseTable(),
		groupKind("node.k8s.io", "RuntimeClass"):                                      runtimeClassTable(),
		groupKind("scheduling.k8s.io", "PriorityClass"):                               priorityClassTable(),
		groupKind("apiextensions.k8s.io", "CustomResourceDefinition"):                 createdAtTable(),
		groupKind("", "ConfigMap"):                                                    configMapTable(),
		groupKind("", "Secret"):                                                       secretTable(),
		groupKind("", "ServiceAccount"):                                               serviceAccountTable(),
		groupKind("", "ResourceQuota"):                                                resourceQuotaTable(),
		groupKind("", "LimitRange"):                                                   createdAtTable(),
		groupKind("", "Event"):                                                        coreEventTable(),
		groupKind("events.k8s.io", "Event"):                                           eventsEventTable(),
		groupKind("", "PersistentVolume"):                                             persistentVolumeTable(),
		groupKind("", "PersistentVolumeClaim"):                                        persistentVolumeClaimTable(),
		groupKind("storage.k8s.io", "StorageClass"):                                   storageClassTable(),
		groupKind("rbac.authorization.k8s.io", "Role"):                                createdAtTable(),
		groupKind("rbac.authorization.k8s.io", "ClusterRole"):                         createdAtTable(),
		groupKind("rbac.authorization.k8s.io", "RoleBinding"):                         roleBindingTable(),
		groupKind("rbac.authorization.k8s.io", "ClusterRoleBinding"):                  clusterRoleBindingTable(),
		groupKind("autoscaling", "HorizontalPodAutoscaler"):                           horizontalPodAutoscalerTable(),
		groupKind("admissionregistration.k8s.io", "MutatingWebhookConfiguration"):     mutatingWebhookConfigurationTable(),
		groupKind("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"):   validatingWebhookConfigurationTable(),
		groupKind("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"):        validatingAdmissionPolicyTable(),
		groupKind("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"): validatingAdmissionPolicyBindingTable(),
		groupKind("certificates.k8s.io", "CertificateSigningRequest"):                 certificateSigningRequestTable(),
	}
}

// rowOf adapts a row function of one object type; for any other type the
// row is nil.
func rowOf[T runtime.Object](f func(obj T, now time.Time) []any) func(runtime.Object, time.Time) []any {
	return func(obj runtime.Object, now time.Time) []any {
		o, ok := obj.(T)
		if !ok {
			return nil
		}
		return f(o, now)
	}
}

// fieldsOf adapts a fields function of one object type; for any other
// type the set is nil.
func fieldsOf[T runtime.Object](f func(obj T) fields.Set) func(runtime.Object) fields.Set {
	return func(obj runtime.Object) fields.Set {
		o, ok := obj.(T)
		if !ok {
			return nil
		}
		return f(o)
	}
}

// createdAtTable is the table of kinds upstream prints with its default
// converter: the name and the creation time in RFC 3339, in UTC.
func createdAtTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			{Name: "Created At", Type: "date", Description: metaDoc("creationTimestamp")},
		},
		row: func(obj runtime.Object, _ time.Time) []any {
			m, err := meta.Accessor(obj)
			if err != nil {
				return nil
			}
			return []any{m.GetName(), m.GetCreationTimestamp().UTC().Format(time.RFC3339)}
		},
	}
}

func metaDoc(field string) string { return metav1.ObjectMeta{}.SwaggerDoc()[field] }

// nameColumn is the NAME column every kind prints first (Events last).
func nameColumn() TableColumn {
	return TableColumn{Name: "Name", Type: "string", Format: "name", Description: metaDoc("name")}
}

func ageColumn() TableColumn {
	return TableColumn{Name: "Age", Type: "string", Description: metaDoc("creationTimestamp")}
}

func column(name, typ, description string) TableColumn {
	return TableColumn{Name: name, Type: typ, Description: description}
}

// wide marks a column as shown only with -o wide.
func wide(c TableColumn) TableColumn {
	c.Priority = 1
	return c
}

// containerColumns are the CONTAINERS and IMAGES columns of -o wide.
func containerColumns() []TableColumn {
	return []TableColumn{
		wide(column("Containers", "string", "Names of each container in the template.")),
		wide(column("Images", "string", "Images referenced by each container in the template.")),
	}
}

// since is the time elapsed from t to now as kubectl shows it ("5m",
// "3d4h"); "<unknown>" when t is unset.
func since(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// sinceMicro is since for a MicroTime.
func sinceMicro(t metav1.MicroTime, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// containerCells joins the names and the images of containers with commas.
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	i := make([]string, len(containers))
	for k, c := range containers {
		n[k], i[k] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(i, ",")
}

// orNone returns s, or "<none>" when s is empty.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// deref returns *p, or 0 when p is nil (what a conversion to upstream's
// internal types gives for an unset count).
func deref(p *int32) int64 {
	if p == nil {
		return 0
	}
	return int64(*p)
}
