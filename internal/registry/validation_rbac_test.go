package registry

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func rbac(kind string) schema.GroupKind {
	return schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: kind}
}

func TestValidateRBAC(t *testing.T) {
	readPods := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}
	runChecks(t, rbac("Role"), []checkCase{
		{name: "valid", obj: &rbacv1.Role{Rules: []rbacv1.PolicyRule{readPods}}},
		{name: "no verbs", obj: &rbacv1.Role{Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}}}},
			want: want("FieldValueRequired rules[0].verbs")},
		{name: "no groups or resources", obj: &rbacv1.Role{Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}}}},
			want: want("FieldValueRequired rules[0].apiGroups", "FieldValueRequired rules[0].resources")},
		{name: "non-resource url", obj: &rbacv1.Role{Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}}},
			want: want("FieldValueInvalid rules[0].nonResourceURLs")},
	})
	runChecks(t, rbac("ClusterRole"), []checkCase{
		{name: "non-resource url", obj: &rbacv1.ClusterRole{Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}}}},
		{name: "empty aggregation", obj: &rbacv1.ClusterRole{AggregationRule: &rbacv1.AggregationRule{}},
			want: want("FieldValueRequired aggregationRule.clusterRoleSelectors")},
	})
	binding := &rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}, Subjects: []rbacv1.Subject{
		{Kind: "User", Name: "alice"}, {Kind: "ServiceAccount", Name: "default", Namespace: "team"},
	}}
	runChecks(t, rbac("RoleBinding"), []checkCase{
		{name: "valid", obj: binding},
		{name: "role ref", obj: &rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{APIGroup: "example.com", Kind: "Policy"}},
			want: want("FieldValueNotSupported roleRef.apiGroup", "FieldValueNotSupported roleRef.kind", "FieldValueRequired roleRef.name")},
		{name: "subjects", obj: &rbacv1.RoleBinding{RoleRef: binding.RoleRef, Subjects: []rbacv1.Subject{
			{Kind: "Robot", Name: "r"}, {Kind: "ServiceAccount", APIGroup: "rbac.authorization.k8s.io", Name: "sa"}, {Kind: "User"},
		}}, want: want("FieldValueNotSupported subjects[0].kind", "FieldValueNotSupported subjects[1].apiGroup", "FieldValueRequired subjects[2].name")},
		{name: "role ref immutable", obj: &rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "edit"}}, old: binding,
			want: want("FieldValueInvalid roleRef")},
		{name: "subjects may change", obj: &rbacv1.RoleBinding{RoleRef: binding.RoleRef}, old: binding},
	})
	runChecks(t, rbac("ClusterRoleBinding"), []checkCase{
		{name: "valid", obj: &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "b"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"},
			Subjects: []rbacv1.Subject{{Kind: "Group", Name: "devs"}}}},
		{name: "role and namespaceless account", obj: &rbacv1.ClusterRoleBinding{RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "view"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "sa"}}},
			want: want("FieldValueNotSupported roleRef.kind", "FieldValueRequired subjects[0].namespace")},
	})
}
