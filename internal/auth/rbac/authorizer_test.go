package rbac

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"berth.dev/berth/internal/auth"
)

func res(user string, groups []string, verb, group, resource, sub, ns, name string) auth.Attributes {
	return auth.Attributes{
		User: auth.User{Name: user, Groups: groups}, Verb: verb, IsResource: true,
		APIGroup: group, Resource: resource, Subresource: sub, Namespace: ns, Name: name,
	}
}

func nonRes(user string, groups []string, verb, path string) auth.Attributes {
	return auth.Attributes{User: auth.User{Name: user, Groups: groups}, Verb: verb, Path: path}
}

// TestAuthorizer ports upstream's rbac_test.go TestAuthorizer cases.
func TestAuthorizer(t *testing.T) {
	tests := []struct {
		name       string
		objects    []runtime.Object
		shouldPass []auth.Attributes
		shouldFail []auth.Attributes
	}{
		{
			name: "cluster role bound in one namespace",
			objects: []runtime.Object{
				testClusterRole("admin", newRule("*").groups("*").resources("*").urls("*")),
				testBinding("ns1", "b", "ClusterRole", "admin", "User:admin", "Group:admins"),
			},
			shouldPass: []auth.Attributes{
				res("admin", nil, "get", "", "Pods", "", "ns1", ""),
				res("admin", nil, "watch", "", "Pods", "", "ns1", ""),
				res("admin", []string{"group1"}, "watch", "", "Foobar", "", "ns1", ""),
				res("joe", []string{"admins"}, "watch", "", "Foobar", "", "ns1", ""),
				res("joe", []string{"group1", "admins"}, "watch", "", "Foobar", "", "ns1", ""),
			},
			shouldFail: []auth.Attributes{
				res("admin", nil, "GET", "", "Pods", "", "ns2", ""),
				res("admin", nil, "GET", "", "Nodes", "", "", ""),
				res("admin", []string{"admins"}, "GET", "", "Pods", "", "ns2", ""),
				res("admin", []string{"admins"}, "GET", "", "Nodes", "", "", ""),
			},
		},
		{
			name: "non-resource URLs",
			objects: []runtime.Object{
				testClusterRole("non-resource-url-getter", newRule("get").urls("/apis")),
				testClusterRole("non-resource-url", newRule("*").urls("/apis")),
				testClusterRole("non-resource-url-prefix", newRule("get").urls("/apis/*")),
				testClusterBinding("b1", "non-resource-url-getter", "User:foo", "Group:bar"),
				testClusterBinding("b2", "non-resource-url", "User:admin", "Group:admin"),
				testClusterBinding("b3", "non-resource-url-prefix", "User:prefixed", "Group:prefixed"),
			},
			shouldPass: []auth.Attributes{
				nonRes("foo", nil, "get", "/apis"),
				nonRes("", []string{"bar"}, "get", "/apis"),
				nonRes("admin", nil, "get", "/apis"),
				nonRes("", []string{"admin"}, "get", "/apis"),
				nonRes("admin", nil, "watch", "/apis"),
				nonRes("", []string{"admin"}, "watch", "/apis"),
				nonRes("prefixed", nil, "get", "/apis/v1"),
				nonRes("", []string{"prefixed"}, "get", "/apis/v1"),
				nonRes("prefixed", nil, "get", "/apis/v1/foobar"),
			},
			shouldFail: []auth.Attributes{
				nonRes("foo", nil, "watch", "/apis"),
				nonRes("", []string{"bar"}, "watch", "/apis"),
				nonRes("foo", nil, "get", "/api/v1"),
				nonRes("admin", nil, "get", "/api/v1"),
				nonRes("prefixed", nil, "get", "/api/v1"),
				nonRes("prefixed", nil, "get", "/apis"),
			},
		},
		{
			name: "a resource rule does not grant its subresources",
			objects: []runtime.Object{
				testClusterRole("admin", newRule("*").groups("*").resources("pods")),
				testBinding("ns1", "b", "ClusterRole", "admin", "User:admin"),
			},
			shouldPass: []auth.Attributes{res("admin", nil, "get", "", "pods", "", "ns1", "")},
			shouldFail: []auth.Attributes{res("admin", nil, "get", "", "pods", "status", "ns1", "")},
		},
		{
			name: "a subresource rule does not grant its resource",
			objects: []runtime.Object{
				testClusterRole("admin", newRule("*").groups("*").resources("pods/status")),
				testBinding("ns1", "b", "ClusterRole", "admin", "User:admin"),
			},
			shouldPass: []auth.Attributes{res("admin", nil, "get", "", "pods", "status", "ns1", "")},
			shouldFail: []auth.Attributes{res("admin", nil, "get", "", "pods", "", "ns1", "")},
		},
		{
			name: "namespaced role",
			objects: []runtime.Object{
				testRole("ns1", "reader", newRule("get", "list").groups("").resources("configmaps").names("a")),
				testBinding("ns1", "b", "Role", "reader", "User:u"),
				// A RoleBinding cannot use a Role of another namespace.
				testBinding("ns2", "b", "Role", "reader", "User:u"),
			},
			shouldPass: []auth.Attributes{res("u", nil, "get", "", "configmaps", "", "ns1", "a")},
			shouldFail: []auth.Attributes{
				res("u", nil, "get", "", "configmaps", "", "ns1", "b"),
				res("u", nil, "list", "", "configmaps", "", "ns1", ""),
				res("u", nil, "get", "", "configmaps", "", "ns2", "a"),
				res("u", nil, "delete", "", "configmaps", "", "ns1", "a"),
			},
		},
		{
			name: "service accounts",
			objects: []runtime.Object{
				testClusterRole("r", newRule("get").groups("").resources("pods")),
				testBinding("ns1", "local", "ClusterRole", "r", "ServiceAccount:sa"),
				testClusterBinding("cluster", "r", "ServiceAccount:kube-system:ctl"),
			},
			shouldPass: []auth.Attributes{
				res("system:serviceaccount:ns1:sa", nil, "get", "", "pods", "", "ns1", ""),
				res("system:serviceaccount:kube-system:ctl", nil, "get", "", "pods", "", "", ""),
				res("system:serviceaccount:kube-system:ctl", nil, "get", "", "pods", "", "ns9", ""),
			},
			shouldFail: []auth.Attributes{
				res("system:serviceaccount:ns2:sa", nil, "get", "", "pods", "", "ns1", ""),
				res("system:serviceaccount:ns1:sa", nil, "get", "", "pods", "", "ns2", ""),
				res("sa", nil, "get", "", "pods", "", "ns1", ""),
				res("system:serviceaccount:kube-system:other", nil, "get", "", "pods", "", "", ""),
			},
		},
		{
			name: "star subresource",
			objects: []runtime.Object{
				testClusterRole("r", newRule("get").groups("").resources("*/status")),
				testClusterBinding("b", "r", "Group:g"),
			},
			shouldPass: []auth.Attributes{
				res("u", []string{"g"}, "get", "", "pods", "status", "", ""),
				res("u", []string{"g"}, "get", "", "nodes", "status", "ns", ""),
			},
			shouldFail: []auth.Attributes{
				res("u", []string{"g"}, "get", "", "pods", "", "", ""),
				res("u", []string{"g"}, "get", "", "pods", "log", "", ""),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := &Authorizer{}
			z.UseObjects(policyObjects(t, tt.objects...))
			for _, a := range tt.shouldPass {
				if d, _, err := z.Authorize(context.Background(), a); d != auth.Allow || err != nil {
					t.Errorf("%+v: %v %v, want allowed", a, d, err)
				}
			}
			for _, a := range tt.shouldFail {
				if d, _, err := z.Authorize(context.Background(), a); d != auth.NoOpinion || err != nil {
					t.Errorf("%+v: %v %v, want no opinion", a, d, err)
				}
			}
		})
	}
}

func TestAuthorizerReasons(t *testing.T) {
	z := &Authorizer{}
	z.UseObjects(policyObjects(t,
		testClusterRole("view", newRule("get").groups("").resources("pods")),
		testClusterBinding("viewers", "view", "Group:g"),
		testBinding("ns1", "sa-view", "ClusterRole", "view", "ServiceAccount:sa"),
		testBinding("ns1", "dangling", "ClusterRole", "missing", "User:u"),
	))
	tests := []struct {
		name   string
		attrs  auth.Attributes
		want   auth.Decision
		reason string
	}{
		{"cluster binding", res("u", []string{"g"}, "get", "", "pods", "", "", ""), auth.Allow,
			`RBAC: allowed by ClusterRoleBinding "viewers" of ClusterRole "view" to Group "g"`},
		{"role binding", res("system:serviceaccount:ns1:sa", nil, "get", "", "pods", "", "ns1", ""), auth.Allow,
			`RBAC: allowed by RoleBinding "sa-view/ns1" of ClusterRole "view" to ServiceAccount "sa/ns1"`},
		{"missing role", res("u", nil, "get", "", "pods", "", "ns1", ""), auth.NoOpinion,
			`RBAC: clusterroles.rbac.authorization.k8s.io "missing" not found`},
		{"nothing bound", res("v", nil, "get", "", "pods", "", "ns1", ""), auth.NoOpinion, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, reason, err := z.Authorize(context.Background(), tt.attrs)
			if err != nil || d != tt.want || reason != tt.reason {
				t.Errorf("got %v %q %v, want %v %q", d, reason, err, tt.want, tt.reason)
			}
		})
	}
}

// TestRuleAllows ports upstream's TestRuleMatches.
func TestRuleAllows(t *testing.T) {
	r := func(verb, group, resource, sub string) auth.Attributes {
		return res("u", nil, verb, group, resource, sub, "", "")
	}
	tests := []struct {
		name string
		rule rule
		want map[string]bool // "verb group resource[/sub]" or "verb /path"
	}{
		{"star verb", newRule("*").groups("group1").resources("resource1"), map[string]bool{
			"verb1 group1 resource1": true, "verb1 group2 resource1": false, "verb1 group1 resource2": false, "verb2 group1 resource1": true,
		}},
		{"star group", newRule("verb1").groups("*").resources("resource1"), map[string]bool{
			"verb1 group1 resource1": true, "verb1 group2 resource1": true, "verb1 group1 resource2": false, "verb2 group1 resource1": false,
		}},
		{"star resource", newRule("verb1").groups("group1").resources("*"), map[string]bool{
			"verb1 group1 resource1": true, "verb1 group1 resource2": true, "verb1 group2 resource1": false, "verb1 group1 resource1/sub": true,
		}},
		{"tuple expansion", newRule("verb1", "verb2").groups("group1", "group2").resources("resource1", "resource2"), map[string]bool{
			"verb1 group1 resource1": true, "verb1 group2 resource1": true, "verb1 group1 resource2": true, "verb2 group2 resource2": true, "verb3 group1 resource1": false,
		}},
		{"subresource", newRule("*").groups("*").resources("resource1/subresource1"), map[string]bool{
			"verb1 group1 resource1/subresource1": true, "verb1 group1 resource1/subresource2": false,
			"verb1 group1 resource2/subresource1": false, "verb1 group1 resource1": false,
		}},
		{"star nonresource", newRule("verb1").urls("*"), map[string]bool{
			"verb1 /foo": true, "verb1 /foo/bar/one": true, "verb2 /foo": false,
		}},
		{"star nonresource subpath", newRule("verb1").urls("/foo/*"), map[string]bool{
			"verb1 /foo": false, "verb1 /foo/bar": true, "verb1 /foo/bar/one": true, "verb1 /bar": false, "verb2 /foo/bar": false,
		}},
		{"exact nonresource", newRule("verb1").urls("/foo"), map[string]bool{
			"verb1 /foo": true, "verb1 /foo/bar": false, "verb1 /foobar": false,
		}},
		{"nonresource prefix without slash", newRule("verb1").urls("/foo*"), map[string]bool{
			"verb1 /foo": true, "verb1 /foobar": true, "verb1 /foo/bar": true, "verb1 /fo": false,
		}},
		{"resource rule does not match paths", newRule("*").groups("*").resources("*"), map[string]bool{
			"verb1 /foo": false, "verb1 group1 resource1": true,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := rbacv1.PolicyRule(tt.rule)
			for req, want := range tt.want {
				var a auth.Attributes
				verb, rest, _ := cut(req, " ")
				if rest[0] == '/' {
					a = nonRes("u", nil, verb, rest)
				} else {
					group, resource, _ := cut(rest, " ")
					resource, sub, _ := cut(resource, "/")
					a = r(verb, group, resource, sub)
				}
				if got := RuleAllows(a, &pr); got != want {
					t.Errorf("%s: got %v, want %v", req, got, want)
				}
			}
		})
	}
}

func cut(s, sep string) (string, string, bool) {
	for i := 0; i+len(sep) <= len(s); i++ {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

func TestRulesFor(t *testing.T) {
	z := &Authorizer{}
	z.UseObjects(policyObjects(t,
		testClusterRole("c", newRule("get").groups("").resources("nodes")),
		testRole("ns1", "r", newRule("list").groups("").resources("pods")),
		testClusterBinding("cb", "c", "User:u"),
		testBinding("ns1", "rb", "Role", "r", "User:u"),
	))
	rulesIn := func(ns string) []rbacv1.PolicyRule {
		got, errs := z.RulesFor(auth.User{Name: "u"}, ns)
		if len(errs) > 0 {
			t.Fatalf("errors: %v", errs)
		}
		return got
	}
	if diff := cmp.Diff(rules(newRule("get").groups("").resources("nodes")), rulesIn("")); diff != "" {
		t.Errorf("cluster rules (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(rules(newRule("get").groups("").resources("nodes"), newRule("list").groups("").resources("pods")), rulesIn("ns1")); diff != "" {
		t.Errorf("ns1 rules (-want +got):\n%s", diff)
	}
}
