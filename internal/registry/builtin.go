package registry

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Builtin returns the built-in resources berth serves, each with its
// Strategy. Kinds served in several versions appear once per version.
func Builtin() []Resource {
	checks, printers := kindChecks(), kindPrinters()
	var out []Resource
	for _, r := range builtinResources() {
		gk := schema.GroupKind{Group: r.Group, Kind: r.Kind}
		c, p := checks[gk], printers[gk]
		r.Strategy = Strategy{
			Default:        c.Default,
			Validate:       c.Validate,
			ValidateUpdate: c.ValidateUpdate,
			Columns:        p.Columns,
			Row:            p.Row,
			Fields:         p.Fields,
		}
		out = append(out, r)
	}
	return out
}

func res(group, version, resource, kind, singular string, namespaced bool) Resource {
	return Resource{
		GroupVersionResource: schema.GroupVersionResource{Group: group, Version: version, Resource: resource},
		Kind:                 kind,
		Singular:             singular,
		Namespaced:           namespaced,
	}
}

func (r Resource) short(names ...string) Resource { r.ShortNames = names; return r }
func (r Resource) cat(names ...string) Resource   { r.Categories = names; return r }
func (r Resource) status() Resource               { r.Status = true; return r }
func (r Resource) scale() Resource                { r.Scale = true; return r }
func (r Resource) verbs(v ...string) Resource     { r.Verbs = v; return r }
func (r Resource) convert(c *Conversion) Resource { r.Convert = c; return r }
func (r Resource) ephemeral() Resource {
	r.Ephemeral, r.Verbs = true, []string{"create"}
	return r
}

const (
	namespaced = true
	cluster    = false
)

func builtinResources() []Resource {
	all := []string{"all"}
	return []Resource{
		// core/v1
		res("", "v1", "namespaces", "Namespace", "namespace", cluster).short("ns").status().verbs("create", "delete", "get", "list", "patch", "update", "watch"),
		res("", "v1", "pods", "Pod", "pod", namespaced).short("po").cat(all...).status(),
		res("", "v1", "services", "Service", "service", namespaced).short("svc").cat(all...).status().verbs("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
		res("", "v1", "endpoints", "Endpoints", "endpoints", namespaced).short("ep"),
		res("", "v1", "configmaps", "ConfigMap", "configmap", namespaced).short("cm"),
		res("", "v1", "secrets", "Secret", "secret", namespaced),
		res("", "v1", "serviceaccounts", "ServiceAccount", "serviceaccount", namespaced).short("sa"),
		res("", "v1", "nodes", "Node", "node", cluster).short("no").status(),
		res("", "v1", "events", "Event", "event", namespaced).short("ev"),
		res("", "v1", "persistentvolumes", "PersistentVolume", "persistentvolume", cluster).short("pv").status(),
		res("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", "persistentvolumeclaim", namespaced).short("pvc").status(),
		res("", "v1", "resourcequotas", "ResourceQuota", "resourcequota", namespaced).short("quota").status(),
		res("", "v1", "limitranges", "LimitRange", "limitrange", namespaced).short("limits"),
		res("", "v1", "podtemplates", "PodTemplate", "podtemplate", namespaced),
		res("", "v1", "replicationcontrollers", "ReplicationController", "replicationcontroller", namespaced).short("rc").cat(all...).status().scale(),
		// apps/v1
		res("apps", "v1", "deployments", "Deployment", "deployment", namespaced).short("deploy").cat(all...).status().scale(),
		res("apps", "v1", "replicasets", "ReplicaSet", "replicaset", namespaced).short("rs").cat(all...).status().scale(),
		res("apps", "v1", "daemonsets", "DaemonSet", "daemonset", namespaced).short("ds").cat(all...).status(),
		res("apps", "v1", "statefulsets", "StatefulSet", "statefulset", namespaced).short("sts").cat(all...).status().scale(),
		res("apps", "v1", "controllerrevisions", "ControllerRevision", "controllerrevision", namespaced),
		// batch/v1
		res("batch", "v1", "jobs", "Job", "job", namespaced).cat(all...).status(),
		res("batch", "v1", "cronjobs", "CronJob", "cronjob", namespaced).short("cj").cat(all...).status(),
		// networking.k8s.io/v1
		res("networking.k8s.io", "v1", "ingresses", "Ingress", "ingress", namespaced).short("ing").status(),
		res("networking.k8s.io", "v1", "ingressclasses", "IngressClass", "ingressclass", cluster),
		res("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", "networkpolicy", namespaced).short("netpol"),
		// rbac.authorization.k8s.io/v1
		res("rbac.authorization.k8s.io", "v1", "roles", "Role", "role", namespaced),
		res("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", "rolebinding", namespaced),
		res("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", "clusterrole", cluster),
		res("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", "clusterrolebinding", cluster),
		// storage.k8s.io/v1
		res("storage.k8s.io", "v1", "storageclasses", "StorageClass", "storageclass", cluster).short("sc"),
		// coordination.k8s.io/v1
		res("coordination.k8s.io", "v1", "leases", "Lease", "lease", namespaced),
		// discovery.k8s.io/v1
		res("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", "endpointslice", namespaced),
		// events.k8s.io/v1
		res("events.k8s.io", "v1", "events", "Event", "event", namespaced).short("ev").convert(eventsConversion()),
		// policy/v1
		res("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", "poddisruptionbudget", namespaced).short("pdb").status(),
		// autoscaling
		res("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", "horizontalpodautoscaler", namespaced).short("hpa").cat(all...).status(),
		res("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", "horizontalpodautoscaler", namespaced).short("hpa").cat(all...).status().convert(hpaConversion()),
		// node.k8s.io/v1
		res("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", "runtimeclass", cluster),
		// scheduling.k8s.io/v1
		res("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", "priorityclass", cluster).short("pc"),
		// authentication.k8s.io/v1 and authorization.k8s.io/v1: reviews
		res("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", "tokenreview", cluster).ephemeral(),
		res("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", "selfsubjectreview", cluster).ephemeral(),
		res("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", "subjectaccessreview", cluster).ephemeral(),
		res("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", "selfsubjectaccessreview", cluster).ephemeral(),
		res("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", "selfsubjectrulesreview", cluster).ephemeral(),
		res("authorization.k8s.io", "v1", "localsubjectaccessreviews", "LocalSubjectAccessReview", "localsubjectaccessreview", namespaced).ephemeral(),
		// certificates.k8s.io/v1
		res("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", "certificatesigningrequest", cluster).short("csr").status(),
		// admissionregistration.k8s.io/v1
		res("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", "mutatingwebhookconfiguration", cluster).cat("api-extensions"),
		res("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", "validatingwebhookconfiguration", cluster).cat("api-extensions"),
		res("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy", "validatingadmissionpolicy", cluster).cat("api-extensions").status(),
		res("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybinding", cluster).cat("api-extensions"),
		// apiextensions.k8s.io/v1
		res("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", "customresourcedefinition", cluster).short("crd", "crds").cat("api-extensions").status(),
	}
}
