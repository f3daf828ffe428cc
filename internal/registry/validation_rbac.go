package registry

import (
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validatePolicyRules requires verbs, and either resources with API groups
// or, for cluster roles only, non-resource URLs.
func validatePolicyRules(rules []rbacv1.PolicyRule, namespaced bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, r := range rules {
		p := fldPath.Index(i)
		if len(r.Verbs) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("verbs"), "verbs must contain at least one value"))
		}
		if len(r.NonResourceURLs) > 0 {
			if namespaced {
				allErrs = append(allErrs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(r.APIGroups) > 0 || len(r.Resources) > 0 || len(r.ResourceNames) > 0 {
				allErrs = append(allErrs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
			}
			continue
		}
		if len(r.APIGroups) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("apiGroups"), "resource rules must supply at least one api group"))
		}
		if len(r.Resources) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("resources"), "resource rules must supply at least one resource"))
		}
	}
	return allErrs
}

func validateRole(r *rbacv1.Role) field.ErrorList {
	return validatePolicyRules(r.Rules, true, field.NewPath("rules"))
}

func validateClusterRole(r *rbacv1.ClusterRole) field.ErrorList {
	allErrs := validatePolicyRules(r.Rules, false, field.NewPath("rules"))
	if a := r.AggregationRule; a != nil {
		p := field.NewPath("aggregationRule", "clusterRoleSelectors")
		if len(a.ClusterRoleSelectors) == 0 {
			allErrs = append(allErrs, field.Required(p, "at least one clusterRoleSelector required if aggregationRule is non-nil"))
		}
		for i, s := range a.ClusterRoleSelectors {
			allErrs = append(allErrs, metavalidation.ValidateLabelSelector(&s, metavalidation.LabelSelectorValidationOptions{}, p.Index(i))...)
		}
	}
	return allErrs
}

// validateRoleRef requires a reference to a Role or ClusterRole (only
// ClusterRole for cluster bindings) in the RBAC group.
func validateRoleRef(ref rbacv1.RoleRef, kinds []string) field.ErrorList {
	p := field.NewPath("roleRef")
	var allErrs field.ErrorList
	if ref.APIGroup != rbacv1.GroupName {
		allErrs = append(allErrs, field.NotSupported(p.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	if !slices.Contains(kinds, ref.Kind) {
		allErrs = append(allErrs, field.NotSupported(p.Child("kind"), ref.Kind, kinds))
	}
	if ref.Name == "" {
		allErrs = append(allErrs, field.Required(p.Child("name"), ""))
	} else {
		allErrs = append(allErrs, invalid(p.Child("name"), ref.Name, path.IsValidPathSegmentName(ref.Name))...)
	}
	return allErrs
}

func validateSubjects(subjects []rbacv1.Subject, namespaced bool) field.ErrorList {
	var allErrs field.ErrorList
	for i, s := range subjects {
		p := field.NewPath("subjects").Index(i)
		if s.Name == "" {
			allErrs = append(allErrs, field.Required(p.Child("name"), ""))
		}
		switch s.Kind {
		case rbacv1.ServiceAccountKind:
			if s.Name != "" {
				allErrs = append(allErrs, dns1123Subdomain(s.Name, p.Child("name"))...)
			}
			if s.APIGroup != "" {
				allErrs = append(allErrs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{""}))
			}
			if !namespaced && s.Namespace == "" {
				allErrs = append(allErrs, field.Required(p.Child("namespace"), ""))
			}
		case rbacv1.UserKind, rbacv1.GroupKind:
			if s.APIGroup != rbacv1.GroupName {
				allErrs = append(allErrs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{rbacv1.GroupName}))
			}
		default:
			allErrs = append(allErrs, field.NotSupported(p.Child("kind"), s.Kind, []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
		}
	}
	return allErrs
}

func validateRoleBinding(rb *rbacv1.RoleBinding) field.ErrorList {
	return append(validateRoleRef(rb.RoleRef, []string{"Role", "ClusterRole"}), validateSubjects(rb.Subjects, true)...)
}

func validateClusterRoleBinding(rb *rbacv1.ClusterRoleBinding) field.ErrorList {
	return append(validateRoleRef(rb.RoleRef, []string{"ClusterRole"}), validateSubjects(rb.Subjects, false)...)
}

func validateRoleBindingUpdate(rb, old *rbacv1.RoleBinding) field.ErrorList {
	return validateRoleRefUpdate(rb.RoleRef, old.RoleRef)
}

func validateClusterRoleBindingUpdate(rb, old *rbacv1.ClusterRoleBinding) field.ErrorList {
	return validateRoleRefUpdate(rb.RoleRef, old.RoleRef)
}

func validateRoleRefUpdate(ref, old rbacv1.RoleRef) field.ErrorList {
	if ref != old {
		return field.ErrorList{field.Invalid(field.NewPath("roleRef"), ref, "cannot change roleRef")}
	}
	return nil
}
