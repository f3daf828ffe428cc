package apiserver

import (
	"context"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authrbac "berth.dev/berth/internal/auth/rbac"
)

// TestDefaultPolicyReconciled: the default RBAC policy is in place when
// the server is ready, and every start puts back what was taken from it,
// except from objects annotated autoupdate=false.
func TestDefaultPolicyReconciled(t *testing.T) {
	dir := t.TempDir()
	ts := startTestServerIn(t, dir)
	ctx := context.Background()
	rbac := ts.clientset(t).RbacV1()
	basic, err := rbac.ClusterRoles().Get(ctx, "system:basic-user", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("default policy missing when ready: %v", err)
	}
	if basic.Labels["kubernetes.io/bootstrapping"] != "rbac-defaults" || basic.Annotations[rbacv1.AutoUpdateAnnotationKey] != "true" {
		t.Errorf("metadata %v %v", basic.Labels, basic.Annotations)
	}
	wantBasic := basic.Rules

	basic.Rules = basic.Rules[:1]
	basic.Rules[0].Resources = basic.Rules[0].Resources[:1]
	if _, err := rbac.ClusterRoles().Update(ctx, basic, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	disc, err := rbac.ClusterRoles().Get(ctx, "system:discovery", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	disc.Annotations[rbacv1.AutoUpdateAnnotationKey] = "false"
	disc.Rules = []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/version"}}}
	if _, err := rbac.ClusterRoles().Update(ctx, disc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	viewer, err := rbac.ClusterRoleBindings().Get(ctx, "system:public-info-viewer", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantSubjects := viewer.Subjects
	viewer.Subjects = nil
	if _, err := rbac.ClusterRoleBindings().Update(ctx, viewer, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := rbac.Roles("kube-system").Delete(ctx, "extension-apiserver-authentication-reader", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ts.stop()

	ts = startTestServerIn(t, dir)
	rbac = ts.clientset(t).RbacV1()
	basic, err = rbac.ClusterRoles().Get(ctx, "system:basic-user", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ok, missing := authrbac.Covers(basic.Rules, wantBasic); !ok {
		t.Errorf("system:basic-user still lacks %v: %v", missing, basic.Rules)
	}
	disc, err = rbac.ClusterRoles().Get(ctx, "system:discovery", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(disc.Rules) != 1 {
		t.Errorf("system:discovery with autoupdate=false was changed: %v", disc.Rules)
	}
	viewer, err = rbac.ClusterRoleBindings().Get(ctx, "system:public-info-viewer", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(viewer.Subjects, wantSubjects) {
		t.Errorf("subjects %v, want %v", viewer.Subjects, wantSubjects)
	}
	if _, err := rbac.Roles("kube-system").Get(ctx, "extension-apiserver-authentication-reader", metav1.GetOptions{}); err != nil {
		t.Errorf("deleted default Role not recreated: %v", err)
	}
}
