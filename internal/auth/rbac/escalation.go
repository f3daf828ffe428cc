package rbac

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/auth"
)

// Escalation is upstream's RBAC escalation prevention as a validating
// admission plugin: a user may create or update a Role or ClusterRole
// only when holding every permission it grants, or when allowed to
// `escalate` it; and a RoleBinding or ClusterRoleBinding only when
// holding every permission of the role it refers to, or when allowed to
// `bind` that role. Members of system:masters are never refused.
type Escalation struct {
	// Rules resolves the user's own permissions.
	Rules *Authorizer
	// Authorizers are asked, in order, whether the user may escalate or
	// bind: the API server's whole chain.
	Authorizers []auth.Authorizer
}

var _ admission.Validator = (*Escalation)(nil)

// Name implements admission.Validator.
func (*Escalation) Name() string { return "RBACEscalation" }

// fullAuthority is what an aggregationRule can gather: everything.
var fullAuthority = []rbacv1.PolicyRule{
	{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
	{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
}

// Validate implements admission.Validator.
func (e *Escalation) Validate(ctx context.Context, a *admission.Attributes) error {
	if a.Resource.Group != rbacv1.GroupName || a.Subresource != "" || (a.Operation != admission.Create && a.Operation != admission.Update) {
		return nil
	}
	if slices.Contains(a.User.Groups, auth.SystemMasters) {
		return nil
	}
	if a.OldObject != nil && onlyGCFieldsChanged(a.Object, a.OldObject) {
		return nil
	}
	gr := a.Resource.GroupResource()
	switch o := a.Object.(type) {
	case *rbacv1.Role:
		if e.allowed(ctx, a.User, "escalate", "roles", o.Namespace, o.Name) {
			return nil
		}
		if err := e.confirmNoEscalation(a.User, o.Namespace, o.Rules); err != nil {
			return apierrors.NewForbidden(gr, o.Name, err)
		}
	case *rbacv1.ClusterRole:
		if e.allowed(ctx, a.User, "escalate", "clusterroles", "", o.Name) {
			return nil
		}
		if err := e.confirmNoEscalation(a.User, "", o.Rules); err != nil {
			return apierrors.NewForbidden(gr, o.Name, err)
		}
		if o.AggregationRule != nil && len(o.AggregationRule.ClusterRoleSelectors) > 0 {
			if err := e.confirmNoEscalation(a.User, "", fullAuthority); err != nil {
				return apierrors.NewForbidden(gr, o.Name, errors.New("must have cluster-admin privileges to use the aggregationRule"))
			}
		}
	case *rbacv1.RoleBinding:
		return e.checkBinding(ctx, a.User, gr, o.Name, o.RoleRef, o.Namespace)
	case *rbacv1.ClusterRoleBinding:
		return e.checkBinding(ctx, a.User, gr, o.Name, o.RoleRef, "")
	}
	return nil
}

// onlyGCFieldsChanged reports whether an update changes nothing but what
// the garbage collector changes (owner references, finalizers) and what
// the server keeps, as upstream's IsOnlyMutatingGCFields: such updates
// are not checked.
func onlyGCFieldsChanged(obj, old runtime.Object) bool {
	newMeta, oldMeta := metaOf(obj), metaOf(old)
	if newMeta == nil || oldMeta == nil {
		return false
	}
	copied := obj.DeepCopyObject()
	m := metaOf(copied)
	m.OwnerReferences, m.Finalizers, m.ManagedFields = oldMeta.OwnerReferences, oldMeta.Finalizers, oldMeta.ManagedFields
	m.ResourceVersion, m.Generation, m.SelfLink = oldMeta.ResourceVersion, oldMeta.Generation, oldMeta.SelfLink
	m.UID, m.CreationTimestamp = oldMeta.UID, oldMeta.CreationTimestamp
	return equality.Semantic.DeepEqual(copied, old)
}

func (e *Escalation) checkBinding(ctx context.Context, u auth.User, gr schema.GroupResource, name string, ref rbacv1.RoleRef, namespace string) error {
	resource := "clusterroles"
	if ref.Kind == "Role" {
		resource = "roles"
	}
	if e.allowed(ctx, u, "bind", resource, namespace, ref.Name) {
		return nil
	}
	objs := e.Rules.reader()
	if objs == nil {
		return apierrors.NewForbidden(gr, name, errors.New("RBAC objects are not loaded yet"))
	}
	rules, err := roleRules(objs, ref, namespace)
	if err != nil {
		return apierrors.NewForbidden(gr, name, err)
	}
	if err := e.confirmNoEscalation(u, namespace, rules); err != nil {
		return apierrors.NewForbidden(gr, name, err)
	}
	return nil
}

// allowed asks the authorizer chain whether u may verb the named role.
func (e *Escalation) allowed(ctx context.Context, u auth.User, verb, resource, namespace, name string) bool {
	attrs := auth.Attributes{
		User: u, Verb: verb, IsResource: true, Namespace: namespace,
		APIGroup: rbacv1.GroupName, APIVersion: "v1", Resource: resource, Name: name,
	}
	for _, z := range e.Authorizers {
		d, _, err := z.Authorize(ctx, attrs)
		if err != nil || d == auth.Deny {
			return false
		}
		if d == auth.Allow {
			return true
		}
	}
	return false
}

// confirmNoEscalation refuses rules u does not hold in namespace, with
// upstream's message.
func (e *Escalation) confirmNoEscalation(u auth.User, namespace string, rules []rbacv1.PolicyRule) error {
	owner, resolveErrs := e.Rules.RulesFor(u, namespace)
	ok, missing := Covers(owner, rules)
	if ok {
		return nil
	}
	var lines []string
	for _, r := range compact(missing) {
		lines = append(lines, compactString(r))
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	msg := fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s", u.Name, u.Groups, strings.Join(lines, "\n"))
	if len(resolveErrs) > 0 {
		msg += fmt.Sprintf("; resolution errors: %v", resolveErrs)
	}
	return errors.New(msg)
}
