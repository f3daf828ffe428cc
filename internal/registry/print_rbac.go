package registry

import (
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
)

// bindingColumns are the columns of RoleBinding (what "roleBinding")
// and ClusterRoleBinding ("clusterRoleBinding").
func bindingColumns(what string, roleRefDoc string) []TableColumn {
	return []TableColumn{
		nameColumn(),
		column("Role", "string", roleRefDoc),
		ageColumn(),
		wide(column("Users", "string", "Users in the "+what)),
		wide(column("Groups", "string", "Groups in the "+what)),
		wide(column("ServiceAccounts", "string", "ServiceAccounts in the "+what)),
	}
}

func roleBindingTable() table {
	return table{
		columns: bindingColumns("roleBinding", rbacv1.RoleBinding{}.SwaggerDoc()["roleRef"]),
		row: rowOf(func(b *rbacv1.RoleBinding, now time.Time) []any {
			return bindingRow(b.Name, b.RoleRef, b.Subjects, since(b.CreationTimestamp, now))
		}),
	}
}

func clusterRoleBindingTable() table {
	return table{
		columns: bindingColumns("clusterRoleBinding", rbacv1.ClusterRoleBinding{}.SwaggerDoc()["roleRef"]),
		row: rowOf(func(b *rbacv1.ClusterRoleBinding, now time.Time) []any {
			return bindingRow(b.Name, b.RoleRef, b.Subjects, since(b.CreationTimestamp, now))
		}),
	}
}

// bindingRow shows the role as "Kind/name" and the subjects by kind,
// service accounts as "namespace/name"; subjects of other kinds are not
// shown.
func bindingRow(name string, ref rbacv1.RoleRef, subjects []rbacv1.Subject, age string) []any {
	var users, groups, sas []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			sas = append(sas, s.Namespace+"/"+s.Name)
		}
	}
	return []any{
		name, ref.Kind + "/" + ref.Name, age,
		strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", "),
	}
}
