package openapi

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/registry"
)

func builtinResource(t *testing.T, group, resource string) registry.Resource {
	t.Helper()
	for _, r := range registry.Builtin() {
		if r.Group == group && r.Resource == resource {
			return r
		}
	}
	t.Fatalf("no built-in %s in group %q", resource, group)
	return registry.Resource{}
}

// opSummary is one operation as "path method operationId action kind".
func opSummaries(rs []route) []string {
	var out []string
	for _, rt := range rs {
		for _, o := range rt.ops {
			out = append(out, rt.path+" "+o.method+" "+o.id+" "+o.action+" "+o.gvk.Kind)
		}
	}
	return out
}

func TestRoutes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		group string
		res   string
		want  []string
	}{
		{"namespaced with status and scale", "apps", "deployments", []string{
			"/apis/apps/v1/namespaces/{namespace}/deployments get listAppsV1NamespacedDeployment list Deployment",
			"/apis/apps/v1/namespaces/{namespace}/deployments post createAppsV1NamespacedDeployment post Deployment",
			"/apis/apps/v1/namespaces/{namespace}/deployments delete deleteAppsV1CollectionNamespacedDeployment deletecollection Deployment",
			"/apis/apps/v1/deployments get listAppsV1DeploymentForAllNamespaces list Deployment",
			"/apis/apps/v1/namespaces/{namespace}/deployments/{name} get readAppsV1NamespacedDeployment get Deployment",
			"/apis/apps/v1/namespaces/{namespace}/deployments/{name} put replaceAppsV1NamespacedDeployment put Deployment",
			"/apis/apps/v1/namespaces/{namespace}/deployments/{name} patch patchAppsV1NamespacedDeployment patch Deployment",
			"/apis/apps/v1/namespaces/{namespace}/deployments/{name} delete deleteAppsV1NamespacedDeployment delete Deployment",
			"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status get readAppsV1NamespacedDeploymentStatus get Deployment",
			"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status put replaceAppsV1NamespacedDeploymentStatus put Deployment",
			"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status patch patchAppsV1NamespacedDeploymentStatus patch Deployment",
			"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale get readAppsV1NamespacedDeploymentScale get Scale",
			"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale put replaceAppsV1NamespacedDeploymentScale put Scale",
			"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale patch patchAppsV1NamespacedDeploymentScale patch Scale",
		}},
		{"cluster scoped, no deletecollection", "", "namespaces", []string{
			"/api/v1/namespaces get listCoreV1Namespace list Namespace",
			"/api/v1/namespaces post createCoreV1Namespace post Namespace",
			"/api/v1/namespaces/{name} get readCoreV1Namespace get Namespace",
			"/api/v1/namespaces/{name} put replaceCoreV1Namespace put Namespace",
			"/api/v1/namespaces/{name} patch patchCoreV1Namespace patch Namespace",
			"/api/v1/namespaces/{name} delete deleteCoreV1Namespace delete Namespace",
			"/api/v1/namespaces/{name}/status get readCoreV1NamespaceStatus get Namespace",
			"/api/v1/namespaces/{name}/status put replaceCoreV1NamespaceStatus put Namespace",
			"/api/v1/namespaces/{name}/status patch patchCoreV1NamespaceStatus patch Namespace",
		}},
		{"approval subresource", "certificates.k8s.io", "certificatesigningrequests", []string{
			"/apis/certificates.k8s.io/v1/certificatesigningrequests get listCertificatesV1CertificateSigningRequest list CertificateSigningRequest",
			"/apis/certificates.k8s.io/v1/certificatesigningrequests post createCertificatesV1CertificateSigningRequest post CertificateSigningRequest",
			"/apis/certificates.k8s.io/v1/certificatesigningrequests delete deleteCertificatesV1CollectionCertificateSigningRequest deletecollection CertificateSigningRequest",
			"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name} get readCertificatesV1CertificateSigningRequest get CertificateSigningRequest",
			"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name} put replaceCertificatesV1CertificateSigningRequest put CertificateSigningRequest",
			"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name} patch patchCertificatesV1CertificateSigningRequest patch CertificateSigningRequest",
			"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name} delete deleteCertificatesV1CertificateSigningRequest delete CertificateSigningRequest",
			"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/status get readCertificatesV1CertificateSigningRequestStatus get CertificateSigningRequest",
			"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/status put replaceCertificatesV1CertificateSigningRequestStatus put CertificateSigningRequest",
			"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/status patch patchCertificatesV1CertificateSigningRequestStatus patch CertificateSigningRequest",
			"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/approval get readCertificatesV1CertificateSigningRequestApproval get CertificateSigningRequest",
			"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/approval put replaceCertificatesV1CertificateSigningRequestApproval put CertificateSigningRequest",
			"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/approval patch patchCertificatesV1CertificateSigningRequestApproval patch CertificateSigningRequest",
		}},
		{"dotted group", "rbac.authorization.k8s.io", "clusterroles", []string{
			"/apis/rbac.authorization.k8s.io/v1/clusterroles get listRbacAuthorizationV1ClusterRole list ClusterRole",
			"/apis/rbac.authorization.k8s.io/v1/clusterroles post createRbacAuthorizationV1ClusterRole post ClusterRole",
			"/apis/rbac.authorization.k8s.io/v1/clusterroles delete deleteRbacAuthorizationV1CollectionClusterRole deletecollection ClusterRole",
			"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name} get readRbacAuthorizationV1ClusterRole get ClusterRole",
			"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name} put replaceRbacAuthorizationV1ClusterRole put ClusterRole",
			"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name} patch patchRbacAuthorizationV1ClusterRole patch ClusterRole",
			"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name} delete deleteRbacAuthorizationV1ClusterRole delete ClusterRole",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := builtinResource(t, tc.group, tc.res)
			got := opSummaries(routes(resourceDoc{Resource: r, kindDef: "k", listDef: "l"}))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("operations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRouteParameters(t *testing.T) {
	rs := routes(resourceDoc{Resource: builtinResource(t, "apps", "deployments"), kindDef: "k", listDef: "l"})
	params := func(path, method string) []string {
		for _, rt := range rs {
			for _, o := range rt.ops {
				if rt.path == path && o.method == method {
					var names []string
					for _, p := range o.params {
						names = append(names, p.name)
					}
					return names
				}
			}
		}
		t.Fatalf("no %s %s", method, path)
		return nil
	}
	coll := "/apis/apps/v1/namespaces/{namespace}/deployments"
	item := coll + "/{name}"
	for _, tc := range []struct {
		path, method string
		want         []string
	}{
		{coll, "get", []string{"allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"}},
		{coll, "post", []string{"dryRun", "fieldManager", "fieldValidation"}},
		{item, "put", []string{"dryRun", "fieldManager", "fieldValidation"}},
		{item, "patch", []string{"dryRun", "fieldManager", "fieldValidation", "force"}},
		{item + "/status", "patch", []string{"dryRun", "fieldManager", "fieldValidation", "force"}},
		{item, "delete", []string{"dryRun", "gracePeriodSeconds", "ignoreStoreReadErrorWithClusterBreakingPotential", "orphanDependents", "propagationPolicy"}},
	} {
		if diff := cmp.Diff(tc.want, params(tc.path, tc.method)); diff != "" {
			t.Errorf("%s %s parameters (-want +got):\n%s", tc.method, tc.path, diff)
		}
	}
}

func TestOperationNames(t *testing.T) {
	for _, tc := range []struct {
		gv       schema.GroupVersion
		opGV     string
		tag      string
		customDf string
	}{
		{schema.GroupVersion{Version: "v1"}, "CoreV1", "core_v1", ""},
		{schema.GroupVersion{Group: "apps", Version: "v1"}, "AppsV1", "apps_v1", ""},
		{schema.GroupVersion{Group: "networking.k8s.io", Version: "v1"}, "NetworkingV1", "networking_v1", ""},
		{schema.GroupVersion{Group: "stable.example.com", Version: "v1beta1"}, "StableExampleComV1beta1", "stableExampleCom_v1beta1", "com.example.stable.v1beta1.K"},
	} {
		if got := operationGroupVersion(tc.gv); got != tc.opGV {
			t.Errorf("operationGroupVersion(%s) = %q, want %q", tc.gv, got, tc.opGV)
		}
		if got := operationTag(tc.gv); got != tc.tag {
			t.Errorf("operationTag(%s) = %q, want %q", tc.gv, got, tc.tag)
		}
		if tc.customDf != "" {
			if got := customDefinitionName(tc.gv.WithKind("K")); got != tc.customDf {
				t.Errorf("customDefinitionName(%s) = %q, want %q", tc.gv, got, tc.customDf)
			}
		}
	}
}

// TestDefinitionKinds checks the x-kubernetes-group-version-kind of
// definitions: each version's kind has its own, shared types list every
// group version.
func TestDefinitionKinds(t *testing.T) {
	models := builtinService(t).Models()
	gvks := func(name string) []any {
		s, ok := models[name]
		if !ok {
			t.Fatalf("no definition %s", name)
		}
		l, _ := s.Extensions[extGVK].([]any)
		return l
	}
	for name, want := range map[string][]any{
		"io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler": {gvkObject(schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "HorizontalPodAutoscaler"})},
		"io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler": {gvkObject(schema.GroupVersionKind{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"})},
		"io.k8s.api.core.v1.Event":                          {gvkObject(schema.GroupVersionKind{Version: "v1", Kind: "Event"})},
		"io.k8s.api.events.v1.Event":                        {gvkObject(schema.GroupVersionKind{Group: "events.k8s.io", Version: "v1", Kind: "Event"})},
		"io.k8s.apimachinery.pkg.apis.meta.v1.Status":       {gvkObject(schema.GroupVersionKind{Version: "v1", Kind: "Status"})},
		"io.k8s.api.apps.v1.DeploymentSpec":                 nil,
	} {
		if diff := cmp.Diff(want, gvks(name)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	deleteOptions := gvks("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")
	for _, gv := range []schema.GroupVersion{{Version: "v1"}, {Group: "apps", Version: "v1"}, {Group: "apiextensions.k8s.io", Version: "v1"}} {
		if !slices.ContainsFunc(deleteOptions, func(e any) bool { return cmp.Equal(e, gvkObject(gv.WithKind("DeleteOptions"))) }) {
			t.Errorf("DeleteOptions lacks %s", gv)
		}
	}
	// Server-side apply's list semantics come through.
	containers := models["io.k8s.api.core.v1.PodSpec"].Properties["containers"]
	for k, want := range map[string]any{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": []any{"name"}, "x-kubernetes-patch-strategy": "merge"} {
		if diff := cmp.Diff(want, containers.Extensions[k]); diff != "" {
			t.Errorf("PodSpec.containers %s (-want +got):\n%s", k, diff)
		}
	}
}
