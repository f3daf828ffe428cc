package registry

import (
	"net/url"
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// webhookCommon is what mutating and validating webhooks share.
type webhookCommon struct {
	name              string
	clientConfig      *admissionregistrationv1.WebhookClientConfig
	rules             []admissionregistrationv1.RuleWithOperations
	failurePolicy     **admissionregistrationv1.FailurePolicyType
	matchPolicy       **admissionregistrationv1.MatchPolicyType
	namespaceSelector **metav1.LabelSelector
	objectSelector    **metav1.LabelSelector
	sideEffects       *admissionregistrationv1.SideEffectClass
	timeoutSeconds    **int32
	reviewVersions    []string
}

func mutatingWebhooks(c *admissionregistrationv1.MutatingWebhookConfiguration) []webhookCommon {
	out := make([]webhookCommon, len(c.Webhooks))
	for i := range c.Webhooks {
		w := &c.Webhooks[i]
		out[i] = webhookCommon{w.Name, &w.ClientConfig, w.Rules, &w.FailurePolicy, &w.MatchPolicy, &w.NamespaceSelector, &w.ObjectSelector, w.SideEffects, &w.TimeoutSeconds, w.AdmissionReviewVersions}
	}
	return out
}

func validatingWebhooks(c *admissionregistrationv1.ValidatingWebhookConfiguration) []webhookCommon {
	out := make([]webhookCommon, len(c.Webhooks))
	for i := range c.Webhooks {
		w := &c.Webhooks[i]
		out[i] = webhookCommon{w.Name, &w.ClientConfig, w.Rules, &w.FailurePolicy, &w.MatchPolicy, &w.NamespaceSelector, &w.ObjectSelector, w.SideEffects, &w.TimeoutSeconds, w.AdmissionReviewVersions}
	}
	return out
}

// defaultWebhooks sets upstream's defaults: failurePolicy Fail,
// matchPolicy Equivalent, empty selectors, a 10 s timeout, scope "*".
func defaultWebhooks(hooks []webhookCommon) {
	for _, w := range hooks {
		if *w.failurePolicy == nil {
			*w.failurePolicy = ptr.To(admissionregistrationv1.Fail)
		}
		if *w.matchPolicy == nil {
			*w.matchPolicy = ptr.To(admissionregistrationv1.Equivalent)
		}
		if *w.namespaceSelector == nil {
			*w.namespaceSelector = &metav1.LabelSelector{}
		}
		if *w.objectSelector == nil {
			*w.objectSelector = &metav1.LabelSelector{}
		}
		if *w.timeoutSeconds == nil {
			*w.timeoutSeconds = ptr.To[int32](10)
		}
		for i := range w.rules {
			if w.rules[i].Scope == nil {
				w.rules[i].Scope = ptr.To(admissionregistrationv1.AllScopes)
			}
		}
	}
}

func defaultMutatingWebhookConfiguration(c *admissionregistrationv1.MutatingWebhookConfiguration) {
	defaultWebhooks(mutatingWebhooks(c))
	for i := range c.Webhooks {
		if c.Webhooks[i].ReinvocationPolicy == nil {
			c.Webhooks[i].ReinvocationPolicy = ptr.To(admissionregistrationv1.NeverReinvocationPolicy)
		}
	}
}

func defaultValidatingWebhookConfiguration(c *admissionregistrationv1.ValidatingWebhookConfiguration) {
	defaultWebhooks(validatingWebhooks(c))
}

func validateMutatingWebhookConfiguration(c *admissionregistrationv1.MutatingWebhookConfiguration) field.ErrorList {
	errs := validateWebhooks(mutatingWebhooks(c))
	for i, w := range c.Webhooks {
		if p := w.ReinvocationPolicy; p != nil && *p != admissionregistrationv1.NeverReinvocationPolicy && *p != admissionregistrationv1.IfNeededReinvocationPolicy {
			errs = append(errs, field.NotSupported(field.NewPath("webhooks").Index(i).Child("reinvocationPolicy"), *p, []string{"IfNeeded", "Never"}))
		}
	}
	return errs
}

func validateValidatingWebhookConfiguration(c *admissionregistrationv1.ValidatingWebhookConfiguration) field.ErrorList {
	return validateWebhooks(validatingWebhooks(c))
}

func validateWebhooks(hooks []webhookCommon) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, w := range hooks {
		p := field.NewPath("webhooks").Index(i)
		switch {
		case w.name == "":
			errs = append(errs, field.Required(p.Child("name"), ""))
		case seen.Has(w.name):
			errs = append(errs, field.Duplicate(p.Child("name"), w.name))
		default:
			for _, msg := range utilvalidation.IsDNS1123Subdomain(w.name) {
				errs = append(errs, field.Invalid(p.Child("name"), w.name, msg))
			}
			if strings.Count(w.name, ".") < 2 {
				errs = append(errs, field.Invalid(p.Child("name"), w.name, "should be a domain with at least three segments separated by dots"))
			}
		}
		seen.Insert(w.name)
		errs = append(errs, validateClientConfig(p.Child("clientConfig"), w.clientConfig)...)
		for j, r := range w.rules {
			errs = append(errs, validateRule(p.Child("rules").Index(j), r)...)
		}
		if fp := *w.failurePolicy; fp != nil && *fp != admissionregistrationv1.Fail && *fp != admissionregistrationv1.Ignore {
			errs = append(errs, field.NotSupported(p.Child("failurePolicy"), *fp, []string{"Fail", "Ignore"}))
		}
		if mp := *w.matchPolicy; mp != nil && *mp != admissionregistrationv1.Exact && *mp != admissionregistrationv1.Equivalent {
			errs = append(errs, field.NotSupported(p.Child("matchPolicy"), *mp, []string{"Equivalent", "Exact"}))
		}
		switch {
		case w.sideEffects == nil:
			errs = append(errs, field.Required(p.Child("sideEffects"), "must specify one of None, NoneOnDryRun"))
		case *w.sideEffects != admissionregistrationv1.SideEffectClassNone && *w.sideEffects != admissionregistrationv1.SideEffectClassNoneOnDryRun:
			errs = append(errs, field.NotSupported(p.Child("sideEffects"), *w.sideEffects, []string{"None", "NoneOnDryRun"}))
		}
		if t := *w.timeoutSeconds; t != nil && (*t < 1 || *t > 30) {
			errs = append(errs, field.Invalid(p.Child("timeoutSeconds"), *t, "the timeout value must be between 1 and 30 seconds"))
		}
		if len(w.reviewVersions) == 0 {
			errs = append(errs, field.Required(p.Child("admissionReviewVersions"), "must specify one of v1, v1beta1"))
		} else if !slices.Contains(w.reviewVersions, "v1") && !slices.Contains(w.reviewVersions, "v1beta1") {
			errs = append(errs, field.Invalid(p.Child("admissionReviewVersions"), w.reviewVersions, "must include at least one of v1, v1beta1"))
		}
		for _, sel := range []struct {
			name string
			s    *metav1.LabelSelector
		}{{"namespaceSelector", *w.namespaceSelector}, {"objectSelector", *w.objectSelector}} {
			if sel.s == nil {
				continue
			}
			if _, err := metav1.LabelSelectorAsSelector(sel.s); err != nil {
				errs = append(errs, field.Invalid(p.Child(sel.name), sel.s, err.Error()))
			}
		}
	}
	return errs
}

func validateClientConfig(p *field.Path, cc *admissionregistrationv1.WebhookClientConfig) field.ErrorList {
	var errs field.ErrorList
	switch {
	case cc.URL == nil && cc.Service == nil:
		errs = append(errs, field.Required(p, "exactly one of url or service is required"))
	case cc.URL != nil && cc.Service != nil:
		errs = append(errs, field.Required(p, "exactly one of url or service is required"))
	case cc.URL != nil:
		u, err := url.Parse(*cc.URL)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(p.Child("url"), *cc.URL, err.Error()))
		case u.Scheme != "https":
			errs = append(errs, field.Invalid(p.Child("url"), u.Scheme, "'https' is the only allowed URL scheme"))
		case u.Host == "":
			errs = append(errs, field.Invalid(p.Child("url"), u.Host, "host must be specified"))
		case u.User != nil:
			errs = append(errs, field.Invalid(p.Child("url"), u.User.String(), "user information is not permitted in the URL"))
		case u.Fragment != "" || u.RawQuery != "":
			errs = append(errs, field.Invalid(p.Child("url"), *cc.URL, "fragments and query parameters are not permitted in the URL"))
		}
	default:
		s := cc.Service
		if s.Name == "" {
			errs = append(errs, field.Required(p.Child("service", "name"), "service name is required"))
		}
		if s.Namespace == "" {
			errs = append(errs, field.Required(p.Child("service", "namespace"), "service namespace is required"))
		}
		if s.Path != nil && !strings.HasPrefix(*s.Path, "/") {
			errs = append(errs, field.Invalid(p.Child("service", "path"), *s.Path, "must start with a '/'"))
		}
		if s.Port != nil && (*s.Port < 1 || *s.Port > 65535) {
			errs = append(errs, field.Invalid(p.Child("service", "port"), *s.Port, "port is not valid: must be between 1 and 65535, inclusive"))
		}
	}
	return errs
}

func validateRule(p *field.Path, r admissionregistrationv1.RuleWithOperations) field.ErrorList {
	var errs field.ErrorList
	if len(r.Operations) == 0 {
		errs = append(errs, field.Required(p.Child("operations"), ""))
	}
	for i, op := range r.Operations {
		switch op {
		case admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete, admissionregistrationv1.Connect, admissionregistrationv1.OperationAll:
		default:
			errs = append(errs, field.NotSupported(p.Child("operations").Index(i), op, []string{"*", "CONNECT", "CREATE", "DELETE", "UPDATE"}))
		}
	}
	if len(r.APIGroups) == 0 {
		errs = append(errs, field.Required(p.Child("apiGroups"), ""))
	}
	if len(r.APIVersions) == 0 {
		errs = append(errs, field.Required(p.Child("apiVersions"), ""))
	}
	if len(r.Resources) == 0 {
		errs = append(errs, field.Required(p.Child("resources"), ""))
	}
	for i, res := range r.Resources {
		if res == "" {
			errs = append(errs, field.Required(p.Child("resources").Index(i), ""))
		}
	}
	if s := r.Scope; s != nil && *s != admissionregistrationv1.AllScopes && *s != admissionregistrationv1.ClusterScope && *s != admissionregistrationv1.NamespacedScope {
		errs = append(errs, field.NotSupported(p.Child("scope"), *s, []string{"*", "Cluster", "Namespaced"}))
	}
	return errs
}

func defaultValidatingAdmissionPolicy(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
	if p.Spec.FailurePolicy == nil {
		p.Spec.FailurePolicy = ptr.To(admissionregistrationv1.Fail)
	}
	defaultMatchResources(p.Spec.MatchConstraints)
}

func defaultValidatingAdmissionPolicyBinding(b *admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
	defaultMatchResources(b.Spec.MatchResources)
}

func defaultMatchResources(m *admissionregistrationv1.MatchResources) {
	if m == nil {
		return
	}
	if m.MatchPolicy == nil {
		m.MatchPolicy = ptr.To(admissionregistrationv1.Equivalent)
	}
	if m.NamespaceSelector == nil {
		m.NamespaceSelector = &metav1.LabelSelector{}
	}
	if m.ObjectSelector == nil {
		m.ObjectSelector = &metav1.LabelSelector{}
	}
	for _, rules := range [][]admissionregistrationv1.NamedRuleWithOperations{m.ResourceRules, m.ExcludeResourceRules} {
		for i := range rules {
			if rules[i].Scope == nil {
				rules[i].Scope = ptr.To(admissionregistrationv1.AllScopes)
			}
		}
	}
}

func validateValidatingAdmissionPolicy(p *admissionregistrationv1.ValidatingAdmissionPolicy) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if k := p.Spec.ParamKind; k != nil {
		if k.APIVersion == "" {
			errs = append(errs, field.Required(spec.Child("paramKind", "apiVersion"), ""))
		}
		if k.Kind == "" {
			errs = append(errs, field.Required(spec.Child("paramKind", "kind"), ""))
		}
	}
	if m := p.Spec.MatchConstraints; m == nil {
		errs = append(errs, field.Required(spec.Child("matchConstraints"), ""))
	} else {
		if len(m.ResourceRules) == 0 {
			errs = append(errs, field.Required(spec.Child("matchConstraints", "resourceRules"), ""))
		}
		errs = append(errs, validateMatchResources(spec.Child("matchConstraints"), m)...)
	}
	if len(p.Spec.Validations) == 0 && len(p.Spec.AuditAnnotations) == 0 {
		errs = append(errs, field.Required(spec.Child("validations"), "validations or auditAnnotations must contain at least one item"))
	}
	for i, v := range p.Spec.Validations {
		if strings.TrimSpace(v.Expression) == "" {
			errs = append(errs, field.Required(spec.Child("validations").Index(i).Child("expression"), "expression is not specified"))
		}
	}
	if fp := p.Spec.FailurePolicy; fp != nil && *fp != admissionregistrationv1.Fail && *fp != admissionregistrationv1.Ignore {
		errs = append(errs, field.NotSupported(spec.Child("failurePolicy"), *fp, []string{"Fail", "Ignore"}))
	}
	names := sets.New[string]()
	for i, v := range p.Spec.Variables {
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(spec.Child("variables").Index(i).Child("name"), ""))
		case names.Has(v.Name):
			errs = append(errs, field.Duplicate(spec.Child("variables").Index(i).Child("name"), v.Name))
		}
		names.Insert(v.Name)
		if strings.TrimSpace(v.Expression) == "" {
			errs = append(errs, field.Required(spec.Child("variables").Index(i).Child("expression"), ""))
		}
	}
	return errs
}

func validateValidatingAdmissionPolicyBinding(b *admissionregistrationv1.ValidatingAdmissionPolicyBinding) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if b.Spec.PolicyName == "" {
		errs = append(errs, field.Required(spec.Child("policyName"), ""))
	}
	actions := sets.New[admissionregistrationv1.ValidationAction]()
	if len(b.Spec.ValidationActions) == 0 {
		errs = append(errs, field.Required(spec.Child("validationActions"), ""))
	}
	for i, a := range b.Spec.ValidationActions {
		p := spec.Child("validationActions").Index(i)
		switch {
		case a != admissionregistrationv1.Deny && a != admissionregistrationv1.Warn && a != admissionregistrationv1.Audit:
			errs = append(errs, field.NotSupported(p, a, []string{"Audit", "Deny", "Warn"}))
		case actions.Has(a):
			errs = append(errs, field.Duplicate(p, a))
		}
		actions.Insert(a)
	}
	if actions.Has(admissionregistrationv1.Deny) && actions.Has(admissionregistrationv1.Warn) {
		errs = append(errs, field.Invalid(spec.Child("validationActions"), b.Spec.ValidationActions, "must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)"))
	}
	if r := b.Spec.ParamRef; r != nil {
		p := spec.Child("paramRef")
		if r.Name != "" && r.Selector != nil {
			errs = append(errs, field.Forbidden(p.Child("name"), "name and selector are mutually exclusive"))
		}
		if r.Name == "" && r.Selector == nil {
			errs = append(errs, field.Required(p, "one of name or selector must be specified"))
		}
		if r.ParameterNotFoundAction == nil {
			errs = append(errs, field.Required(p.Child("parameterNotFoundAction"), ""))
		} else if a := *r.ParameterNotFoundAction; a != admissionregistrationv1.AllowAction && a != admissionregistrationv1.DenyAction {
			errs = append(errs, field.NotSupported(p.Child("parameterNotFoundAction"), a, []string{"Allow", "Deny"}))
		}
	}
	if m := b.Spec.MatchResources; m != nil {
		errs = append(errs, validateMatchResources(spec.Child("matchResources"), m)...)
	}
	return errs
}

func validateMatchResources(p *field.Path, m *admissionregistrationv1.MatchResources) field.ErrorList {
	var errs field.ErrorList
	for name, rules := range map[string][]admissionregistrationv1.NamedRuleWithOperations{"resourceRules": m.ResourceRules, "excludeResourceRules": m.ExcludeResourceRules} {
		for i, r := range rules {
			errs = append(errs, validateRule(p.Child(name).Index(i), r.RuleWithOperations)...)
		}
	}
	if mp := m.MatchPolicy; mp != nil && *mp != admissionregistrationv1.Exact && *mp != admissionregistrationv1.Equivalent {
		errs = append(errs, field.NotSupported(p.Child("matchPolicy"), *mp, []string{"Equivalent", "Exact"}))
	}
	return errs
}
