package registry

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func replicationControllerTable() table {
	return table{
		columns: append([]TableColumn{
			nameColumn(),
			column("Desired", "integer", corev1.ReplicationControllerSpec{}.SwaggerDoc()["replicas"]),
			column("Current", "integer", corev1.ReplicationControllerStatus{}.SwaggerDoc()["replicas"]),
			column("Ready", "integer", corev1.ReplicationControllerStatus{}.SwaggerDoc()["readyReplicas"]),
			ageColumn(),
		}, append(containerColumns(),
			wide(column("Selector", "string", corev1.ReplicationControllerSpec{}.SwaggerDoc()["selector"])))...),
		row: rowOf(func(rc *corev1.ReplicationController, now time.Time) []any {
			var containers []corev1.Container
			if rc.Spec.Template != nil {
				containers = rc.Spec.Template.Spec.Containers
			}
			names, images := containerCells(containers)
			return []any{
				rc.Name, deref(rc.Spec.Replicas), int64(rc.Status.Replicas), int64(rc.Status.ReadyReplicas),
				since(rc.CreationTimestamp, now), names, images, labels.FormatLabels(rc.Spec.Selector),
			}
		}),
		fields: fieldsOf(replicationControllerFields),
	}
}

func deploymentTable() table {
	return table{
		columns: append([]TableColumn{
			nameColumn(),
			column("Ready", "string", "Number of the pod with ready state"),
			column("Up-to-date", "string", appsv1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"]),
			column("Available", "string", appsv1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"]),
			ageColumn(),
		}, append(containerColumns(),
			wide(column("Selector", "string", appsv1.DeploymentSpec{}.SwaggerDoc()["selector"])))...),
		row: rowOf(func(d *appsv1.Deployment, now time.Time) []any {
			names, images := containerCells(d.Spec.Template.Spec.Containers)
			selector := "<invalid>"
			if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
				selector = s.String()
			}
			return []any{
				d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, deref(d.Spec.Replicas)),
				int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas),
				since(d.CreationTimestamp, now), names, images, selector,
			}
		}),
	}
}

func replicaSetTable() table {
	return table{
		columns: append([]TableColumn{
			nameColumn(),
			column("Desired", "integer", appsv1.ReplicaSetSpec{}.SwaggerDoc()["replicas"]),
			column("Current", "integer", appsv1.ReplicaSetStatus{}.SwaggerDoc()["replicas"]),
			column("Ready", "integer", appsv1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"]),
			ageColumn(),
		}, append(containerColumns(),
			wide(column("Selector", "string", appsv1.ReplicaSetSpec{}.SwaggerDoc()["selector"])))...),
		row: rowOf(func(rs *appsv1.ReplicaSet, now time.Time) []any {
			names, images := containerCells(rs.Spec.Template.Spec.Containers)
			return []any{
				rs.Name, deref(rs.Spec.Replicas), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
				since(rs.CreationTimestamp, now), names, images, metav1.FormatLabelSelector(rs.Spec.Selector),
			}
		}),
		fields: fieldsOf(replicaSetFields),
	}
}

func statefulSetTable() table {
	return table{
		columns: append([]TableColumn{
			nameColumn(),
			column("Ready", "string", "Number of the pod with ready state"),
			ageColumn(),
		}, containerColumns()...),
		row: rowOf(func(s *appsv1.StatefulSet, now time.Time) []any {
			names, images := containerCells(s.Spec.Template.Spec.Containers)
			return []any{
				s.Name, fmt.Sprintf("%d/%d", s.Status.ReadyReplicas, deref(s.Spec.Replicas)),
				since(s.CreationTimestamp, now), names, images,
			}
		}),
	}
}

func daemonSetTable() table {
	return table{
		columns: append([]TableColumn{
			nameColumn(),
			column("Desired", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["desiredNumberScheduled"]),
			column("Current", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["currentNumberScheduled"]),
			column("Ready", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["numberReady"]),
			column("Up-to-date", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["updatedNumberScheduled"]),
			column("Available", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["numberAvailable"]),
			column("Node Selector", "string", corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]),
			ageColumn(),
		}, append(containerColumns(),
			wide(column("Selector", "string", appsv1.DaemonSetSpec{}.SwaggerDoc()["selector"])))...),
		row: rowOf(func(d *appsv1.DaemonSet, now time.Time) []any {
			names, images := containerCells(d.Spec.Template.Spec.Containers)
			st := d.Status
			return []any{
				d.Name, int64(st.DesiredNumberScheduled), int64(st.CurrentNumberScheduled), int64(st.NumberReady),
				int64(st.UpdatedNumberScheduled), int64(st.NumberAvailable),
				labels.FormatLabels(d.Spec.Template.Spec.NodeSelector), since(d.CreationTimestamp, now),
				names, images, metav1.FormatLabelSelector(d.Spec.Selector),
			}
		}),
	}
}

func controllerRevisionTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Controller", "string", "Controller of the object"),
			column("Revision", "string", appsv1.ControllerRevision{}.SwaggerDoc()["revision"]),
			ageColumn(),
		},
		row: rowOf(func(r *appsv1.ControllerRevision, now time.Time) []any {
			return []any{r.Name, controllerName(r), r.Revision, since(r.CreationTimestamp, now)}
		}),
	}
}

// controllerName is "<kind>.<group>/<name>" of the object's controller in
// lower case ("statefulset.apps/web"), or "<none>". An owner reference
// whose apiVersion does not parse shows its bare name.
func controllerName(obj metav1.Object) string {
	ref := metav1.GetControllerOfNoCopy(obj)
	if ref == nil {
		return "<none>"
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return ref.Name
	}
	kind := gv.WithKind(ref.Kind).GroupKind()
	if kind.Empty() {
		return ref.Name
	}
	return strings.ToLower(kind.String()) + "/" + ref.Name
}

func podDisruptionBudgetTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Min Available", "string", "The minimum number of pods that must be available."),
			column("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
			column("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
			ageColumn(),
		},
		row: rowOf(func(p *policyv1.PodDisruptionBudget, now time.Time) []any {
			minAvailable, maxUnavailable := "N/A", "N/A"
			if p.Spec.MinAvailable != nil {
				minAvailable = p.Spec.MinAvailable.String()
			}
			if p.Spec.MaxUnavailable != nil {
				maxUnavailable = p.Spec.MaxUnavailable.String()
			}
			return []any{p.Name, minAvailable, maxUnavailable, int64(p.Status.DisruptionsAllowed), since(p.CreationTimestamp, now)}
		}),
	}
}
