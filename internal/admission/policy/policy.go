// Package policy is the ValidatingAdmissionPolicy admission plugin:
// admissionregistration.k8s.io/v1 ValidatingAdmissionPolicies, applied
// through their ValidatingAdmissionPolicyBindings, evaluated with CEL
// (cel-go) as upstream: matchConstraints and the binding's matchResources
// (rules, excluded rules, namespace and object selectors), matchConditions,
// variables, validations with message, messageExpression and reason,
// parameters (paramKind with the binding's paramRef by name or selector,
// parameterNotFoundAction) and failurePolicy. A failed validation denies
// the request, warns, or both, by the binding's validationActions.
//
// The CEL environment declares object, oldObject, request, params,
// namespaceObject and variables as dynamic JSON values, with cel-go's
// standard extensions (strings, lists, sets, optional types). Upstream's
// Kubernetes-specific CEL libraries (quantity, url, ip, cidr, authorizer)
// and type-checking of expressions against the schema of the matched
// kinds are not available; an expression using them fails to compile and
// counts as an error under the policy's failurePolicy. The Audit action
// and auditAnnotations are accepted and not recorded.
package policy

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/admission/matching"
	"berth.dev/berth/internal/auth"
)

var (
	policiesResource   = schema.GroupResource{Group: admissionregistrationv1.GroupName, Resource: "validatingadmissionpolicies"}
	bindingsResource   = schema.GroupResource{Group: admissionregistrationv1.GroupName, Resource: "validatingadmissionpolicybindings"}
	namespacesResource = schema.GroupResource{Resource: "namespaces"}
)

// KindResolver maps a kind to the resource that serves it; the API
// server's object reader implements it.
type KindResolver interface {
	ResourceFor(gvk schema.GroupVersionKind) (schema.GroupResource, bool, error) // namespaced
}

// Plugin is the ValidatingAdmissionPolicy plugin.
type Plugin struct {
	objects  auth.Objects
	compiler *compiler
}

var (
	_ admission.Validator = (*Plugin)(nil)
	_ auth.ObjectsUser    = (*Plugin)(nil)
)

// New returns the plugin.
func New() (*Plugin, error) {
	c, err := newCompiler()
	if err != nil {
		return nil, err
	}
	return &Plugin{compiler: c}, nil
}

// Name is the upstream plugin name.
func (*Plugin) Name() string { return "ValidatingAdmissionPolicy" }

// UseObjects gives the plugin the policies, bindings, parameters and
// namespaces it reads.
func (p *Plugin) UseObjects(o auth.Objects) { p.objects = o }

// Validate applies every bound policy that matches a.
func (p *Plugin) Validate(ctx context.Context, a *admission.Attributes) error {
	if matching.Exempt(a) {
		return nil
	}
	bindings, err := p.objects.List(bindingsResource, "", nil)
	if err != nil || len(bindings) == 0 {
		return err
	}
	var vars *variables
	for _, obj := range bindings {
		b := obj.(*admissionregistrationv1.ValidatingAdmissionPolicyBinding)
		pobj, err := p.objects.Get(policiesResource, "", b.Spec.PolicyName)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		pol := pobj.(*admissionregistrationv1.ValidatingAdmissionPolicy)
		if vars == nil {
			if vars, err = p.requestVariables(a); err != nil {
				return apierrors.NewInternalError(err)
			}
		}
		if err := p.apply(ctx, pol, b, a, vars); err != nil {
			return err
		}
	}
	return nil
}

// apply evaluates one policy through one binding.
func (p *Plugin) apply(_ context.Context, pol *admissionregistrationv1.ValidatingAdmissionPolicy, b *admissionregistrationv1.ValidatingAdmissionPolicyBinding, a *admission.Attributes, vars *variables) error {
	ignore := pol.Spec.FailurePolicy != nil && *pol.Spec.FailurePolicy == admissionregistrationv1.Ignore
	fail := func(err error) error {
		if ignore {
			return nil
		}
		return apierrors.NewInternalError(fmt.Errorf("policy '%s' with binding '%s' denied request: %w", pol.Name, b.Name, err))
	}
	ok, err := p.matches(pol.Spec.MatchConstraints, a)
	if err != nil {
		return fail(err)
	}
	if !ok {
		return nil
	}
	if b.Spec.MatchResources != nil {
		if ok, err := p.matches(b.Spec.MatchResources, a); err != nil || !ok {
			if err != nil {
				return fail(err)
			}
			return nil
		}
	}
	params, err := p.params(pol, b, a)
	if err != nil {
		if errors.Is(err, errNoParams) {
			return denied(pol, b, "no params found for policy binding with `Deny` parameterNotFoundAction", metav1.StatusReasonInvalid)
		}
		return fail(err)
	}
	if params == nil { // parameterNotFoundAction Allow with nothing found
		return nil
	}
	for _, param := range params {
		pv, err := jsonValue(param, schema.GroupVersionKind{})
		if err != nil {
			return fail(err)
		}
		env := vars.with(pv)
		if ok, err := p.compiler.conditions(pol.Spec.MatchConditions, env); err != nil || !ok {
			if err != nil {
				return fail(err)
			}
			continue
		}
		if err := p.compiler.bind(pol.Spec.Variables, env); err != nil {
			return fail(err)
		}
		for _, v := range pol.Spec.Validations {
			msg, reason, err := p.compiler.validate(v, env)
			if err != nil {
				if e := fail(err); e != nil {
					return e
				}
				continue
			}
			if msg == "" {
				continue
			}
			if err := act(pol, b, a, msg, reason); err != nil {
				return err
			}
		}
	}
	return nil
}

// act carries out the binding's validationActions for a failed validation.
func act(pol *admissionregistrationv1.ValidatingAdmissionPolicy, b *admissionregistrationv1.ValidatingAdmissionPolicyBinding, a *admission.Attributes, msg string, reason metav1.StatusReason) error {
	var deny bool
	for _, action := range b.Spec.ValidationActions {
		switch action {
		case admissionregistrationv1.Deny:
			deny = true
		case admissionregistrationv1.Warn:
			a.Warn(fmt.Sprintf("Validation failed for ValidatingAdmissionPolicy '%s' with binding '%s': %s", pol.Name, b.Name, msg))
		}
	}
	if deny {
		return denied(pol, b, msg, reason)
	}
	return nil
}

// denied is upstream's refusal: 403 (or the validation's reason's code).
func denied(pol *admissionregistrationv1.ValidatingAdmissionPolicy, b *admissionregistrationv1.ValidatingAdmissionPolicyBinding, msg string, reason metav1.StatusReason) error {
	text := fmt.Sprintf("ValidatingAdmissionPolicy '%s' with binding '%s' denied request: %s", pol.Name, b.Name, msg)
	code := int32(http.StatusForbidden)
	switch reason {
	case metav1.StatusReasonInvalid:
		code = http.StatusUnprocessableEntity
	case metav1.StatusReasonRequestEntityTooLarge:
		code = http.StatusRequestEntityTooLarge
	case metav1.StatusReasonUnauthorized:
		code = http.StatusUnauthorized
	case "":
		reason = metav1.StatusReasonForbidden
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: text}}
}

// matches applies a policy's or binding's MatchResources to a. A
// binding's resourceRules may be empty: all the policy matches.
func (p *Plugin) matches(m *admissionregistrationv1.MatchResources, a *admission.Attributes) (bool, error) {
	if m == nil {
		return false, nil
	}
	if len(m.ResourceRules) > 0 && !matching.NamedRules(m.ResourceRules, a) || matching.NamedRules(m.ExcludeResourceRules, a) {
		return false, nil
	}
	if ok, err := matching.Namespace(m.NamespaceSelector, a, p.objects); !ok || err != nil {
		return false, err
	}
	return matching.Object(m.ObjectSelector, a)
}

var errNoParams = errors.New("no params found")

// params returns the parameter objects of the binding (nil, nil when the
// policy takes none is reported as one nil parameter).
func (p *Plugin) params(pol *admissionregistrationv1.ValidatingAdmissionPolicy, b *admissionregistrationv1.ValidatingAdmissionPolicyBinding, a *admission.Attributes) ([]runtime.Object, error) {
	kind := pol.Spec.ParamKind
	if kind == nil {
		return []runtime.Object{nil}, nil
	}
	ref := b.Spec.ParamRef
	if ref == nil {
		return nil, fmt.Errorf("policy has paramKind but binding has no paramRef")
	}
	resolver, ok := p.objects.(KindResolver)
	if !ok {
		return nil, fmt.Errorf("parameters are not available")
	}
	gv, err := schema.ParseGroupVersion(kind.APIVersion)
	if err != nil {
		return nil, err
	}
	gr, namespaced, err := resolver.ResourceFor(gv.WithKind(kind.Kind))
	if err != nil {
		return nil, fmt.Errorf("paramKind %s %s: %w", kind.APIVersion, kind.Kind, err)
	}
	ns := ""
	if namespaced {
		ns = ref.Namespace
		if ns == "" {
			ns = a.Namespace
		}
	}
	var found []runtime.Object
	if ref.Name != "" {
		obj, err := p.objects.Get(gr, ns, ref.Name)
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
		if err == nil {
			found = append(found, obj)
		}
	} else {
		sel, err := metav1.LabelSelectorAsSelector(ref.Selector)
		if err != nil {
			return nil, err
		}
		if found, err = p.objects.List(gr, ns, sel); err != nil {
			return nil, err
		}
	}
	if len(found) == 0 {
		if ref.ParameterNotFoundAction != nil && *ref.ParameterNotFoundAction == admissionregistrationv1.AllowAction {
			return nil, nil
		}
		return nil, errNoParams
	}
	return found, nil
}

// requestVariables builds object, oldObject, request and namespaceObject.
func (p *Plugin) requestVariables(a *admission.Attributes) (*variables, error) {
	v := &variables{values: map[string]any{}}
	var err error
	if v.values["object"], err = jsonValue(a.Object, a.Kind); err != nil {
		return nil, err
	}
	if v.values["oldObject"], err = jsonValue(a.OldObject, a.Kind); err != nil {
		return nil, err
	}
	v.values["request"] = requestValue(a)
	v.values["namespaceObject"] = nil
	if a.Namespace != "" && a.Resource.GroupResource() != namespacesResource {
		if ns, err := p.objects.Get(namespacesResource, "", a.Namespace); err == nil {
			if v.values["namespaceObject"], err = jsonValue(ns, corev1.SchemeGroupVersion.WithKind("Namespace")); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

func requestValue(a *admission.Attributes) map[string]any {
	groups := make([]any, len(a.User.Groups))
	for i, g := range a.User.Groups {
		groups[i] = g
	}
	return map[string]any{
		"kind":        map[string]any{"group": a.Kind.Group, "version": a.Kind.Version, "kind": a.Kind.Kind},
		"resource":    map[string]any{"group": a.Resource.Group, "version": a.Resource.Version, "resource": a.Resource.Resource},
		"subResource": a.Subresource,
		"name":        a.Name,
		"namespace":   a.Namespace,
		"operation":   string(a.Operation),
		"userInfo":    map[string]any{"username": a.User.Name, "uid": a.User.UID, "groups": groups},
		"dryRun":      a.DryRun,
	}
}
