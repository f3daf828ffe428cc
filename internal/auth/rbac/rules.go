package rbac

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"berth.dev/berth/internal/auth"
)

// serviceAccountPrefix starts the user name of a ServiceAccount:
// system:serviceaccount:<namespace>:<name>.
const serviceAccountPrefix = "system:serviceaccount:"

// RuleAllows reports whether rule permits the request a describes.
func RuleAllows(a auth.Attributes, rule *rbacv1.PolicyRule) bool {
	if !verbMatches(rule, a.Verb) {
		return false
	}
	if !a.IsResource {
		return nonResourceURLMatches(rule, a.Path)
	}
	combined := a.Resource
	if a.Subresource != "" {
		combined += "/" + a.Subresource
	}
	return apiGroupMatches(rule, a.APIGroup) &&
		resourceMatches(rule, combined, a.Subresource) &&
		resourceNameMatches(rule, a.Name)
}

func verbMatches(rule *rbacv1.PolicyRule, verb string) bool {
	return slices.Contains(rule.Verbs, rbacv1.VerbAll) || slices.Contains(rule.Verbs, verb)
}

func apiGroupMatches(rule *rbacv1.PolicyRule, group string) bool {
	return slices.Contains(rule.APIGroups, rbacv1.APIGroupAll) || slices.Contains(rule.APIGroups, group)
}

// resourceMatches matches "*", the exact "resource[/subresource]", and
// "*/subresource" for a subresource request.
func resourceMatches(rule *rbacv1.PolicyRule, combined, subresource string) bool {
	for _, r := range rule.Resources {
		switch {
		case r == rbacv1.ResourceAll, r == combined:
			return true
		case subresource != "" && r == "*/"+subresource:
			return true
		}
	}
	return false
}

// resourceNameMatches: a rule without names matches every name.
func resourceNameMatches(rule *rbacv1.PolicyRule, name string) bool {
	return len(rule.ResourceNames) == 0 || slices.Contains(rule.ResourceNames, name)
}

// nonResourceURLMatches matches "*", the exact path, and a prefix ending in "*".
func nonResourceURLMatches(rule *rbacv1.PolicyRule, path string) bool {
	for _, u := range rule.NonResourceURLs {
		if nonResourceURLCovers(u, path) {
			return true
		}
	}
	return false
}

func nonResourceURLCovers(owner, path string) bool {
	if owner == rbacv1.NonResourceAll || owner == path {
		return true
	}
	return strings.HasSuffix(owner, "*") && strings.HasPrefix(path, strings.TrimRight(owner, "*"))
}

// appliesTo reports whether subject names u; a ServiceAccount subject
// without a namespace means one in namespace (the binding's).
func appliesTo(u auth.User, subject *rbacv1.Subject, namespace string) bool {
	switch subject.Kind {
	case rbacv1.UserKind:
		return u.Name == subject.Name
	case rbacv1.GroupKind:
		return slices.Contains(u.Groups, subject.Name)
	case rbacv1.ServiceAccountKind:
		ns := subject.Namespace
		if ns == "" {
			ns = namespace
		}
		return ns != "" && u.Name == serviceAccountPrefix+ns+":"+subject.Name
	}
	return false
}

// Covers reports whether owner grants every permission of servant, and
// which of servant's permissions (broken down to one verb, group,
// resource and name each) it does not, as upstream's validation.Covers.
func Covers(owner, servant []rbacv1.PolicyRule) (bool, []rbacv1.PolicyRule) {
	var missing []rbacv1.PolicyRule
	for _, rule := range servant {
		for _, sub := range breakdown(rule) {
			if !slices.ContainsFunc(owner, func(o rbacv1.PolicyRule) bool { return ruleCovers(&o, &sub) }) {
				missing = append(missing, sub)
			}
		}
	}
	return len(missing) == 0, missing
}

// breakdown splits rule into rules of one verb and one group, resource
// and name (or one non-resource URL) each.
func breakdown(rule rbacv1.PolicyRule) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, group := range rule.APIGroups {
		for _, res := range rule.Resources {
			for _, verb := range rule.Verbs {
				if len(rule.ResourceNames) == 0 {
					out = append(out, rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{res}, Verbs: []string{verb}})
				}
				for _, name := range rule.ResourceNames {
					out = append(out, rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{res}, ResourceNames: []string{name}, Verbs: []string{verb}})
				}
			}
		}
	}
	for _, u := range rule.NonResourceURLs {
		for _, verb := range rule.Verbs {
			out = append(out, rbacv1.PolicyRule{NonResourceURLs: []string{u}, Verbs: []string{verb}})
		}
	}
	return out
}

func hasAll(set, want []string) bool {
	for _, w := range want {
		if !slices.Contains(set, w) {
			return false
		}
	}
	return true
}

// ruleCovers reports whether owner grants everything sub does.
func ruleCovers(owner, sub *rbacv1.PolicyRule) bool {
	verbs := slices.Contains(owner.Verbs, rbacv1.VerbAll) || hasAll(owner.Verbs, sub.Verbs)
	groups := slices.Contains(owner.APIGroups, rbacv1.APIGroupAll) || hasAll(owner.APIGroups, sub.APIGroups)
	names := len(owner.ResourceNames) == 0 || (len(sub.ResourceNames) > 0 && hasAll(owner.ResourceNames, sub.ResourceNames))
	return verbs && groups && names && resourcesCover(owner.Resources, sub.Resources) && urlsCover(owner.NonResourceURLs, sub.NonResourceURLs)
}

func resourcesCover(owner, sub []string) bool {
	if slices.Contains(owner, rbacv1.ResourceAll) {
		return true
	}
	for _, r := range sub {
		if slices.Contains(owner, r) {
			continue
		}
		_, subresource, ok := strings.Cut(r, "/")
		if !ok || !slices.Contains(owner, "*/"+subresource) {
			return false
		}
	}
	return true
}

func urlsCover(owner, sub []string) bool {
	for _, u := range sub {
		if !slices.ContainsFunc(owner, func(o string) bool { return nonResourceURLCovers(o, u) }) {
			return false
		}
	}
	return true
}

// compact merges the verbs of rules that differ only in verbs and name
// no resource names, as upstream's CompactRules.
func compact(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	type key struct{ group, resource string }
	var out []rbacv1.PolicyRule
	at := map[key]int{}
	for _, r := range rules {
		if len(r.ResourceNames) == 0 && len(r.NonResourceURLs) == 0 && len(r.APIGroups) == 1 && len(r.Resources) == 1 {
			k := key{r.APIGroups[0], r.Resources[0]}
			if i, ok := at[k]; ok {
				for _, v := range r.Verbs {
					if !slices.Contains(out[i].Verbs, v) {
						out[i].Verbs = append(out[i].Verbs, v)
					}
				}
				continue
			}
			at[k] = len(out)
		}
		out = append(out, *r.DeepCopy())
	}
	return out
}

// compactString renders a rule as upstream's PolicyRule.CompactString:
// {APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}.
func compactString(r rbacv1.PolicyRule) string {
	var parts []string
	add := func(name string, v []string) {
		if len(v) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%q", name, v))
		}
	}
	add("APIGroups", r.APIGroups)
	add("Resources", r.Resources)
	add("NonResourceURLs", r.NonResourceURLs)
	add("ResourceNames", r.ResourceNames)
	add("Verbs", r.Verbs)
	return "{" + strings.Join(parts, ", ") + "}"
}
