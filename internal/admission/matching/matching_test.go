package matching

import (
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/admission/admissiontest"
)

func attrs(op admission.Operation, group, version, res, sub, ns string) *admission.Attributes {
	return &admission.Attributes{Operation: op, Resource: schema.GroupVersionResource{Group: group, Version: version, Resource: res}, Subresource: sub, Namespace: ns, Name: "x"}
}

func rule(ops []admissionregistrationv1.OperationType, groups, versions, resources []string, scope *admissionregistrationv1.ScopeType) admissionregistrationv1.RuleWithOperations {
	return admissionregistrationv1.RuleWithOperations{Operations: ops, Rule: admissionregistrationv1.Rule{APIGroups: groups, APIVersions: versions, Resources: resources, Scope: scope}}
}

func TestRule(t *testing.T) {
	create := []admissionregistrationv1.OperationType{admissionregistrationv1.Create}
	all := []admissionregistrationv1.OperationType{admissionregistrationv1.OperationAll}
	any := []string{"*"}
	core := []string{""}
	tests := []struct {
		name string
		r    admissionregistrationv1.RuleWithOperations
		a    *admission.Attributes
		want bool
	}{
		{"exact", rule(create, core, []string{"v1"}, []string{"pods"}, nil), attrs(admission.Create, "", "v1", "pods", "", "ns"), true},
		{"other operation", rule(create, core, any, []string{"pods"}, nil), attrs(admission.Update, "", "v1", "pods", "", "ns"), false},
		{"all operations", rule(all, core, any, []string{"pods"}, nil), attrs(admission.Delete, "", "v1", "pods", "", "ns"), true},
		{"other group", rule(create, []string{"apps"}, any, []string{"*"}, nil), attrs(admission.Create, "", "v1", "pods", "", "ns"), false},
		{"star skips subresources", rule(all, any, any, []string{"*"}, nil), attrs(admission.Update, "", "v1", "pods", "status", "ns"), false},
		{"star star", rule(all, any, any, []string{"*/*"}, nil), attrs(admission.Update, "", "v1", "pods", "status", "ns"), true},
		{"resource subresource", rule(all, any, any, []string{"pods/status"}, nil), attrs(admission.Update, "", "v1", "pods", "status", "ns"), true},
		{"resource star", rule(all, any, any, []string{"pods/*"}, nil), attrs(admission.Create, "", "v1", "pods", "binding", "ns"), true},
		{"star subresource", rule(all, any, any, []string{"*/scale"}, nil), attrs(admission.Update, "apps", "v1", "deployments", "scale", "ns"), true},
		{"plain does not match subresource", rule(all, any, any, []string{"pods"}, nil), attrs(admission.Update, "", "v1", "pods", "status", "ns"), false},
		{"namespaced scope", rule(all, any, any, []string{"*"}, ptr.To(admissionregistrationv1.NamespacedScope)), attrs(admission.Create, "", "v1", "pods", "", "ns"), true},
		{"namespaced scope, cluster object", rule(all, any, any, []string{"*"}, ptr.To(admissionregistrationv1.NamespacedScope)), attrs(admission.Create, "", "v1", "nodes", "", ""), false},
		{"namespace object is cluster-scoped", rule(all, any, any, []string{"*"}, ptr.To(admissionregistrationv1.ClusterScope)), attrs(admission.Create, "", "v1", "namespaces", "", "x"), true},
	}
	for _, tt := range tests {
		if got := Rule(tt.r, tt.a); got != tt.want {
			t.Errorf("%s: Rule = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSelectors(t *testing.T) {
	objects := admissiontest.Objects{namespacesResource: {
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "prod", Labels: map[string]string{"env": "prod"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "dev", Labels: map[string]string{"env": "dev"}}},
	}}
	prod := &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}
	tests := []struct {
		name string
		a    *admission.Attributes
		want bool
	}{
		{"pod in prod", attrs(admission.Create, "", "v1", "pods", "", "prod"), true},
		{"pod in dev", attrs(admission.Create, "", "v1", "pods", "", "dev"), false},
		{"cluster-scoped object", attrs(admission.Create, "", "v1", "nodes", "", ""), true},
		{"namespace by its own labels", &admission.Attributes{Operation: admission.Create, Resource: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, Namespace: "new",
			Object: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "new", Labels: map[string]string{"env": "prod"}}}}, true},
	}
	for _, tt := range tests {
		got, err := Namespace(prod, tt.a, objects)
		if err != nil || got != tt.want {
			t.Errorf("%s: Namespace = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	if _, err := Namespace(prod, attrs(admission.Create, "", "v1", "pods", "", "ghost"), objects); err == nil {
		t.Error("missing namespace: no error")
	}

	web := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	a := &admission.Attributes{Object: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}}},
		OldObject: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}}}
	if ok, err := Object(web, a); !ok || err != nil {
		t.Errorf("old object's labels: %v %v, want a match", ok, err)
	}
	a.OldObject = nil
	if ok, _ := Object(web, a); ok {
		t.Error("object with other labels matched")
	}
	if ok, _ := Object(nil, a); !ok {
		t.Error("no selector did not match")
	}
	if !Exempt(attrs(admission.Create, "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "", "")) || Exempt(attrs(admission.Create, "", "v1", "pods", "", "ns")) {
		t.Error("Exempt wrong")
	}
}
