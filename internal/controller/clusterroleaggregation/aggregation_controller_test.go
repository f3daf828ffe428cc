package clusterroleaggregation

import (
	"context"
	"slices"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"berth.dev/berth/internal/controller/controllertest"
)

func hasRule(rules []rbacv1.PolicyRule, want rbacv1.PolicyRule) bool {
	return slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool { return equality.Semantic.DeepEqual(r, want) })
}

func TestAggregation(t *testing.T) {
	cl := controllertest.Start(t)
	client := cl.Client
	c, err := New(Config{Client: client, Informers: cl.Informers})
	if err != nil {
		t.Fatal(err)
	}
	ctx := controllertest.Run(t, cl.Informers, c)

	// waitRules waits until role holds every rule of want.
	waitRules := func(role string, want ...rbacv1.PolicyRule) {
		t.Helper()
		var got []rbacv1.PolicyRule
		err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			r, err := client.RbacV1().ClusterRoles().Get(ctx, role, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			got = r.Rules
			for _, w := range want {
				if !hasRule(got, w) {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			t.Fatalf("%s rules %v, want to include %v: %v", role, got, want, err)
		}
	}

	viewNamespaces := rbacv1.PolicyRule{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{""}, Resources: []string{"namespaces"}}
	// The default aggregated roles are filled: view from
	// system:aggregate-to-view, edit from view, admin from edit.
	waitRules("view", viewNamespaces)
	waitRules("edit", viewNamespaces)
	waitRules("admin", viewNamespaces)

	widgets := rbacv1.PolicyRule{Verbs: []string{"get", "list"}, APIGroups: []string{"example.com"}, Resources: []string{"widgets"}}
	_, err = client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets-view", Labels: map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
		Rules:      []rbacv1.PolicyRule{widgets},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitRules("view", widgets, viewNamespaces)
	waitRules("admin", widgets)

	// A rule removed from a selected role leaves the aggregate.
	if err := client.RbacV1().ClusterRoles().Delete(ctx, "widgets-view", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		r, err := client.RbacV1().ClusterRoles().Get(ctx, "view", metav1.GetOptions{})
		return err == nil && !hasRule(r.Rules, widgets) && hasRule(r.Rules, viewNamespaces), err
	})
	if err != nil {
		t.Fatalf("view keeps the deleted role's rule: %v", err)
	}
}
