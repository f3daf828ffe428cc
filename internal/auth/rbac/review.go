package rbac

import (
	"context"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"berth.dev/berth/internal/auth"
)

// Reviews answers the authorization.k8s.io access reviews: whether a
// user may do something, by asking the API server's whole authorizer
// chain, and which rules RBAC grants a user in a namespace.
type Reviews struct {
	// Authorizers are asked in order, as the API server asks them.
	Authorizers []auth.Authorizer
	// Rules lists the rules for SelfSubjectRulesReview.
	Rules *Authorizer
}

// ReviewFunc answers one review: obj is the decoded request from user.
type ReviewFunc func(ctx context.Context, user auth.User, obj runtime.Object) (runtime.Object, error)

// Funcs returns the reviews by the resource they answer.
func (r *Reviews) Funcs() map[schema.GroupResource]ReviewFunc {
	gr := func(res string) schema.GroupResource {
		return schema.GroupResource{Group: authorizationv1.GroupName, Resource: res}
	}
	return map[schema.GroupResource]ReviewFunc{
		gr("subjectaccessreviews"):      r.subjectAccessReview,
		gr("localsubjectaccessreviews"): r.localSubjectAccessReview,
		gr("selfsubjectaccessreviews"):  r.selfSubjectAccessReview,
		gr("selfsubjectrulesreviews"):   r.selfSubjectRulesReview,
	}
}

// decide asks the chain as upstream's union authorizer: the first Allow
// or Deny decides with its reason; otherwise the reasons of all, one a
// line. Evaluation errors are reported, not fatal.
func (r *Reviews) decide(ctx context.Context, a auth.Attributes) authorizationv1.SubjectAccessReviewStatus {
	var st authorizationv1.SubjectAccessReviewStatus
	var reasons, errs []string
	for _, z := range r.Authorizers {
		d, reason, err := z.Authorize(ctx, a)
		if err != nil {
			errs = append(errs, err.Error())
		}
		if reason != "" {
			reasons = append(reasons, reason)
		}
		if d == auth.Allow || d == auth.Deny {
			st.Allowed, st.Denied, st.Reason = d == auth.Allow, d == auth.Deny, reason
			st.EvaluationError = strings.Join(errs, ", ")
			return st
		}
	}
	st.Reason = strings.Join(reasons, "\n")
	st.EvaluationError = strings.Join(errs, ", ")
	return st
}

// attributes turns a review's resource or non-resource attributes into
// an authorization request of u.
func attributes(u auth.User, res *authorizationv1.ResourceAttributes, nonRes *authorizationv1.NonResourceAttributes) auth.Attributes {
	if res != nil {
		return auth.Attributes{
			User: u, Verb: res.Verb, IsResource: true, Namespace: res.Namespace,
			APIGroup: res.Group, APIVersion: res.Version, Resource: res.Resource,
			Subresource: res.Subresource, Name: res.Name,
		}
	}
	return auth.Attributes{User: u, Verb: nonRes.Verb, Path: nonRes.Path}
}

// validateAttributes is upstream's check that exactly one kind of
// attributes is given.
func validateAttributes(res *authorizationv1.ResourceAttributes, nonRes *authorizationv1.NonResourceAttributes) field.ErrorList {
	spec := field.NewPath("spec")
	switch {
	case res == nil && nonRes == nil:
		return field.ErrorList{field.Required(spec.Child("resourceAttributes"), "exactly one of nonResourceAttributes or resourceAttributes must be specified")}
	case res != nil && nonRes != nil:
		return field.ErrorList{field.Invalid(spec.Child("nonResourceAttributes"), nonRes, `cannot be specified in combination with resourceAttributes`)}
	}
	return nil
}

func invalid(kind, name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: authorizationv1.GroupName, Kind: kind}, name, errs)
}

func (r *Reviews) subjectAccessReview(ctx context.Context, _ auth.User, obj runtime.Object) (runtime.Object, error) {
	sar := obj.(*authorizationv1.SubjectAccessReview)
	errs := validateAttributes(sar.Spec.ResourceAttributes, sar.Spec.NonResourceAttributes)
	if sar.Spec.User == "" && len(sar.Spec.Groups) == 0 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "user"), sar.Spec.User, "at least one of user or group must be specified"))
	}
	if len(errs) > 0 {
		return nil, invalid("SubjectAccessReview", sar.Name, errs)
	}
	sar.Status = r.decide(ctx, attributes(specUser(sar.Spec), sar.Spec.ResourceAttributes, sar.Spec.NonResourceAttributes))
	return sar, nil
}

func (r *Reviews) localSubjectAccessReview(ctx context.Context, _ auth.User, obj runtime.Object) (runtime.Object, error) {
	sar := obj.(*authorizationv1.LocalSubjectAccessReview)
	errs := validateAttributes(sar.Spec.ResourceAttributes, sar.Spec.NonResourceAttributes)
	if sar.Spec.NonResourceAttributes != nil {
		errs = append(errs, field.Invalid(field.NewPath("spec", "nonResourceAttributes"), sar.Spec.NonResourceAttributes, `disallowed on this kind of request`))
	}
	if sar.Spec.User == "" && len(sar.Spec.Groups) == 0 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "user"), sar.Spec.User, "at least one of user or group must be specified"))
	}
	if len(errs) > 0 {
		return nil, invalid("LocalSubjectAccessReview", sar.Name, errs)
	}
	if sar.Spec.ResourceAttributes.Namespace != sar.Namespace {
		return nil, apierrors.NewBadRequest("spec.resourceAttributes.namespace must match namespace: " + sar.Namespace)
	}
	sar.Status = r.decide(ctx, attributes(specUser(sar.Spec), sar.Spec.ResourceAttributes, nil))
	return sar, nil
}

func specUser(spec authorizationv1.SubjectAccessReviewSpec) auth.User {
	u := auth.User{Name: spec.User, UID: spec.UID, Groups: spec.Groups}
	if len(spec.Extra) > 0 {
		u.Extra = map[string][]string{}
		for k, v := range spec.Extra {
			u.Extra[k] = v
		}
	}
	return u
}

func (r *Reviews) selfSubjectAccessReview(ctx context.Context, u auth.User, obj runtime.Object) (runtime.Object, error) {
	sar := obj.(*authorizationv1.SelfSubjectAccessReview)
	if errs := validateAttributes(sar.Spec.ResourceAttributes, sar.Spec.NonResourceAttributes); len(errs) > 0 {
		return nil, invalid("SelfSubjectAccessReview", sar.Name, errs)
	}
	sar.Status = r.decide(ctx, attributes(u, sar.Spec.ResourceAttributes, sar.Spec.NonResourceAttributes))
	return sar, nil
}

func (r *Reviews) selfSubjectRulesReview(_ context.Context, u auth.User, obj runtime.Object) (runtime.Object, error) {
	rr := obj.(*authorizationv1.SelfSubjectRulesReview)
	rules, errs := r.Rules.RulesFor(u, rr.Spec.Namespace)
	st := authorizationv1.SubjectRulesReviewStatus{
		ResourceRules:    []authorizationv1.ResourceRule{},
		NonResourceRules: []authorizationv1.NonResourceRule{},
	}
	for _, rule := range rules {
		if len(rule.NonResourceURLs) > 0 {
			st.NonResourceRules = append(st.NonResourceRules, authorizationv1.NonResourceRule{Verbs: rule.Verbs, NonResourceURLs: rule.NonResourceURLs})
			continue
		}
		st.ResourceRules = append(st.ResourceRules, authorizationv1.ResourceRule{
			Verbs: rule.Verbs, APIGroups: rule.APIGroups, Resources: rule.Resources, ResourceNames: rule.ResourceNames,
		})
	}
	if len(errs) > 0 {
		st.Incomplete = true
		st.EvaluationError = aggregate(errs)
	}
	rr.Status = st
	return rr, nil
}
