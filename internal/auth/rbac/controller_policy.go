package rbac

import (
	certificatesv1 "k8s.io/api/certificates/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// controllerRoles are upstream's system:controller:* roles of the
// controllers berth runs, each named for the controller's ServiceAccount
// in kube-system.
func controllerRoles() []*rbacv1.ClusterRole {
	c := func(name string, rs ...rule) *rbacv1.ClusterRole {
		return clusterRole(controllerRoleName+name, nil, rs...)
	}
	return []*rbacv1.ClusterRole{
		c("certificate-controller",
			newRule("delete", "get", "list", "watch").groups(certificatesGroup).resources("certificatesigningrequests"),
			newRule("update").groups(certificatesGroup).resources("certificatesigningrequests/approval", "certificatesigningrequests/status"),
			newRule("approve").groups(certificatesGroup).resources("signers").names(certificatesv1.KubeAPIServerClientKubeletSignerName, certificatesv1.KubeletServingSignerName),
			newRule("sign").groups(certificatesGroup).resources("signers").names(certificatesv1.KubeAPIServerClientSignerName, certificatesv1.KubeAPIServerClientKubeletSignerName, certificatesv1.KubeletServingSignerName),
			newRule("create").groups(authzGroup).resources("subjectaccessreviews"),
			eventsRule()),
		c("clusterrole-aggregation-controller",
			newRule("escalate", "get", "list", "watch", "update", "patch").groups(rbacv1.GroupName).resources("clusterroles")),
		c("cronjob-controller",
			newRule("get", "list", "watch", "update").groups(batchGroup).resources("cronjobs"),
			newRule("get", "list", "watch", "create", "update", "delete", "patch").groups(batchGroup).resources("jobs"),
			newRule("update").groups(batchGroup).resources("cronjobs/status"),
			newRule("update").groups(batchGroup).resources("cronjobs/finalizers"),
			newRule("list", "delete").groups(legacyGroup).resources("pods"),
			eventsRule()),
		c("daemon-set-controller",
			newRule("get", "list", "watch").groups(appsGroup, extensionsGroup).resources("daemonsets"),
			newRule("update").groups(appsGroup, extensionsGroup).resources("daemonsets/status"),
			newRule("update").groups(appsGroup, extensionsGroup).resources("daemonsets/finalizers"),
			newRule("list", "watch").groups(legacyGroup).resources("nodes"),
			newRule("list", "watch", "create", "delete", "patch").groups(legacyGroup).resources("pods"),
			newRule("get", "list", "watch", "create", "delete", "update", "patch").groups(appsGroup).resources("controllerrevisions"),
			eventsRule()),
		c("disruption-controller",
			newRule("get", "list", "watch").groups(appsGroup, extensionsGroup).resources("deployments", "replicasets", "statefulsets"),
			newRule("get", "list", "watch").groups(legacyGroup).resources("replicationcontrollers"),
			newRule("get", "list", "watch").groups(policyGroup).resources("poddisruptionbudgets"),
			newRule("update").groups(policyGroup).resources("poddisruptionbudgets/status"),
			newRule("get").groups("*").resources("*/scale"),
			newRule("patch", "update").groups(legacyGroup).resources("pods/status"),
			eventsRule()),
		c("deployment-controller",
			newRule("get", "list", "watch", "update").groups(appsGroup, extensionsGroup).resources("deployments"),
			newRule("update").groups(appsGroup, extensionsGroup).resources("deployments/status"),
			newRule("update").groups(appsGroup, extensionsGroup).resources("deployments/finalizers"),
			newRule("get", "list", "watch", "create", "update", "patch", "delete").groups(appsGroup, extensionsGroup).resources("replicasets"),
			newRule("get", "list", "watch", "update").groups(legacyGroup).resources("pods"),
			eventsRule()),
		c("endpoint-controller",
			newRule("get", "list", "watch").groups(legacyGroup).resources("services", "pods"),
			newRule("get", "list", "create", "update", "delete").groups(legacyGroup).resources("endpoints"),
			newRule("create").groups(legacyGroup).resources("endpoints/restricted"),
			eventsRule()),
		c("endpointslice-controller",
			newRule("get", "list", "watch").groups(legacyGroup).resources("services", "pods", "nodes"),
			newRule("update").groups(legacyGroup).resources("services/finalizers"),
			newRule("get", "list", "create", "update", "delete").groups(discoveryGroup).resources("endpointslices"),
			eventsRule()),
		c("generic-garbage-collector",
			newRule("get", "list", "watch", "patch", "update", "delete").groups("*").resources("*")),
		c("horizontal-pod-autoscaler",
			newRule("get", "list", "watch").groups(autoscalingGroup).resources("horizontalpodautoscalers"),
			newRule("update").groups(autoscalingGroup).resources("horizontalpodautoscalers/status"),
			newRule("get", "update").groups("*").resources("*/scale"),
			newRule("list").groups(legacyGroup).resources("pods"),
			newRule("list").groups("metrics.k8s.io").resources("pods"),
			newRule("get", "list").groups("custom.metrics.k8s.io").resources("*"),
			newRule("get", "list").groups("external.metrics.k8s.io").resources("*"),
			eventsRule()),
		c("job-controller",
			newRule("get", "list", "watch", "update", "patch").groups(batchGroup).resources("jobs"),
			newRule("update", "patch").groups(batchGroup).resources("jobs/status"),
			newRule("update").groups(batchGroup).resources("jobs/finalizers"),
			newRule("list", "watch", "create", "delete", "patch").groups(legacyGroup).resources("pods"),
			eventsRule()),
		c("node-controller",
			newRule("get", "list", "update", "delete", "patch").groups(legacyGroup).resources("nodes"),
			newRule("patch", "update").groups(legacyGroup).resources("nodes/status"),
			newRule("patch", "update").groups(legacyGroup).resources("pods/status"),
			newRule("list", "delete").groups(legacyGroup).resources("pods"),
			eventsRule()),
		c("persistent-volume-binder",
			newRule("get", "list", "watch", "create", "update", "delete").groups(legacyGroup).resources("persistentvolumes"),
			newRule("update").groups(legacyGroup).resources("persistentvolumes/status"),
			newRule("get", "list", "watch", "update").groups(legacyGroup).resources("persistentvolumeclaims"),
			newRule("update").groups(legacyGroup).resources("persistentvolumeclaims/status"),
			newRule("get", "list", "watch").groups(legacyGroup).resources("pods", "nodes"),
			// berth's built-in local-path provisioner ensures its default class.
			newRule("get", "list", "watch", "create").groups(storageGroup).resources("storageclasses"),
			eventsRule()),
		c("pod-garbage-collector",
			newRule("list", "watch", "delete").groups(legacyGroup).resources("pods"),
			newRule("get", "list", "watch").groups(legacyGroup).resources("nodes"),
			newRule("patch").groups(legacyGroup).resources("pods/status")),
		c("namespace-controller",
			newRule("get", "list", "watch", "delete").groups(legacyGroup).resources("namespaces"),
			newRule("update").groups(legacyGroup).resources("namespaces/finalize", "namespaces/status"),
			newRule("get", "list", "delete", "deletecollection").groups("*").resources("*")),
		c("pv-protection-controller",
			newRule("get", "list", "watch", "update", "patch").groups(legacyGroup).resources("persistentvolumes"),
			eventsRule()),
		c("pvc-protection-controller",
			newRule("get", "list", "watch", "update", "patch").groups(legacyGroup).resources("persistentvolumeclaims"),
			newRule("get", "list", "watch").groups(legacyGroup).resources("pods"),
			eventsRule()),
		c("replicaset-controller",
			newRule("get", "list", "watch", "update").groups(appsGroup, extensionsGroup).resources("replicasets"),
			newRule("update").groups(appsGroup, extensionsGroup).resources("replicasets/status"),
			newRule("update").groups(appsGroup, extensionsGroup).resources("replicasets/finalizers"),
			newRule("list", "watch", "patch", "create", "delete").groups(legacyGroup).resources("pods"),
			eventsRule()),
		c("replication-controller",
			newRule("get", "list", "watch", "update").groups(legacyGroup).resources("replicationcontrollers"),
			newRule("update").groups(legacyGroup).resources("replicationcontrollers/status"),
			newRule("update").groups(legacyGroup).resources("replicationcontrollers/finalizers"),
			newRule("list", "watch", "patch", "create", "delete").groups(legacyGroup).resources("pods"),
			eventsRule()),
		c("resourcequota-controller",
			newRule("list", "watch").groups("*").resources("*"),
			newRule("update").groups(legacyGroup).resources("resourcequotas/status"),
			eventsRule()),
		c("root-ca-cert-publisher",
			newRule("create", "update").groups(legacyGroup).resources("configmaps"),
			eventsRule()),
		c("statefulset-controller",
			newRule("list", "watch").groups(legacyGroup).resources("pods"),
			newRule("get", "list", "watch").groups(appsGroup).resources("statefulsets"),
			newRule("update").groups(appsGroup).resources("statefulsets/status"),
			newRule("update").groups(appsGroup).resources("statefulsets/finalizers"),
			newRule("get", "create", "delete", "update", "patch").groups(legacyGroup).resources("pods"),
			newRule("get", "list", "watch", "create", "delete", "update", "patch").groups(appsGroup).resources("controllerrevisions"),
			newRule("get", "create").groups(legacyGroup).resources("persistentvolumeclaims"),
			newRule("update", "patch").groups(legacyGroup).resources("persistentvolumeclaims"),
			eventsRule()),
		c("ttl-after-finished-controller",
			newRule("get", "list", "watch", "delete").groups(batchGroup).resources("jobs"),
			eventsRule()),
		c("service-account-controller",
			newRule("create").groups(legacyGroup).resources("serviceaccounts"),
			eventsRule()),
	}
}

// controllerRoleBindings bind each controller role to the controller's
// ServiceAccount, as upstream, and to system:kube-controller-manager:
// berth runs every controller under that one identity, as upstream's
// controller manager does without --use-service-account-credentials.
func controllerRoleBindings() []*rbacv1.ClusterRoleBinding {
	var out []*rbacv1.ClusterRoleBinding
	for _, r := range controllerRoles() {
		sa := r.Name[len(controllerRoleName):]
		out = append(out, clusterBinding(r.Name,
			subjectServiceAccount(metav1.NamespaceSystem, sa),
			rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: KubeControllerManager}))
	}
	return out
}
