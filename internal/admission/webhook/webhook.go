// Package webhook is the MutatingAdmissionWebhook and
// ValidatingAdmissionWebhook admission plugins: for every write, the
// webhooks of the cluster's Mutating- and ValidatingWebhookConfigurations
// whose rules, namespaceSelector and objectSelector match are called with
// an admission.k8s.io AdmissionReview (v1, or v1beta1 when a webhook
// accepts only that), as upstream. Mutating webhooks run one after
// another and their JSON patches change the object (reinvocationPolicy
// IfNeeded calls a webhook again once when later ones changed the object);
// validating webhooks run in parallel. A webhook that denies the request
// ends it with its status; one that cannot be reached fails the request
// unless its failurePolicy is Ignore. Dry runs reach webhooks too, with
// dryRun set: admissionregistration.k8s.io/v1 only admits webhooks
// without side effects (sideEffects None or NoneOnDryRun).
//
// Webhooks are reached at their clientConfig.url, or for a service at the
// first ready endpoint of the Service's EndpointSlices (berth's API server
// does not go through the Service's virtual IP), verified against caBundle
// with the server name <service>.<namespace>.svc.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/admission/matching"
	"berth.dev/berth/internal/auth"
)

var (
	mutatingResource   = schema.GroupResource{Group: admissionregistrationv1.GroupName, Resource: "mutatingwebhookconfigurations"}
	validatingResource = schema.GroupResource{Group: admissionregistrationv1.GroupName, Resource: "validatingwebhookconfigurations"}
)

// hook is one webhook of either kind, with what calling it needs.
type hook struct {
	config             string // the configuration's name
	name               string
	clientConfig       admissionregistrationv1.WebhookClientConfig
	rules              []admissionregistrationv1.RuleWithOperations
	failurePolicy      admissionregistrationv1.FailurePolicyType
	namespaceSelector  *metav1.LabelSelector
	objectSelector     *metav1.LabelSelector
	timeoutSeconds     int32
	reviewVersions     []string
	reinvocationPolicy admissionregistrationv1.ReinvocationPolicyType
	matchConditions    []admissionregistrationv1.MatchCondition
}

// caller calls webhooks; the two plugins share one.
type caller struct {
	objects    auth.Objects
	clients    *clients
	conditions *conditions
}

// Mutating is the MutatingAdmissionWebhook plugin.
type Mutating struct{ caller }

// Validating is the ValidatingAdmissionWebhook plugin.
type Validating struct{ caller }

var (
	_ admission.Mutator   = (*Mutating)(nil)
	_ admission.Validator = (*Validating)(nil)
	_ auth.ObjectsUser    = (*Mutating)(nil)
	_ auth.ObjectsUser    = (*Validating)(nil)
)

// NewMutating returns the mutating plugin.
func NewMutating() *Mutating { return &Mutating{newCaller()} }

// NewValidating returns the validating plugin.
func NewValidating() *Validating { return &Validating{newCaller()} }

func newCaller() caller { return caller{clients: newClients(), conditions: newConditions()} }

// Name is the upstream plugin name.
func (*Mutating) Name() string { return "MutatingAdmissionWebhook" }

// Name is the upstream plugin name.
func (*Validating) Name() string { return "ValidatingAdmissionWebhook" }

// UseObjects gives the plugin the configurations, namespaces and
// services it reads.
func (c *caller) UseObjects(o auth.Objects) { c.objects = o }

// Admit calls the matching mutating webhooks in order.
func (m *Mutating) Admit(ctx context.Context, a *admission.Attributes) error {
	hooks, err := m.matching(mutatingResource, a)
	if err != nil || len(hooks) == 0 {
		return err
	}
	// What the object looked like after each IfNeeded webhook: it is called
	// again if a later webhook changed the object.
	after := map[int][]byte{}
	for i, h := range hooks {
		if err := m.mutate(ctx, h, a); err != nil {
			return err
		}
		if h.reinvocationPolicy == admissionregistrationv1.IfNeededReinvocationPolicy {
			if after[i], err = encode(a.Object); err != nil {
				return err
			}
		}
	}
	final, err := encode(a.Object)
	if err != nil {
		return err
	}
	for i, h := range hooks {
		if snap, ok := after[i]; ok && string(snap) != string(final) {
			if err := m.mutate(ctx, h, a); err != nil {
				return err
			}
		}
	}
	return nil
}

// Validate calls the matching validating webhooks in parallel; the first
// refusal (in webhook order) is the answer.
func (v *Validating) Validate(ctx context.Context, a *admission.Attributes) error {
	hooks, err := v.matching(validatingResource, a)
	if err != nil || len(hooks) == 0 {
		return err
	}
	errs := make([]error, len(hooks))
	warnings := make([][]string, len(hooks))
	done := make(chan struct{})
	for i, h := range hooks {
		go func() {
			defer func() { done <- struct{}{} }()
			resp, err := v.call(ctx, h, a)
			if err != nil {
				errs[i] = failure(h, err)
				return
			}
			warnings[i] = resp.warnings
			if !resp.allowed {
				errs[i] = denial(h, resp)
			}
		}()
	}
	for range hooks {
		<-done
	}
	for _, ws := range warnings {
		for _, w := range ws {
			a.Warn(w)
		}
	}
	return firstErr(errs)
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// mutate calls one mutating webhook and applies its patch.
func (m *Mutating) mutate(ctx context.Context, h hook, a *admission.Attributes) error {
	resp, err := m.call(ctx, h, a)
	if err != nil {
		return failure(h, err)
	}
	for _, w := range resp.warnings {
		a.Warn(w)
	}
	if !resp.allowed {
		return denial(h, resp)
	}
	if len(resp.patch) == 0 {
		return nil
	}
	if a.Object == nil {
		return apierrors.NewInternalError(fmt.Errorf("admission webhook %q returned a patch for a request without an object", h.name))
	}
	if err := applyPatch(a.Object, resp.patch); err != nil {
		return apierrors.NewInternalError(fmt.Errorf("admission webhook %q returned an invalid patch: %w", h.name, err))
	}
	return nil
}

// matching returns the webhooks of the configurations of gr that apply
// to a, in upstream's order (configurations by name, webhooks as listed).
func (c *caller) matching(gr schema.GroupResource, a *admission.Attributes) ([]hook, error) {
	if matching.Exempt(a) {
		return nil, nil
	}
	objs, err := c.objects.List(gr, "", nil)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	var hooks []hook
	for _, obj := range objs {
		hooks = append(hooks, hooksOf(obj)...)
	}
	sort.SliceStable(hooks, func(i, j int) bool { return hooks[i].config < hooks[j].config })
	var out []hook
	for _, h := range hooks {
		ok, err := c.matches(h, a)
		if err != nil {
			if h.failurePolicy == admissionregistrationv1.Ignore {
				continue
			}
			return nil, failure(h, err)
		}
		if ok {
			out = append(out, h)
		}
	}
	return out, nil
}

func (c *caller) matches(h hook, a *admission.Attributes) (bool, error) {
	if !matching.Rules(h.rules, a) {
		return false, nil
	}
	if ok, err := matching.Namespace(h.namespaceSelector, a, c.objects); !ok || err != nil {
		return false, err
	}
	if ok, err := matching.Object(h.objectSelector, a); !ok || err != nil {
		return false, err
	}
	return c.conditions.match(h.matchConditions, a)
}

// failure is the error of a webhook that could not answer: it fails the
// request unless the webhook's failurePolicy is Ignore.
func failure(h hook, err error) error {
	if h.failurePolicy == admissionregistrationv1.Ignore {
		return nil
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return err
	}
	return apierrors.NewInternalError(fmt.Errorf("failed calling webhook %q: %w", h.name, err))
}

// denial is a webhook's refusal, with its status code (403 by default).
func denial(h hook, r *review) error {
	code := r.code
	if code == 0 {
		code = http.StatusForbidden
	}
	msg := fmt.Sprintf("admission webhook %q denied the request", h.name)
	if r.message != "" {
		msg += ": " + r.message
	} else if r.reason != "" {
		msg += ": " + r.reason
	}
	err := apierrors.NewForbidden(schema.GroupResource{}, "", errors.New(msg))
	err.ErrStatus.Code = code
	err.ErrStatus.Message = msg
	if r.reason != "" {
		err.ErrStatus.Reason = r.reasonType()
	}
	err.ErrStatus.Details = nil
	return err
}
