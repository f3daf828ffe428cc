// Package podsecurity is the PodSecurity admission plugin: upstream's
// Pod Security Standards admission (k8s.io/pod-security-admission) run in
// berth's chain. Namespaces choose their levels with the
// pod-security.kubernetes.io/{enforce,audit,warn}[-version] labels;
// namespaces without labels get the configured defaults, which in berth
// are enforce "baseline" and warn "restricted" (kube-system exempt).
// Pods are refused or warned about; workload resources (Deployments,
// Jobs...) only get warnings, as upstream.
package podsecurity

import (
	"context"
	"errors"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	psadmission "k8s.io/pod-security-admission/admission"
	psaapi "k8s.io/pod-security-admission/admission/api"
	"k8s.io/pod-security-admission/admission/api/load"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/metrics"
	"k8s.io/pod-security-admission/policy"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/auth"
)

// DefaultConfiguration is berth's configuration when none is given:
// enforce baseline, warn and audit restricted, at the latest version,
// kube-system exempt.
func DefaultConfiguration() (*psaapi.PodSecurityConfiguration, error) {
	cfg, err := load.LoadFromData(nil) // upstream's defaults: privileged everywhere
	if err != nil {
		return nil, err
	}
	cfg.Defaults.Enforce = string(api.LevelBaseline)
	cfg.Defaults.Warn = string(api.LevelRestricted)
	cfg.Defaults.Audit = string(api.LevelRestricted)
	cfg.Exemptions.Namespaces = []string{"kube-system"}
	return cfg, nil
}

// LoadConfiguration reads an upstream PodSecurityConfiguration file
// (pod-security.admission.config.k8s.io v1, v1beta1 or v1alpha1). Fields
// the file leaves out take upstream's defaults (privileged, latest).
func LoadConfiguration(path string) (*psaapi.PodSecurityConfiguration, error) {
	cfg, err := load.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("pod security configuration: %w", err)
	}
	return cfg, nil
}

// Plugin is the PodSecurity validating admission plugin.
type Plugin struct {
	psa     *psadmission.Admission
	objects auth.Objects
}

var (
	_ admission.Validator = (*Plugin)(nil)
	_ auth.ObjectsUser    = (*Plugin)(nil)
)

// New builds the plugin; it needs the server's objects (UseObjects)
// before it admits anything.
func New(cfg *psaapi.PodSecurityConfiguration) (*Plugin, error) {
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return nil, err
	}
	p := &Plugin{}
	p.psa = &psadmission.Admission{
		Configuration:    cfg,
		Evaluator:        eval,
		Metrics:          noMetrics{},
		PodSpecExtractor: psadmission.DefaultPodSpecExtractor{},
		NamespaceGetter:  namespaces{p},
		PodLister:        pods{p},
	}
	if err := p.psa.CompleteConfiguration(); err != nil {
		return nil, err
	}
	if err := p.psa.ValidateConfiguration(); err != nil {
		return nil, err
	}
	return p, nil
}

// Name is the upstream plugin name.
func (p *Plugin) Name() string { return "PodSecurity" }

// UseObjects gives the plugin the namespaces and pods it reads.
func (p *Plugin) UseObjects(o auth.Objects) { p.objects = o }

// Validate evaluates pods, pod-carrying workloads and namespace label
// changes against the namespace's policy.
func (p *Plugin) Validate(ctx context.Context, a *admission.Attributes) error {
	if a.Operation != admission.Create && a.Operation != admission.Update {
		return nil
	}
	gr := a.Resource.GroupResource()
	if gr != (schema.GroupResource{Resource: "pods"}) && gr != (schema.GroupResource{Resource: "namespaces"}) && !p.psa.PodSpecExtractor.HasPodSpec(gr) {
		return nil
	}
	resp := p.psa.Validate(ctx, &attributes{a})
	for _, w := range resp.Warnings {
		a.Warn(w)
	}
	if resp.Allowed {
		return nil
	}
	if resp.Result == nil {
		return apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, errors.New("PodSecurity: denied"))
	}
	return &apierrors.StatusError{ErrStatus: *resp.Result}
}

// attributes adapts admission.Attributes to upstream's api.Attributes.
type attributes struct{ a *admission.Attributes }

func (x *attributes) GetName() string                          { return x.a.Name }
func (x *attributes) GetNamespace() string                     { return x.a.Namespace }
func (x *attributes) GetResource() schema.GroupVersionResource { return x.a.Resource }
func (x *attributes) GetKind() schema.GroupVersionKind         { return x.a.Kind }
func (x *attributes) GetSubresource() string                   { return x.a.Subresource }
func (x *attributes) GetOperation() admissionv1.Operation {
	return admissionv1.Operation(x.a.Operation)
}
func (x *attributes) GetObject() (runtime.Object, error)    { return x.a.Object, nil }
func (x *attributes) GetOldObject() (runtime.Object, error) { return x.a.OldObject, nil }
func (x *attributes) GetUserName() string                   { return x.a.User.Name }

type namespaces struct{ p *Plugin }

func (n namespaces) GetNamespace(_ context.Context, name string) (*corev1.Namespace, error) {
	obj, err := n.p.objects.Get(schema.GroupResource{Resource: "namespaces"}, "", name)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Namespace), nil
}

type pods struct{ p *Plugin }

func (p pods) ListPods(_ context.Context, namespace string) ([]*corev1.Pod, error) {
	objs, err := p.p.objects.List(schema.GroupResource{Resource: "pods"}, namespace, nil)
	if err != nil {
		return nil, err
	}
	out := make([]*corev1.Pod, len(objs))
	for i, obj := range objs {
		out[i] = obj.(*corev1.Pod)
	}
	return out, nil
}

// noMetrics discards the plugin's metrics; berth does not export them yet.
type noMetrics struct{}

func (noMetrics) RecordEvaluation(metrics.Decision, api.LevelVersion, metrics.Mode, api.Attributes) {}
func (noMetrics) RecordExemption(api.Attributes)                                                    {}
func (noMetrics) RecordError(bool, api.Attributes)                                                  {}
