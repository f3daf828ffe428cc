package rbac

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// fakeObjects is an in-memory auth.Objects.
type fakeObjects map[schema.GroupResource][]runtime.Object

func (f fakeObjects) Get(gr schema.GroupResource, namespace, name string) (runtime.Object, error) {
	for _, o := range f[gr] {
		m := metaOf(o)
		if m.Namespace == namespace && m.Name == name {
			return o, nil
		}
	}
	return nil, apierrors.NewNotFound(gr, name)
}

func (f fakeObjects) List(gr schema.GroupResource, namespace string, sel labels.Selector) ([]runtime.Object, error) {
	var out []runtime.Object
	for _, o := range f[gr] {
		m := metaOf(o)
		if (namespace == "" || m.Namespace == namespace) && (sel == nil || sel.Matches(labels.Set(m.Labels))) {
			out = append(out, o)
		}
	}
	return out, nil
}

// policyObjects files objects by their resource.
func policyObjects(t *testing.T, objs ...runtime.Object) fakeObjects {
	t.Helper()
	f := fakeObjects{}
	for _, o := range objs {
		var gr schema.GroupResource
		switch o.(type) {
		case *rbacv1.Role:
			gr = rolesResource
		case *rbacv1.ClusterRole:
			gr = clusterRolesResource
		case *rbacv1.RoleBinding:
			gr = roleBindingsResource
		case *rbacv1.ClusterRoleBinding:
			gr = clusterRoleBindingsResource
		default:
			t.Fatalf("not an RBAC object: %T", o)
		}
		f[gr] = append(f[gr], o)
	}
	return f
}

// subjects parses "Kind:name" (ServiceAccount:ns:name for namespaced ones).
func subjects(specs ...string) []rbacv1.Subject {
	out := make([]rbacv1.Subject, len(specs))
	for i, s := range specs {
		kind, name, _ := cutColon(s)
		switch kind {
		case rbacv1.ServiceAccountKind:
			if ns, n, ok := cutColon(name); ok {
				out[i] = rbacv1.Subject{Kind: kind, Namespace: ns, Name: n}
			} else {
				out[i] = rbacv1.Subject{Kind: kind, Name: name}
			}
		default:
			out[i] = rbacv1.Subject{Kind: kind, APIGroup: rbacv1.GroupName, Name: name}
		}
	}
	return out
}

func cutColon(s string) (string, string, bool) {
	for i := range s {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func testClusterRole(name string, rs ...rule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules(rs...)}
}

func testRole(ns, name string, rs ...rule) *rbacv1.Role {
	return &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules(rs...)}
}

func testClusterBinding(name, role string, subj ...string) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   subjects(subj...),
	}
}

// testBinding binds kind ("Role" or "ClusterRole") role in ns.
func testBinding(ns, name, kind, role string, subj ...string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role},
		Subjects:   subjects(subj...),
	}
}
