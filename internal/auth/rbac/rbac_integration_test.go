package rbac_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"berth.dev/berth/internal/apiserver/apiservertest"
	"berth.dev/berth/internal/controller/clusterroleaggregation"
)

// userClient is a client of s authenticated as name in groups.
func userClient(t *testing.T, s *apiservertest.Server, name string, groups ...string) kubernetes.Interface {
	t.Helper()
	certPEM, keyPEM, err := s.PKI.IssueClientCert(name, groups, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(s.Admin)
	cfg.CertData, cfg.KeyData = certPEM, keyPEM
	return kubernetes.NewForConfigOrDie(cfg)
}

// startAggregation runs the ClusterRole aggregation controller, which
// fills admin, edit and view, until the test ends.
func startAggregation(t *testing.T, admin kubernetes.Interface) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(admin, 0)
	c, err := clusterroleaggregation.New(clusterroleaggregation.Config{Client: admin, Informers: factory})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		factory.Shutdown()
	})
}

func wantForbidden(t *testing.T, err error, msg string) {
	t.Helper()
	if !apierrors.IsForbidden(err) || err.Error() != msg {
		t.Errorf("error %v,\nwant 403 %q", err, msg)
	}
}

// canI asks a SelfSubjectAccessReview as c, waiting up to a deadline for
// the answer want (policy changes reach the authorizer through the
// watch cache).
func canI(t *testing.T, c kubernetes.Interface, attrs authorizationv1.ResourceAttributes, want bool) authorizationv1.SubjectAccessReviewStatus {
	t.Helper()
	var st authorizationv1.SubjectAccessReviewStatus
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		r, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs},
		}, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		st = r.Status
		return st.Allowed == want, nil
	})
	if err != nil {
		t.Fatalf("can-i %+v: %+v, want allowed=%v: %v", attrs, st, want, err)
	}
	return st
}

func TestRBAC(t *testing.T) {
	s := apiservertest.Start(t)
	ctx := context.Background()
	admin := kubernetes.NewForConfigOrDie(s.Admin)
	startAggregation(t, admin)
	for _, ns := range []string{"dev", "prod"} {
		if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("no bindings", func(t *testing.T) {
		c := userClient(t, s, "nobody")
		_, err := c.CoreV1().Pods("dev").List(ctx, metav1.ListOptions{})
		wantForbidden(t, err, `pods is forbidden: User "nobody" cannot list resource "pods" in API group "" in the namespace "dev"`)
		_, err = c.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		wantForbidden(t, err, `nodes "n1" is forbidden: User "nobody" cannot get resource "nodes" in API group "" at the cluster scope`)
		// Discovery is open to every authenticated user (system:discovery).
		if _, err := c.Discovery().ServerGroups(); err != nil {
			t.Errorf("discovery: %v", err)
		}
	})

	t.Run("view in one namespace", func(t *testing.T) {
		_, err := admin.RbacV1().RoleBindings("dev").Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "viewer"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "viewer"}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c := userClient(t, s, "viewer")
		canI(t, c, authorizationv1.ResourceAttributes{Namespace: "dev", Verb: "get", Resource: "configmaps"}, true)
		if _, err := c.CoreV1().ConfigMaps("dev").Get(ctx, "cm", metav1.GetOptions{}); err != nil {
			t.Errorf("get: %v", err)
		}
		if _, err := c.CoreV1().ConfigMaps("dev").List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("list: %v", err)
		}
		err = c.CoreV1().ConfigMaps("dev").Delete(ctx, "cm", metav1.DeleteOptions{})
		wantForbidden(t, err, `configmaps "cm" is forbidden: User "viewer" cannot delete resource "configmaps" in API group "" in the namespace "dev"`)
		_, err = c.CoreV1().ConfigMaps("prod").Get(ctx, "cm", metav1.GetOptions{})
		wantForbidden(t, err, `configmaps "cm" is forbidden: User "viewer" cannot get resource "configmaps" in API group "" in the namespace "prod"`)
		_, err = c.CoreV1().Secrets("dev").List(ctx, metav1.ListOptions{})
		wantForbidden(t, err, `secrets is forbidden: User "viewer" cannot list resource "secrets" in API group "" in the namespace "dev"`)
		_, err = c.CoreV1().Pods("dev").GetLogs("p", &corev1.PodLogOptions{}).DoRaw(ctx)
		if apierrors.IsForbidden(err) {
			t.Errorf("pods/log is in view: %v", err)
		}
	})

	t.Run("aggregation extends view", func(t *testing.T) {
		c := userClient(t, s, "viewer")
		widgets := authorizationv1.ResourceAttributes{Namespace: "dev", Verb: "list", Group: "example.com", Resource: "widgets"}
		st := canI(t, c, widgets, false)
		if st.Denied || st.Reason != "" {
			t.Errorf("status %+v: want no opinion and no reason", st)
		}
		_, err := admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "widgets-view", Labels: map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
			Rules:      []rbacv1.PolicyRule{{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{"example.com"}, Resources: []string{"widgets"}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st = canI(t, c, widgets, true)
		if want := `RBAC: allowed by RoleBinding "viewer/dev" of ClusterRole "view" to User "viewer"`; st.Reason != want {
			t.Errorf("reason %q, want %q", st.Reason, want)
		}
	})

	t.Run("escalation", func(t *testing.T) {
		_, err := admin.RbacV1().RoleBindings("dev").Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "admins"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "dev-admin"}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c := userClient(t, s, "dev-admin")
		canI(t, c, authorizationv1.ResourceAttributes{Namespace: "dev", Verb: "create", Group: rbacv1.GroupName, Resource: "rolebindings"}, true)
		// admin holds all of view once aggregation has carried widgets
		// from view through edit to admin.
		canI(t, c, authorizationv1.ResourceAttributes{Namespace: "dev", Verb: "list", Group: "example.com", Resource: "widgets"}, true)
		binding := func(role string) *rbacv1.RoleBinding {
			return &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "to-" + role},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "friend"}},
			}
		}
		if _, err := c.RbacV1().RoleBindings("dev").Create(ctx, binding("view"), metav1.CreateOptions{}); err != nil {
			t.Errorf("binding view, which admin covers: %v", err)
		}
		_, err = c.RbacV1().RoleBindings("dev").Create(ctx, binding("cluster-admin"), metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) || !strings.HasPrefix(err.Error(),
			`rolebindings.rbac.authorization.k8s.io "to-cluster-admin" is forbidden: user "dev-admin" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:`+"\n") {
			t.Errorf("binding cluster-admin: %v", err)
		}
		_, err = c.RbacV1().Roles("dev").Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "nodes"},
			Rules:      []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"nodes"}}},
		}, metav1.CreateOptions{})
		wantForbidden(t, err, `roles.rbac.authorization.k8s.io "nodes" is forbidden: user "dev-admin" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:`+
			"\n"+`{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}`)
	})

	t.Run("access reviews", func(t *testing.T) {
		sar, err := admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: "viewer", ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "prod", Verb: "get", Resource: "configmaps"},
		}}, metav1.CreateOptions{})
		if err != nil || sar.Status.Allowed || sar.Status.Denied {
			t.Errorf("SAR viewer in prod: %+v %v", sar.Status, err)
		}
		lsar, err := admin.AuthorizationV1().LocalSubjectAccessReviews("dev").Create(ctx, &authorizationv1.LocalSubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: "viewer", ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "dev", Verb: "get", Resource: "configmaps"},
		}}, metav1.CreateOptions{})
		if err != nil || !lsar.Status.Allowed {
			t.Errorf("LSAR viewer in dev: %+v %v", lsar.Status, err)
		}
		_, err = admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: "viewer",
		}}, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) {
			t.Errorf("SAR without attributes: %v, want 422", err)
		}
		// A viewer may not ask about others.
		_, err = userClient(t, s, "viewer").AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: "x", NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/healthz", Verb: "get"},
		}}, metav1.CreateOptions{})
		wantForbidden(t, err, `subjectaccessreviews.authorization.k8s.io is forbidden: User "viewer" cannot create resource "subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope`)

		// Masters are allowed by the first authorizer of the chain.
		sar, err = admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			Groups: []string{"system:masters"}, NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"},
		}}, metav1.CreateOptions{})
		if err != nil || !sar.Status.Allowed {
			t.Errorf("SAR system:masters: %+v %v", sar.Status, err)
		}

		rr, err := userClient(t, s, "viewer").AuthorizationV1().SelfSubjectRulesReviews().Create(ctx, &authorizationv1.SelfSubjectRulesReview{
			Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: "dev"},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rr.Status.Incomplete || !hasResourceRule(rr.Status.ResourceRules, "list", "", "configmaps") ||
			!hasResourceRule(rr.Status.ResourceRules, "create", "authorization.k8s.io", "selfsubjectaccessreviews") ||
			hasResourceRule(rr.Status.ResourceRules, "list", "", "secrets") || len(rr.Status.NonResourceRules) == 0 {
			t.Errorf("rules review: %+v", rr.Status)
		}
	})
}

func hasResourceRule(rules []authorizationv1.ResourceRule, verb, group, resource string) bool {
	for _, r := range rules {
		if slices.Contains(r.Verbs, verb) && slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) {
			return true
		}
	}
	return false
}
