package rbac

import (
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Reconcile brings stored, a copy the caller owns, up to date with want,
// one of DefaultPolicy's objects, as upstream's bootstrap reconciliation:
// unless stored is annotated rbac.authorization.kubernetes.io/autoupdate
// "false", it gains the labels and annotations it lacks, the permissions
// its rules do not cover, the aggregation selectors and the subjects it
// lacks. Nothing is removed. It returns stored, and whether it changed.
func Reconcile(stored, want runtime.Object) (runtime.Object, bool) {
	sm, wm := metaOf(stored), metaOf(want)
	if sm == nil || wm == nil || sm.Annotations[rbacv1.AutoUpdateAnnotationKey] == "false" {
		return stored, false
	}
	changed := mergeMissing(&sm.Labels, wm.Labels)
	changed = mergeMissing(&sm.Annotations, wm.Annotations) || changed
	switch s := stored.(type) {
	case *rbacv1.ClusterRole:
		w := want.(*rbacv1.ClusterRole)
		s.Rules, changed = addMissingRules(s.Rules, w.Rules, changed)
		if w.AggregationRule != nil {
			if s.AggregationRule == nil {
				s.AggregationRule = &rbacv1.AggregationRule{}
			}
			for _, sel := range w.AggregationRule.ClusterRoleSelectors {
				if !slices.ContainsFunc(s.AggregationRule.ClusterRoleSelectors, func(have metav1.LabelSelector) bool {
					return equality.Semantic.DeepEqual(have, sel)
				}) {
					s.AggregationRule.ClusterRoleSelectors = append(s.AggregationRule.ClusterRoleSelectors, *sel.DeepCopy())
					changed = true
				}
			}
		}
	case *rbacv1.Role:
		s.Rules, changed = addMissingRules(s.Rules, want.(*rbacv1.Role).Rules, changed)
	case *rbacv1.ClusterRoleBinding:
		s.Subjects, changed = addMissingSubjects(s.Subjects, want.(*rbacv1.ClusterRoleBinding).Subjects, changed)
	case *rbacv1.RoleBinding:
		s.Subjects, changed = addMissingSubjects(s.Subjects, want.(*rbacv1.RoleBinding).Subjects, changed)
	}
	return stored, changed
}

func metaOf(o runtime.Object) *metav1.ObjectMeta {
	switch o := o.(type) {
	case *rbacv1.ClusterRole:
		return &o.ObjectMeta
	case *rbacv1.Role:
		return &o.ObjectMeta
	case *rbacv1.ClusterRoleBinding:
		return &o.ObjectMeta
	case *rbacv1.RoleBinding:
		return &o.ObjectMeta
	}
	return nil
}

// mergeMissing adds the keys of want that m lacks; present keys keep
// their values.
func mergeMissing(m *map[string]string, want map[string]string) bool {
	changed := false
	for k, v := range want {
		if _, ok := (*m)[k]; ok {
			continue
		}
		if *m == nil {
			*m = map[string]string{}
		}
		(*m)[k] = v
		changed = true
	}
	return changed
}

func addMissingRules(have, want []rbacv1.PolicyRule, changed bool) ([]rbacv1.PolicyRule, bool) {
	if ok, missing := Covers(have, want); !ok {
		return append(have, compact(missing)...), true
	}
	return have, changed
}

func addMissingSubjects(have, want []rbacv1.Subject, changed bool) ([]rbacv1.Subject, bool) {
	for _, s := range want {
		if !slices.Contains(have, s) {
			have = append(have, s)
			changed = true
		}
	}
	return have, changed
}
