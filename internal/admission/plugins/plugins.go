// Package plugins assembles berth's default admission chain: the upstream
// plugins berth implements, in upstream's order.
package plugins

import (
	psaapi "k8s.io/pod-security-admission/admission/api"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/admission/defaulttolerationseconds"
	"berth.dev/berth/internal/admission/limitranger"
	"berth.dev/berth/internal/admission/noderestriction"
	"berth.dev/berth/internal/admission/podsecurity"
	"berth.dev/berth/internal/admission/policy"
	"berth.dev/berth/internal/admission/priority"
	"berth.dev/berth/internal/admission/serviceaccount"
	"berth.dev/berth/internal/admission/webhook"
)

// Options tune the default chain.
type Options struct {
	// PodSecurity configures Pod Security admission; nil means berth's
	// default (enforce baseline, warn and audit restricted).
	PodSecurity *psaapi.PodSecurityConfiguration
	// Escalation is RBAC's escalation check, run first among the
	// validators; nil leaves it out.
	Escalation admission.Validator
}

// Default returns the chain every berth server runs.
func Default(opts Options) (admission.Chain, error) {
	psaCfg := opts.PodSecurity
	if psaCfg == nil {
		var err error
		if psaCfg, err = podsecurity.DefaultConfiguration(); err != nil {
			return admission.Chain{}, err
		}
	}
	psa, err := podsecurity.New(psaCfg)
	if err != nil {
		return admission.Chain{}, err
	}
	policies, err := policy.New()
	if err != nil {
		return admission.Chain{}, err
	}
	limits, accounts, prio := &limitranger.Plugin{}, &serviceaccount.Plugin{}, &priority.Plugin{}
	var validators []admission.Validator
	if opts.Escalation != nil {
		validators = append(validators, opts.Escalation)
	}
	return admission.Chain{
		Mutators:   []admission.Mutator{limits, accounts, prio, defaulttolerationseconds.Plugin{}, webhook.NewMutating()},
		Validators: append(validators, limits, prio, &noderestriction.Plugin{}, psa, policies, webhook.NewValidating()),
	}, nil
}
