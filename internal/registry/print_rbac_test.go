package registry

import (
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func rbacGolden() map[schema.GroupKind][]runtime.Object {
	subjects := []rbacv1.Subject{
		{Kind: rbacv1.UserKind, Name: "alice"},
		{Kind: rbacv1.GroupKind, Name: "devs"},
		{Kind: rbacv1.ServiceAccountKind, Namespace: "ci", Name: "builder"},
		{Kind: rbacv1.UserKind, Name: "bob"},
		{Kind: rbacv1.GroupKind, Name: "system:masters"},
		{Kind: "Robot", Name: "r2"},
	}
	return map[schema.GroupKind][]runtime.Object{
		{Group: "rbac.authorization.k8s.io", Kind: "Role"}:        {&rbacv1.Role{ObjectMeta: om("reader", time.Hour)}},
		{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}: {&rbacv1.ClusterRole{ObjectMeta: om("cluster-admin", 400*24*time.Hour)}},
		{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}: {
			&rbacv1.RoleBinding{ObjectMeta: om("devs-edit", time.Hour), RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "edit"}, Subjects: subjects},
			&rbacv1.RoleBinding{ObjectMeta: om("nobody", time.Hour), RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "reader"}},
		},
		{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}: {
			&rbacv1.ClusterRoleBinding{ObjectMeta: om("cluster-admin", 400*24*time.Hour), RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "cluster-admin"}, Subjects: subjects[4:5]},
		},
	}
}
