package rbac

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"berth.dev/berth/internal/auth/bootstrap"
)

// The label and annotation every default policy object carries, as
// upstream's bootstrap policy.
const (
	BootstrapLabel      = "kubernetes.io/bootstrapping"
	BootstrapLabelValue = "rbac-defaults"
)

// Users and groups the default policy names, as upstream's user package.
const (
	KubeControllerManager = "system:kube-controller-manager"
	KubeScheduler         = "system:kube-scheduler"
	KubeProxy             = "system:kube-proxy"
	AllAuthenticated      = "system:authenticated"
	AllUnauthenticated    = "system:unauthenticated"
	MonitoringGroup       = "system:monitoring"
	ServiceAccountsGroup  = "system:serviceaccounts"
)

// The verb sets of upstream's bootstrap policy.
var (
	readVerbs      = []string{"get", "list", "watch"}
	writeVerbs     = []string{"create", "update", "patch", "delete", "deletecollection"}
	readWriteVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
	readUpdate     = []string{"get", "list", "watch", "update", "patch"}
)

const (
	legacyGroup        = ""
	appsGroup          = "apps"
	authnGroup         = "authentication.k8s.io"
	authzGroup         = "authorization.k8s.io"
	autoscalingGroup   = "autoscaling"
	batchGroup         = "batch"
	certificatesGroup  = "certificates.k8s.io"
	coordinationGroup  = "coordination.k8s.io"
	discoveryGroup     = "discovery.k8s.io"
	eventsGroup        = "events.k8s.io"
	extensionsGroup    = "extensions"
	networkingGroup    = "networking.k8s.io"
	nodeGroup          = "node.k8s.io"
	policyGroup        = "policy"
	storageGroup       = "storage.k8s.io"
	aggregateToAdmin   = "rbac.authorization.k8s.io/aggregate-to-admin"
	aggregateToEdit    = "rbac.authorization.k8s.io/aggregate-to-edit"
	aggregateToView    = "rbac.authorization.k8s.io/aggregate-to-view"
	controllerRoleName = "system:controller:"
)

// rule builds a PolicyRule: rule(verbs...).groups(...).resources(...).
type rule rbacv1.PolicyRule

func newRule(verbs ...string) rule          { return rule{Verbs: verbs} }
func (r rule) groups(g ...string) rule      { r.APIGroups = g; return r }
func (r rule) resources(res ...string) rule { r.Resources = res; return r }
func (r rule) names(n ...string) rule       { r.ResourceNames = n; return r }
func (r rule) urls(u ...string) rule        { r.NonResourceURLs = u; return r }
func rules(rs ...rule) []rbacv1.PolicyRule {
	out := make([]rbacv1.PolicyRule, len(rs))
	for i, r := range rs {
		out[i] = rbacv1.PolicyRule(r)
	}
	return out
}

// eventsRule lets a component record events.
func eventsRule() rule {
	return newRule("create", "update", "patch").groups(legacyGroup, eventsGroup).resources("events")
}

func subjectUsers(names ...string) []rbacv1.Subject {
	out := make([]rbacv1.Subject, len(names))
	for i, n := range names {
		out[i] = rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: n}
	}
	return out
}

func subjectGroups(names ...string) []rbacv1.Subject {
	out := make([]rbacv1.Subject, len(names))
	for i, n := range names {
		out[i] = rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: n}
	}
	return out
}

func subjectServiceAccount(namespace, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}
}

// defaultMeta is the metadata of a default policy object.
func defaultMeta(name, namespace string, labels map[string]string) metav1.ObjectMeta {
	l := map[string]string{BootstrapLabel: BootstrapLabelValue}
	for k, v := range labels {
		l[k] = v
	}
	return metav1.ObjectMeta{
		Name: name, Namespace: namespace, Labels: l,
		Annotations: map[string]string{rbacv1.AutoUpdateAnnotationKey: "true"},
	}
}

func clusterRole(name string, labels map[string]string, rs ...rule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: defaultMeta(name, "", labels), Rules: rules(rs...)}
}

func aggregated(name string, labels map[string]string, selectorLabel string) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{
		ObjectMeta: defaultMeta(name, "", labels),
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{
			{MatchLabels: map[string]string{selectorLabel: "true"}},
		}},
	}
}

func clusterBinding(role string, subjects ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return namedClusterBinding(role, role, subjects...)
}

func namedClusterBinding(name, role string, subjects ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: defaultMeta(name, "", nil),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   subjects,
	}
}

func role(namespace, name string, rs ...rule) *rbacv1.Role {
	return &rbacv1.Role{ObjectMeta: defaultMeta(name, namespace, nil), Rules: rules(rs...)}
}

func roleBinding(namespace, name, role string, subjects ...rbacv1.Subject) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: defaultMeta(name, namespace, nil),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role},
		Subjects:   subjects,
	}
}

// DefaultPolicy returns upstream's bootstrap policy for what berth serves
// and runs: ClusterRoles, then ClusterRoleBindings, then the Roles and
// RoleBindings of kube-system and kube-public. Each call returns new
// objects.
func DefaultPolicy() []runtime.Object {
	var out []runtime.Object
	for _, r := range clusterRoles() {
		out = append(out, r)
	}
	for _, r := range controllerRoles() {
		out = append(out, r)
	}
	for _, b := range clusterRoleBindings() {
		out = append(out, b)
	}
	for _, b := range controllerRoleBindings() {
		out = append(out, b)
	}
	return append(out, namespacePolicy()...)
}

func clusterRoles() []*rbacv1.ClusterRole {
	return []*rbacv1.ClusterRole{
		clusterRole("cluster-admin", nil,
			newRule("*").groups("*").resources("*"),
			newRule("*").urls("*")),
		clusterRole("system:discovery", nil,
			newRule("get").urls("/livez", "/readyz", "/healthz", "/version", "/version/",
				"/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*")),
		clusterRole("system:monitoring", nil,
			newRule("get").urls("/metrics", "/metrics/slis", "/livez", "/readyz", "/healthz",
				"/livez/*", "/readyz/*", "/healthz/*")),
		clusterRole("system:basic-user", nil,
			newRule("create").groups(authzGroup).resources("selfsubjectaccessreviews", "selfsubjectrulesreviews"),
			newRule("create").groups(authnGroup).resources("selfsubjectreviews")),
		clusterRole("system:public-info-viewer", nil,
			newRule("get").urls("/livez", "/readyz", "/healthz", "/version", "/version/")),
		aggregated("admin", nil, aggregateToAdmin),
		aggregated("edit", map[string]string{aggregateToAdmin: "true"}, aggregateToEdit),
		aggregated("view", map[string]string{aggregateToEdit: "true"}, aggregateToView),
		clusterRole("system:aggregate-to-admin", map[string]string{aggregateToAdmin: "true"},
			newRule("create").groups(authzGroup).resources("localsubjectaccessreviews"),
			newRule(readWriteVerbs...).groups(rbacv1.GroupName).resources("roles", "rolebindings")),
		clusterRole("system:aggregate-to-edit", map[string]string{aggregateToEdit: "true"},
			newRule(readVerbs...).groups(legacyGroup).resources("pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"),
			newRule("impersonate").groups(legacyGroup).resources("serviceaccounts"),
			newRule(writeVerbs...).groups(legacyGroup).resources("pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"),
			newRule("create").groups(legacyGroup).resources("pods/eviction"),
			newRule(writeVerbs...).groups(legacyGroup).resources("replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
				"services", "services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events"),
			newRule("create").groups(legacyGroup).resources("serviceaccounts/token"),
			newRule(writeVerbs...).groups(appsGroup).resources("statefulsets", "statefulsets/scale", "daemonsets",
				"deployments", "deployments/scale", "deployments/rollback", "replicasets", "replicasets/scale"),
			newRule(writeVerbs...).groups(autoscalingGroup).resources("horizontalpodautoscalers"),
			newRule(writeVerbs...).groups(batchGroup).resources("jobs", "cronjobs"),
			newRule(writeVerbs...).groups(extensionsGroup).resources("daemonsets", "deployments", "deployments/scale", "deployments/rollback",
				"ingresses", "replicasets", "replicasets/scale", "replicationcontrollers/scale", "networkpolicies"),
			newRule(writeVerbs...).groups(policyGroup).resources("poddisruptionbudgets"),
			newRule(writeVerbs...).groups(networkingGroup).resources("networkpolicies", "ingresses")),
		clusterRole("system:aggregate-to-view", map[string]string{aggregateToView: "true"},
			newRule(readVerbs...).groups(legacyGroup).resources("pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
				"services", "services/status", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps"),
			newRule(readVerbs...).groups(legacyGroup).resources("limitranges", "resourcequotas", "bindings", "events",
				"pods/status", "resourcequotas/status", "namespaces/status", "replicationcontrollers/status", "pods/log"),
			newRule(readVerbs...).groups(legacyGroup).resources("namespaces"),
			newRule(readVerbs...).groups(discoveryGroup).resources("endpointslices"),
			newRule(readVerbs...).groups(appsGroup).resources("controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale",
				"daemonsets", "daemonsets/status", "deployments", "deployments/status", "deployments/scale",
				"replicasets", "replicasets/status", "replicasets/scale"),
			newRule(readVerbs...).groups(autoscalingGroup).resources("horizontalpodautoscalers", "horizontalpodautoscalers/status"),
			newRule(readVerbs...).groups(batchGroup).resources("jobs", "cronjobs", "cronjobs/status", "jobs/status"),
			newRule(readVerbs...).groups(extensionsGroup).resources("daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
				"ingresses", "ingresses/status", "replicasets", "replicasets/scale", "replicasets/status", "replicationcontrollers/scale", "networkpolicies"),
			newRule(readVerbs...).groups(policyGroup).resources("poddisruptionbudgets", "poddisruptionbudgets/status"),
			newRule(readVerbs...).groups(networkingGroup).resources("networkpolicies", "ingresses", "ingresses/status")),
		// metrics-server's reader role: berth serves metrics.k8s.io itself,
		// and whoever may view a namespace may read its usage.
		clusterRole("system:aggregated-metrics-reader", map[string]string{aggregateToView: "true", aggregateToEdit: "true", aggregateToAdmin: "true"},
			newRule("get", "list", "watch").groups("metrics.k8s.io").resources("pods", "nodes")),
		clusterRole("system:node", nil,
			newRule("create").groups(authnGroup).resources("tokenreviews"),
			newRule("create").groups(authzGroup).resources("subjectaccessreviews", "localsubjectaccessreviews"),
			newRule(readVerbs...).groups(legacyGroup).resources("services"),
			newRule("create", "get", "list", "watch").groups(legacyGroup).resources("nodes"),
			newRule("update", "patch").groups(legacyGroup).resources("nodes/status"),
			newRule("update", "patch").groups(legacyGroup).resources("nodes"),
			newRule("create", "update", "patch").groups(legacyGroup).resources("events"),
			newRule(readVerbs...).groups(legacyGroup).resources("pods"),
			newRule("create", "delete").groups(legacyGroup).resources("pods"),
			newRule("update", "patch").groups(legacyGroup).resources("pods/status"),
			newRule("create").groups(legacyGroup).resources("pods/eviction"),
			newRule(readVerbs...).groups(legacyGroup).resources("configmaps", "secrets"),
			newRule("get").groups(legacyGroup).resources("persistentvolumeclaims", "persistentvolumes"),
			newRule("get").groups(legacyGroup).resources("endpoints"),
			newRule("create", "get", "list", "watch").groups(certificatesGroup).resources("certificatesigningrequests"),
			newRule("get", "create", "update", "patch", "delete").groups(coordinationGroup).resources("leases"),
			newRule("get").groups(storageGroup).resources("volumeattachments"),
			newRule("create").groups(legacyGroup).resources("serviceaccounts/token"),
			newRule("get", "update", "patch").groups(legacyGroup).resources("persistentvolumeclaims/status"),
			newRule("get", "watch", "list").groups(storageGroup).resources("csidrivers"),
			newRule("get", "create", "update", "patch", "delete").groups(storageGroup).resources("csinodes"),
			newRule(readVerbs...).groups(nodeGroup).resources("runtimeclasses")),
		clusterRole("system:node-problem-detector", nil,
			newRule("get").groups(legacyGroup).resources("nodes"),
			newRule("patch").groups(legacyGroup).resources("nodes/status"),
			eventsRule()),
		clusterRole("system:kubelet-api-admin", nil,
			newRule("get", "list", "watch").groups(legacyGroup).resources("nodes"),
			newRule("proxy").groups(legacyGroup).resources("nodes"),
			newRule("*").groups(legacyGroup).resources("nodes/proxy", "nodes/metrics", "nodes/stats", "nodes/log", "nodes/configz", "nodes/healthz", "nodes/pods")),
		clusterRole("system:kube-dns", nil,
			newRule("list", "watch").groups(legacyGroup).resources("endpoints", "services")),
		clusterRole("system:persistent-volume-provisioner", nil,
			newRule("get", "list", "watch", "create", "delete").groups(legacyGroup).resources("persistentvolumes"),
			newRule("get", "list", "watch", "update").groups(legacyGroup).resources("persistentvolumeclaims"),
			newRule(readVerbs...).groups(storageGroup).resources("storageclasses"),
			newRule("watch").groups(legacyGroup).resources("events"),
			eventsRule()),
		clusterRole("system:node-bootstrapper", nil,
			newRule("create", "get", "list", "watch").groups(certificatesGroup).resources("certificatesigningrequests")),
		clusterRole("system:auth-delegator", nil,
			newRule("create").groups(authnGroup).resources("tokenreviews"),
			newRule("create").groups(authzGroup).resources("subjectaccessreviews")),
		clusterRole("system:kube-controller-manager", nil,
			eventsRule(),
			newRule("create").groups(coordinationGroup).resources("leases"),
			newRule("get", "update").groups(coordinationGroup).resources("leases").names("kube-controller-manager"),
			newRule("create").groups(legacyGroup).resources("secrets", "serviceaccounts"),
			newRule("delete").groups(legacyGroup).resources("secrets"),
			newRule("get").groups(legacyGroup).resources("namespaces", "secrets", "serviceaccounts", "configmaps"),
			newRule("update").groups(legacyGroup).resources("secrets", "serviceaccounts"),
			newRule("create").groups(authnGroup).resources("tokenreviews"),
			newRule("create").groups(authzGroup).resources("subjectaccessreviews"),
			newRule("list", "watch").groups("*").resources("*"),
			newRule("create").groups(legacyGroup).resources("serviceaccounts/token")),
		clusterRole("system:kube-scheduler", nil,
			eventsRule(),
			newRule("create").groups(coordinationGroup).resources("leases"),
			newRule("get", "update").groups(coordinationGroup).resources("leases").names("kube-scheduler"),
			newRule(readVerbs...).groups(legacyGroup).resources("nodes"),
			newRule("get", "list", "watch", "delete").groups(legacyGroup).resources("pods"),
			newRule("create").groups(legacyGroup).resources("pods/binding", "bindings"),
			newRule("patch", "update").groups(legacyGroup).resources("pods/status"),
			newRule(readVerbs...).groups(legacyGroup).resources("services", "replicationcontrollers"),
			newRule(readVerbs...).groups(appsGroup, extensionsGroup).resources("replicasets"),
			newRule(readVerbs...).groups(appsGroup).resources("statefulsets"),
			newRule(readVerbs...).groups(policyGroup).resources("poddisruptionbudgets"),
			newRule(readVerbs...).groups(legacyGroup).resources("persistentvolumeclaims", "persistentvolumes"),
			newRule("create").groups(authnGroup).resources("tokenreviews"),
			newRule("create").groups(authzGroup).resources("subjectaccessreviews"),
			newRule(readVerbs...).groups(storageGroup).resources("csinodes"),
			newRule(readVerbs...).groups(legacyGroup).resources("namespaces"),
			newRule(readVerbs...).groups(storageGroup).resources("csidrivers"),
			newRule(readVerbs...).groups(storageGroup).resources("csistoragecapacities")),
		clusterRole("system:volume-scheduler", nil,
			newRule(readUpdate...).groups(legacyGroup).resources("persistentvolumes"),
			newRule(readVerbs...).groups(storageGroup).resources("storageclasses"),
			newRule(readUpdate...).groups(legacyGroup).resources("persistentvolumeclaims")),
		clusterRole("system:node-proxier", nil,
			newRule("list", "watch").groups(legacyGroup).resources("services", "endpoints"),
			newRule(readVerbs...).groups(legacyGroup).resources("nodes"),
			eventsRule(),
			newRule("list", "watch").groups(discoveryGroup).resources("endpointslices")),
		clusterRole("system:certificates.k8s.io:certificatesigningrequests:nodeclient", nil,
			newRule("create").groups(certificatesGroup).resources("certificatesigningrequests/nodeclient")),
		clusterRole("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", nil,
			newRule("create").groups(certificatesGroup).resources("certificatesigningrequests/selfnodeclient")),
		clusterRole("system:certificates.k8s.io:legacy-unknown-approver", nil,
			newRule("approve").groups(certificatesGroup).resources("signers").names("kubernetes.io/legacy-unknown")),
		clusterRole("system:certificates.k8s.io:kubelet-serving-approver", nil,
			newRule("approve").groups(certificatesGroup).resources("signers").names("kubernetes.io/kubelet-serving")),
		clusterRole("system:certificates.k8s.io:kube-apiserver-client-approver", nil,
			newRule("approve").groups(certificatesGroup).resources("signers").names("kubernetes.io/kube-apiserver-client")),
		clusterRole("system:certificates.k8s.io:kube-apiserver-client-kubelet-approver", nil,
			newRule("approve").groups(certificatesGroup).resources("signers").names("kubernetes.io/kube-apiserver-client-kubelet")),
		clusterRole("system:service-account-issuer-discovery", nil,
			newRule("get").urls("/.well-known/openid-configuration", "/.well-known/openid-configuration/", "/openid/v1/jwks", "/openid/v1/jwks/")),
	}
}

func clusterRoleBindings() []*rbacv1.ClusterRoleBinding {
	return []*rbacv1.ClusterRoleBinding{
		clusterBinding("cluster-admin", subjectGroups("system:masters")...),
		clusterBinding("system:monitoring", subjectGroups(MonitoringGroup)...),
		clusterBinding("system:discovery", subjectGroups(AllAuthenticated)...),
		clusterBinding("system:basic-user", subjectGroups(AllAuthenticated)...),
		clusterBinding("system:public-info-viewer", subjectGroups(AllAuthenticated, AllUnauthenticated)...),
		clusterBinding("system:node-proxier", subjectUsers(KubeProxy)...),
		clusterBinding("system:kube-controller-manager", subjectUsers(KubeControllerManager)...),
		clusterBinding("system:kube-dns", subjectServiceAccount(metav1.NamespaceSystem, "kube-dns")),
		clusterBinding("system:kube-scheduler", subjectUsers(KubeScheduler)...),
		clusterBinding("system:volume-scheduler", subjectUsers(KubeScheduler)...),
		// Upstream keeps this binding without subjects: the Node authorizer
		// decides for nodes.
		clusterBinding("system:node"),
		clusterBinding("system:service-account-issuer-discovery", subjectGroups(ServiceAccountsGroup)...),
		// Joining machines, as kubeadm binds them: bootstrap tokens may ask
		// for a node client certificate, which is approved automatically,
		// and nodes may renew their own.
		namedClusterBinding("berth:node-bootstrapper", "system:node-bootstrapper", subjectGroups(bootstrap.NodeGroup)...),
		namedClusterBinding("berth:node-autoapprove-bootstrap", "system:certificates.k8s.io:certificatesigningrequests:nodeclient", subjectGroups(bootstrap.NodeGroup)...),
		namedClusterBinding("berth:node-autoapprove-certificate-rotation", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", subjectGroups("system:nodes")...),
	}
}

// namespacePolicy is upstream's Roles and RoleBindings of kube-system and
// kube-public.
func namespacePolicy() []runtime.Object {
	const sys, public = metav1.NamespaceSystem, metav1.NamespacePublic
	sa := func(name string) rbacv1.Subject { return subjectServiceAccount(sys, name) }
	return []runtime.Object{
		role(sys, "extension-apiserver-authentication-reader",
			newRule(readVerbs...).groups(legacyGroup).resources("configmaps").names("extension-apiserver-authentication")),
		role(sys, "system::leader-locking-kube-controller-manager",
			newRule("watch").groups(legacyGroup).resources("configmaps"),
			newRule("get", "update").groups(legacyGroup).resources("configmaps").names("kube-controller-manager")),
		role(sys, "system::leader-locking-kube-scheduler",
			newRule("watch").groups(legacyGroup).resources("configmaps"),
			newRule("get", "update").groups(legacyGroup).resources("configmaps").names("kube-scheduler")),
		role(sys, controllerRoleName+"bootstrap-signer",
			newRule(readVerbs...).groups(legacyGroup).resources("secrets")),
		role(sys, controllerRoleName+"cloud-provider",
			newRule("create", "get", "list", "watch").groups(legacyGroup).resources("configmaps")),
		role(sys, controllerRoleName+"token-cleaner",
			newRule("delete", "get", "list", "watch").groups(legacyGroup).resources("secrets"),
			eventsRule()),
		role(public, controllerRoleName+"bootstrap-signer",
			newRule(readVerbs...).groups(legacyGroup).resources("configmaps"),
			newRule("update").groups(legacyGroup).resources("configmaps").names("cluster-info"),
			eventsRule()),
		roleBinding(sys, "system::extension-apiserver-authentication-reader", "extension-apiserver-authentication-reader",
			subjectUsers(KubeControllerManager, KubeScheduler)...),
		roleBinding(sys, "system::leader-locking-kube-controller-manager", "system::leader-locking-kube-controller-manager",
			append(subjectUsers(KubeControllerManager), sa("kube-controller-manager"))...),
		roleBinding(sys, "system::leader-locking-kube-scheduler", "system::leader-locking-kube-scheduler",
			append(subjectUsers(KubeScheduler), sa("kube-scheduler"))...),
		roleBinding(sys, controllerRoleName+"bootstrap-signer", controllerRoleName+"bootstrap-signer", sa("bootstrap-signer")),
		roleBinding(sys, controllerRoleName+"cloud-provider", controllerRoleName+"cloud-provider", sa("cloud-provider")),
		roleBinding(sys, controllerRoleName+"token-cleaner", controllerRoleName+"token-cleaner", sa("token-cleaner")),
		roleBinding(public, controllerRoleName+"bootstrap-signer", controllerRoleName+"bootstrap-signer", sa("bootstrap-signer")),
	}
}
