// Package matching decides which requests an admission webhook or a
// ValidatingAdmissionPolicy applies to, as upstream: rules of operations,
// groups, versions, resources and scope; namespace and object label
// selectors; and the exemption of admission configuration objects.
package matching

import (
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/auth"
)

var namespacesResource = schema.GroupResource{Resource: "namespaces"}

// Exempt reports whether a concerns an admission configuration object,
// which webhooks and policies never see (so they cannot lock themselves in).
func Exempt(a *admission.Attributes) bool {
	if a.Resource.Group != admissionregistrationv1.GroupName {
		return false
	}
	switch a.Resource.Resource {
	case "validatingwebhookconfigurations", "mutatingwebhookconfigurations",
		"validatingadmissionpolicies", "validatingadmissionpolicybindings",
		"mutatingadmissionpolicies", "mutatingadmissionpolicybindings":
		return true
	}
	return false
}

// Rule reports whether a matches r.
func Rule(r admissionregistrationv1.RuleWithOperations, a *admission.Attributes) bool {
	return operation(r.Operations, a.Operation) &&
		anyOf(r.APIGroups, a.Resource.Group) &&
		anyOf(r.APIVersions, a.Resource.Version) &&
		resource(r.Resources, a.Resource.Resource, a.Subresource) &&
		scope(r.Scope, a)
}

// Rules reports whether a matches any of rules.
func Rules(rules []admissionregistrationv1.RuleWithOperations, a *admission.Attributes) bool {
	for _, r := range rules {
		if Rule(r, a) {
			return true
		}
	}
	return false
}

// NamedRules reports whether a matches any of rules, honouring their
// resourceNames (ValidatingAdmissionPolicy's matchResources).
func NamedRules(rules []admissionregistrationv1.NamedRuleWithOperations, a *admission.Attributes) bool {
	for _, r := range rules {
		if !Rule(admissionregistrationv1.RuleWithOperations{Operations: r.Operations, Rule: r.Rule}, a) {
			continue
		}
		if len(r.ResourceNames) == 0 || anyOf(r.ResourceNames, a.Name) {
			return true
		}
	}
	return false
}

func operation(ops []admissionregistrationv1.OperationType, op admission.Operation) bool {
	for _, o := range ops {
		if o == admissionregistrationv1.OperationAll || string(o) == string(op) {
			return true
		}
	}
	return false
}

func anyOf(list []string, v string) bool {
	for _, x := range list {
		if x == "*" || x == v {
			return true
		}
	}
	return false
}

// resource matches "res", "res/sub", "*", "*/*", "res/*" and "*/sub".
func resource(list []string, res, sub string) bool {
	for _, pattern := range list {
		want, wantSub, hasSub := strings.Cut(pattern, "/")
		switch {
		case pattern == "*/*":
			return true
		case !hasSub:
			if sub == "" && (want == "*" || want == res) {
				return true
			}
		case (want == "*" || want == res) && (wantSub == "*" || wantSub == sub):
			return true
		}
	}
	return false
}

// scope: a Namespace object is cluster-scoped, whatever namespace its
// request names.
func scope(s *admissionregistrationv1.ScopeType, a *admission.Attributes) bool {
	if s == nil || *s == admissionregistrationv1.AllScopes {
		return true
	}
	clusterScoped := a.Resource.GroupResource() == namespacesResource || a.Namespace == ""
	if *s == admissionregistrationv1.ClusterScope {
		return clusterScoped
	}
	return !clusterScoped
}

// Namespace reports whether a's namespace matches sel: requests for
// cluster-scoped objects always match, a Namespace object matches by its
// own labels, and anything else by its namespace's labels.
func Namespace(sel *metav1.LabelSelector, a *admission.Attributes, objects auth.Objects) (bool, error) {
	s, err := selector(sel)
	if err != nil || s.Empty() {
		return err == nil, err
	}
	if a.Resource.GroupResource() == namespacesResource {
		return s.Matches(labels.Set(objectLabels(a.Object, a.OldObject))), nil
	}
	if a.Namespace == "" {
		return true, nil
	}
	obj, err := objects.Get(namespacesResource, "", a.Namespace)
	if err != nil {
		return false, fmt.Errorf("looking up namespace %q: %w", a.Namespace, err)
	}
	return s.Matches(labels.Set(obj.(*corev1.Namespace).Labels)), nil
}

// Object reports whether the object or the old object matches sel.
func Object(sel *metav1.LabelSelector, a *admission.Attributes) (bool, error) {
	s, err := selector(sel)
	if err != nil || s.Empty() {
		return err == nil, err
	}
	for _, o := range []runtime.Object{a.Object, a.OldObject} {
		if o != nil && s.Matches(labels.Set(objectLabels(o, nil))) {
			return true, nil
		}
	}
	return false, nil
}

func selector(sel *metav1.LabelSelector) (labels.Selector, error) {
	if sel == nil {
		return labels.Everything(), nil
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, fmt.Errorf("invalid label selector: %w", err)
	}
	return s, nil
}

// objectLabels returns the labels of obj, or of old when obj is nil.
func objectLabels(obj, old runtime.Object) map[string]string {
	if obj == nil {
		obj = old
	}
	if obj == nil {
		return nil
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	return m.GetLabels()
}
