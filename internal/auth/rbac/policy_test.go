package rbac

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"berth.dev/berth/internal/auth"
)

// TestDefaultPolicy checks the policy's shape: labelled and annotated,
// unique, every binding refers to a role of the policy.
func TestDefaultPolicy(t *testing.T) {
	policy := DefaultPolicy()
	seen := map[string]bool{}
	f := policyObjects(t, policy...)
	for _, o := range policy {
		m := metaOf(o)
		key := runtimeKind(o) + "/" + m.Namespace + "/" + m.Name
		if seen[key] {
			t.Errorf("%s twice", key)
		}
		seen[key] = true
		if m.Labels[BootstrapLabel] != BootstrapLabelValue || m.Annotations[rbacv1.AutoUpdateAnnotationKey] != "true" {
			t.Errorf("%s: labels %v annotations %v", key, m.Labels, m.Annotations)
		}
		var ref rbacv1.RoleRef
		switch b := o.(type) {
		case *rbacv1.ClusterRoleBinding:
			ref = b.RoleRef
		case *rbacv1.RoleBinding:
			ref = b.RoleRef
		default:
			continue
		}
		if _, err := roleRules(f, ref, m.Namespace); err != nil {
			t.Errorf("%s: %v", key, err)
		}
	}
}

func runtimeKind(o runtime.Object) string {
	switch o.(type) {
	case *rbacv1.ClusterRole:
		return "ClusterRole"
	case *rbacv1.Role:
		return "Role"
	case *rbacv1.ClusterRoleBinding:
		return "ClusterRoleBinding"
	}
	return "RoleBinding"
}

// TestDefaultPolicyGrants checks what the default bindings let users do,
// with the aggregated roles' rules filled as the aggregation controller
// fills them.
func TestDefaultPolicyGrants(t *testing.T) {
	policy := DefaultPolicy()
	for _, o := range policy {
		if cr, ok := o.(*rbacv1.ClusterRole); ok && cr.AggregationRule != nil {
			cr.Rules = aggregateForTest(t, policy, cr)
		}
	}
	policy = append(policy, testBinding("dev", "view", "ClusterRole", "view", "User:viewer"))
	z := &Authorizer{}
	z.UseObjects(policyObjects(t, policy...))
	authn := []string{AllAuthenticated}
	tests := []struct {
		name  string
		attrs auth.Attributes
		want  auth.Decision
	}{
		{"discovery", nonRes("u", authn, "get", "/apis/apps/v1"), auth.Allow},
		{"version, unauthenticated", nonRes("system:anonymous", []string{AllUnauthenticated}, "get", "/version"), auth.Allow},
		{"discovery, unauthenticated", nonRes("system:anonymous", []string{AllUnauthenticated}, "get", "/apis"), auth.NoOpinion},
		{"self access review", res("u", authn, "create", "authorization.k8s.io", "selfsubjectaccessreviews", "", "", ""), auth.Allow},
		{"self rules review", res("u", authn, "create", "authorization.k8s.io", "selfsubjectrulesreviews", "", "", ""), auth.Allow},
		{"pods, authenticated only", res("u", authn, "list", "", "pods", "", "dev", ""), auth.NoOpinion},
		{"view: list pods", res("viewer", authn, "list", "", "pods", "", "dev", ""), auth.Allow},
		{"view: get deployments", res("viewer", authn, "get", "apps", "deployments", "", "dev", "web"), auth.Allow},
		{"view: pod metrics", res("viewer", authn, "list", "metrics.k8s.io", "pods", "", "dev", ""), auth.Allow},
		{"view: no secrets", res("viewer", authn, "get", "", "secrets", "", "dev", "s"), auth.NoOpinion},
		{"view: no delete", res("viewer", authn, "delete", "", "pods", "", "dev", "p"), auth.NoOpinion},
		{"view: other namespace", res("viewer", authn, "list", "", "pods", "", "prod", ""), auth.NoOpinion},
		{"masters", res("root", []string{"system:masters"}, "delete", "", "nodes", "", "", "n"), auth.Allow},
		{"scheduler binds", res(KubeScheduler, authn, "create", "", "pods", "binding", "dev", "p"), auth.Allow},
		{"scheduler lease", res(KubeScheduler, authn, "update", coordinationGroup, "leases", "", "kube-system", "kube-scheduler"), auth.Allow},
		{"scheduler other lease", res(KubeScheduler, authn, "update", coordinationGroup, "leases", "", "kube-system", "kube-controller-manager"), auth.NoOpinion},
		{"scheduler no secrets", res(KubeScheduler, authn, "list", "", "secrets", "", "", ""), auth.NoOpinion},
		{"controller manager lease", res(KubeControllerManager, authn, "update", coordinationGroup, "leases", "", "kube-system", "kube-controller-manager"), auth.Allow},
		{"controller manager watches all", res(KubeControllerManager, authn, "watch", "example.com", "widgets", "", "", ""), auth.Allow},
		{"controller manager runs the replicaset controller", res(KubeControllerManager, authn, "create", "", "pods", "", "dev", ""), auth.Allow},
		{"controller manager runs the namespace controller", res(KubeControllerManager, authn, "deletecollection", "example.com", "widgets", "", "dev", ""), auth.Allow},
		{"controller manager cannot bind", res(KubeControllerManager, authn, "create", "", "pods", "binding", "dev", "p"), auth.NoOpinion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, reason, err := z.Authorize(context.Background(), tt.attrs)
			if err != nil || d != tt.want {
				t.Errorf("got %v (%s) %v, want %v", d, reason, err, tt.want)
			}
		})
	}
}

// aggregateForTest unions the rules of the policy's ClusterRoles that cr
// selects, in one pass: enough for view, which selects only roles with
// rules of their own.
func aggregateForTest(t *testing.T, policy []runtime.Object, cr *rbacv1.ClusterRole) []rbacv1.PolicyRule {
	t.Helper()
	var out []rbacv1.PolicyRule
	for _, sel := range cr.AggregationRule.ClusterRoleSelectors {
		s, err := metav1.LabelSelectorAsSelector(&sel)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range policy {
			if other, ok := o.(*rbacv1.ClusterRole); ok && other != cr && s.Matches(labels.Set(other.Labels)) {
				out = append(out, other.Rules...)
			}
		}
	}
	return out
}

func TestReconcile(t *testing.T) {
	want := clusterRole("r", nil, newRule("get", "list").groups("").resources("pods"))
	tests := []struct {
		name        string
		stored      runtime.Object
		wantChanged bool
		want        runtime.Object
	}{
		{
			name:   "up to date",
			stored: clusterRole("r", map[string]string{"extra": "x"}, newRule("*").groups("").resources("pods")),
			want:   clusterRole("r", map[string]string{"extra": "x"}, newRule("*").groups("").resources("pods")),
		},
		{
			name: "missing permission and label added, extra kept",
			stored: &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "r"},
				Rules: rules(newRule("get").groups("").resources("pods"), newRule("get").groups("").resources("nodes"))},
			wantChanged: true,
			want: &rbacv1.ClusterRole{ObjectMeta: defaultMeta("r", "", nil),
				Rules: rules(newRule("get").groups("").resources("pods"), newRule("get").groups("").resources("nodes"), newRule("list").groups("").resources("pods"))},
		},
		{
			name: "autoupdate false is left alone",
			stored: &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "r", Annotations: map[string]string{rbacv1.AutoUpdateAnnotationKey: "false"}},
				Rules: rules(newRule("get").groups("").resources("nodes"))},
			want: &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "r", Annotations: map[string]string{rbacv1.AutoUpdateAnnotationKey: "false"}},
				Rules: rules(newRule("get").groups("").resources("nodes"))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := Reconcile(tt.stored, want)
			if changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	t.Run("binding subjects and aggregation selectors", func(t *testing.T) {
		b := clusterBinding("system:discovery", subjectGroups(AllAuthenticated)...)
		stored := b.DeepCopy()
		stored.Subjects = subjects("User:alice")
		got, changed := Reconcile(stored, b)
		if !changed || !cmp.Equal(got.(*rbacv1.ClusterRoleBinding).Subjects, append(subjects("User:alice"), subjectGroups(AllAuthenticated)...)) {
			t.Errorf("subjects %v changed %v", got.(*rbacv1.ClusterRoleBinding).Subjects, changed)
		}
		view := aggregated("view", nil, aggregateToView)
		storedView := view.DeepCopy()
		storedView.AggregationRule = nil
		storedView.Rules = rules(newRule("get").groups("").resources("pods"))
		got, changed = Reconcile(storedView, view)
		if gv := got.(*rbacv1.ClusterRole); !changed || !cmp.Equal(gv.AggregationRule, view.AggregationRule) || len(gv.Rules) != 1 {
			t.Errorf("view: %+v changed %v", gv, changed)
		}
	})
}
