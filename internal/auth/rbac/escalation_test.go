package rbac

import (
	"context"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/auth"
)

func TestEscalation(t *testing.T) {
	z := &Authorizer{}
	z.UseObjects(policyObjects(t,
		testClusterRole("pod-reader", newRule("get", "list").groups("").resources("pods")),
		testClusterRole("pod-admin", newRule("*").groups("").resources("pods")),
		testClusterRole("binder", newRule("bind").groups(rbacv1.GroupName).resources("clusterroles").names("pod-admin")),
		testClusterRole("escalator", newRule("escalate").groups(rbacv1.GroupName).resources("roles")),
		testBinding("ns1", "r", "ClusterRole", "pod-reader", "User:reader", "User:binder", "User:escalator"),
		testBinding("ns1", "b", "ClusterRole", "binder", "User:binder"),
		testBinding("ns1", "e", "ClusterRole", "escalator", "User:escalator"),
	))
	e := &Escalation{Rules: z, Authorizers: []auth.Authorizer{auth.Masters{}, z}}
	podRole := func(verbs ...string) *rbacv1.Role {
		return &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "r1"}, Rules: rules(newRule(verbs...).groups("").resources("pods"))}
	}
	bindingTo := func(role string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "b1"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   subjects("User:someone"),
		}
	}
	withFinalizer := func(r *rbacv1.Role) *rbacv1.Role { r.Finalizers = []string{"x"}; return r }
	withLabel := func(r *rbacv1.Role) *rbacv1.Role { r.Labels = map[string]string{"a": "b"}; return r }
	user := func(name string, groups ...string) auth.User { return auth.User{Name: name, Groups: groups} }
	tests := []struct {
		name     string
		user     auth.User
		op       admission.Operation
		obj, old runtime.Object
		resource string
		wantMsg  string // "" means admitted
	}{
		{name: "role within own rights", user: user("reader"), obj: podRole("get"), resource: "roles"},
		{name: "role beyond own rights", user: user("reader", "system:authenticated"), obj: podRole("get", "delete"), resource: "roles",
			wantMsg: `roles.rbac.authorization.k8s.io "r1" is forbidden: user "reader" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:` +
				"\n" + `{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}`},
		{name: "escalate verb", user: user("escalator"), obj: podRole("*"), resource: "roles"},
		{name: "system:masters", user: user("root", auth.SystemMasters), obj: podRole("*"), resource: "roles"},
		{name: "update of finalizers only", user: user("nobody"), op: admission.Update, obj: withFinalizer(podRole("*")), old: podRole("*"), resource: "roles"},
		{name: "update of labels", user: user("nobody"), op: admission.Update, obj: withLabel(podRole("get")), old: podRole("get"), resource: "roles",
			wantMsg: `roles.rbac.authorization.k8s.io "r1" is forbidden: user "nobody" (groups=[]) is attempting to grant RBAC permissions not currently held:` +
				"\n" + `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`},
		{name: "binding within own rights", user: user("reader"), obj: bindingTo("pod-reader"), resource: "rolebindings"},
		{name: "binding beyond own rights", user: user("reader"), obj: bindingTo("pod-admin"), resource: "rolebindings",
			wantMsg: `rolebindings.rbac.authorization.k8s.io "b1" is forbidden: user "reader" (groups=[]) is attempting to grant RBAC permissions not currently held:` +
				"\n" + `{APIGroups:[""], Resources:["pods"], Verbs:["*"]}`},
		{name: "bind verb", user: user("binder"), obj: bindingTo("pod-admin"), resource: "rolebindings"},
		{name: "binding to a missing role", user: user("reader"), obj: bindingTo("nope"), resource: "rolebindings",
			wantMsg: `rolebindings.rbac.authorization.k8s.io "b1" is forbidden: clusterroles.rbac.authorization.k8s.io "nope" not found`},
		{name: "aggregation rule needs everything", user: user("reader"), resource: "clusterroles",
			obj: &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "agg"}, AggregationRule: &rbacv1.AggregationRule{
				ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"a": "b"}}}}},
			wantMsg: `clusterroles.rbac.authorization.k8s.io "agg" is forbidden: must have cluster-admin privileges to use the aggregationRule`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := tt.op
			if op == "" {
				op = admission.Create
			}
			a := &admission.Attributes{
				Operation: op, Object: tt.obj, OldObject: tt.old, User: tt.user,
				Resource: rbacv1.SchemeGroupVersion.WithResource(tt.resource),
			}
			err := e.Validate(context.Background(), a)
			switch {
			case tt.wantMsg == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantMsg != "" && err == nil:
				t.Fatal("admitted")
			case tt.wantMsg != "":
				if !apierrors.IsForbidden(err) || err.Error() != tt.wantMsg {
					t.Errorf("error %q,\nwant %q", err, tt.wantMsg)
				}
			}
		})
	}
}
