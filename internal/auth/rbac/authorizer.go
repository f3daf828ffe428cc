package rbac

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/auth"
)

// The RBAC resources the authorizer reads.
var (
	rolesResource               = schema.GroupResource{Group: rbacv1.GroupName, Resource: "roles"}
	clusterRolesResource        = schema.GroupResource{Group: rbacv1.GroupName, Resource: "clusterroles"}
	roleBindingsResource        = schema.GroupResource{Group: rbacv1.GroupName, Resource: "rolebindings"}
	clusterRoleBindingsResource = schema.GroupResource{Group: rbacv1.GroupName, Resource: "clusterrolebindings"}
)

// Authorizer is upstream's RBAC authorizer over the API server's current
// objects. It must receive them (UseObjects) before it is asked; until
// then it has no opinion on anything. Safe for concurrent use.
type Authorizer struct {
	mu      sync.RWMutex // guards objects
	objects auth.Objects
}

var (
	_ auth.Authorizer  = (*Authorizer)(nil)
	_ auth.ObjectsUser = (*Authorizer)(nil)
)

// UseObjects implements auth.ObjectsUser.
func (z *Authorizer) UseObjects(o auth.Objects) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.objects = o
}

func (z *Authorizer) reader() auth.Objects {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return z.objects
}

// Authorize allows a request some bound rule permits, with the reason
// naming the binding; otherwise it has no opinion, and the reason lists
// the errors met resolving bindings (a missing role), as upstream.
func (z *Authorizer) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	var errs []error
	var reason string
	z.visitRules(a.User, a.Namespace, func(source string, rule *rbacv1.PolicyRule, err error) bool {
		if err != nil {
			errs = append(errs, err)
			return true
		}
		if RuleAllows(a, rule) {
			reason = "RBAC: allowed by " + source
			return false
		}
		return true
	})
	if reason != "" {
		return auth.Allow, reason, nil
	}
	if len(errs) > 0 {
		return auth.NoOpinion, "RBAC: " + aggregate(errs), nil
	}
	return auth.NoOpinion, "", nil
}

// RulesFor returns the rules bound to u that apply in namespace ("" for
// cluster-wide bindings only), and the errors met resolving them.
func (z *Authorizer) RulesFor(u auth.User, namespace string) ([]rbacv1.PolicyRule, []error) {
	var rules []rbacv1.PolicyRule
	var errs []error
	z.visitRules(u, namespace, func(_ string, rule *rbacv1.PolicyRule, err error) bool {
		if err != nil {
			errs = append(errs, err)
		} else {
			rules = append(rules, *rule)
		}
		return true
	})
	return rules, errs
}

// aggregate formats errors as upstream's utilerrors.NewAggregate.
func aggregate(errs []error) string {
	if len(errs) == 1 {
		return errs[0].Error()
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return "[" + strings.Join(msgs, ", ") + "]"
}

// visitRules calls visit with every rule bound to u in namespace: those of
// ClusterRoleBindings, then of the namespace's RoleBindings; visit
// returns false to stop.
func (z *Authorizer) visitRules(u auth.User, namespace string, visit func(source string, rule *rbacv1.PolicyRule, err error) bool) {
	objs := z.reader()
	if objs == nil {
		visit("", nil, errors.New("RBAC objects are not loaded yet"))
		return
	}
	crbs, err := objs.List(clusterRoleBindingsResource, "", nil)
	if err != nil {
		if !visit("", nil, err) {
			return
		}
	}
	for _, o := range crbs {
		b := o.(*rbacv1.ClusterRoleBinding)
		subject := appliesToAny(u, b.Subjects, "")
		if subject == nil {
			continue
		}
		rules, err := roleRules(objs, b.RoleRef, "")
		if err != nil {
			if !visit("", nil, err) {
				return
			}
			continue
		}
		source := fmt.Sprintf("ClusterRoleBinding %q of %s %q to %s", b.Name, b.RoleRef.Kind, b.RoleRef.Name, describeSubject(subject, ""))
		for i := range rules {
			if !visit(source, &rules[i], nil) {
				return
			}
		}
	}
	if namespace == "" {
		return
	}
	rbs, err := objs.List(roleBindingsResource, namespace, nil)
	if err != nil {
		if !visit("", nil, err) {
			return
		}
	}
	for _, o := range rbs {
		b := o.(*rbacv1.RoleBinding)
		subject := appliesToAny(u, b.Subjects, namespace)
		if subject == nil {
			continue
		}
		rules, err := roleRules(objs, b.RoleRef, namespace)
		if err != nil {
			if !visit("", nil, err) {
				return
			}
			continue
		}
		source := fmt.Sprintf("RoleBinding %q of %s %q to %s", b.Name+"/"+b.Namespace, b.RoleRef.Kind, b.RoleRef.Name, describeSubject(subject, b.Namespace))
		for i := range rules {
			if !visit(source, &rules[i], nil) {
				return
			}
		}
	}
}

func appliesToAny(u auth.User, subjects []rbacv1.Subject, namespace string) *rbacv1.Subject {
	for i := range subjects {
		if appliesTo(u, &subjects[i], namespace) {
			return &subjects[i]
		}
	}
	return nil
}

// describeSubject names a subject as upstream's reasons do.
func describeSubject(s *rbacv1.Subject, bindingNamespace string) string {
	if s.Kind == rbacv1.ServiceAccountKind {
		ns := s.Namespace
		if ns == "" {
			ns = bindingNamespace
		}
		return fmt.Sprintf("%s %q", s.Kind, s.Name+"/"+ns)
	}
	return fmt.Sprintf("%s %q", s.Kind, s.Name)
}

// roleRules returns the rules of the role ref names: a ClusterRole, or a
// Role in namespace. The objects are shared: callers must not change them.
func roleRules(objs auth.Objects, ref rbacv1.RoleRef, namespace string) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "ClusterRole":
		o, err := objs.Get(clusterRolesResource, "", ref.Name)
		if err != nil {
			return nil, err
		}
		return o.(*rbacv1.ClusterRole).Rules, nil
	case "Role":
		if namespace == "" {
			return nil, fmt.Errorf("a Role %q cannot be bound cluster-wide", ref.Name)
		}
		o, err := objs.Get(rolesResource, namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		return o.(*rbacv1.Role).Rules, nil
	}
	return nil, fmt.Errorf("unsupported role reference kind: %q", ref.Kind)
}
