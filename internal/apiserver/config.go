package apiserver

import (
	"crypto/rsa"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	psaapi "k8s.io/pod-security-admission/admission/api"

	"berth.dev/berth/internal/admission/plugins"
	"berth.dev/berth/internal/auth"
	"berth.dev/berth/internal/auth/bootstrap"
	"berth.dev/berth/internal/auth/node"
	"berth.dev/berth/internal/auth/pki"
	"berth.dev/berth/internal/auth/rbac"
	"berth.dev/berth/internal/auth/serviceaccount"
	"berth.dev/berth/internal/openapi"
	"berth.dev/berth/internal/registry"
	"berth.dev/berth/internal/store"
)

// Options tune NewConfig.
type Options struct {
	// Issuer is the ServiceAccount token issuer; "" means
	// serviceaccount.DefaultIssuer.
	Issuer string
	// PodSecurity configures Pod Security admission; nil means berth's
	// default.
	PodSecurity *psaapi.PodSecurityConfiguration
}

// NewConfig returns the configuration of a complete API server on st: the
// built-in resources, OpenAPI documents, server-side apply, and security
// from keys: client certificates of the cluster CA, then bearer tokens —
// bootstrap tokens, ServiceAccount tokens signed with its service-account key
// for opts.Issuer, whose URL is also the API's
// audience —, authorization by system:masters, the Node authorizer, then RBAC (with its default
// policy, escalation checks and access reviews) and the default admission
// chain (internal/admission/plugins). The caller adds what
// depends on where it runs (address, port, logger, token files, OIDC).
func NewConfig(st store.Store, keys *pki.PKI, opts Options) (Config, error) {
	resources := registry.Builtin()
	docs, err := openapi.New(openapi.Config{Resources: resources})
	if err != nil {
		return Config{}, err
	}
	types, err := managedfields.NewTypeConverter(docs.Models(), false)
	if err != nil {
		return Config{}, fmt.Errorf("building the type converter: %w", err)
	}
	authz := &rbac.Authorizer{}
	authorizers := []auth.Authorizer{auth.Masters{}, &node.Authorizer{}, authz}
	reviews := &rbac.Reviews{Authorizers: authorizers, Rules: authz}
	reviewers := map[schema.GroupResource]Reviewer{}
	for gr, f := range reviews.Funcs() {
		reviewers[gr] = Reviewer(f)
	}
	var defaults []Default
	for _, o := range rbac.DefaultPolicy() {
		defaults = append(defaults, Default{Object: o, Reconcile: func(stored runtime.Object) (runtime.Object, bool) {
			return rbac.Reconcile(stored, o)
		}})
	}
	chain, err := plugins.Default(plugins.Options{PodSecurity: opts.PodSecurity, Escalation: &rbac.Escalation{Rules: authz, Authorizers: authorizers}})
	if err != nil {
		return Config{}, fmt.Errorf("building the admission chain: %w", err)
	}
	iss, err := serviceaccount.NewIssuer(opts.Issuer, keys.ServiceAccountKey())
	if err != nil {
		return Config{}, err
	}
	audiences := []string{iss.URL()}
	sa, err := serviceaccount.NewAuthenticator(serviceaccount.AuthenticatorConfig{
		Issuers: []string{iss.URL()},
		Keys:    []*rsa.PublicKey{iss.PublicKey()},
	})
	if err != nil {
		return Config{}, err
	}
	return Config{
		Store:     st,
		Resources: resources,
		Authenticators: []auth.Authenticator{
			&auth.X509{Roots: keys.CAPool()},
			&auth.Bearer{Token: &auth.AudienceAgnostic{Token: &bootstrap.Authenticator{}, Audiences: audiences}, Audiences: audiences},
			&auth.Bearer{Token: sa, Audiences: audiences},
		},
		Authorizers:          authorizers,
		Admission:            chain,
		Reviewers:            reviewers,
		Defaults:             defaults,
		ServiceAccountIssuer: iss,
		APIAudiences:         audiences,
		OpenAPI:              docs,
		TypeConverter:        types,
		CustomSchemas:        docs,
	}, nil
}
