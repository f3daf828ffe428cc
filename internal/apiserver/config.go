package apiserver

import (
	"crypto/rsa"
	"fmt"

	"k8s.io/apimachinery/pkg/util/managedfields"

	"berth.dev/berth/internal/admission/plugins"
	"berth.dev/berth/internal/auth"
	"berth.dev/berth/internal/auth/bootstrap"
	"berth.dev/berth/internal/auth/pki"
	"berth.dev/berth/internal/auth/serviceaccount"
	"berth.dev/berth/internal/openapi"
	"berth.dev/berth/internal/registry"
	"berth.dev/berth/internal/store"
)

// NewConfig returns the configuration of a complete API server on st: the
// built-in resources, OpenAPI documents, server-side apply, and security
// from keys: client certificates of the cluster CA, then bearer tokens —
// bootstrap tokens, ServiceAccount tokens signed with its service-account key for issuer
// ("" means serviceaccount.DefaultIssuer), whose URL is also the API's
// audience — system:masters authorization and the default admission chain
// (internal/admission/plugins). The caller adds what
// depends on where it runs (address, port, logger, token files, OIDC).
func NewConfig(st store.Store, keys *pki.PKI, issuer string) (Config, error) {
	resources := registry.Builtin()
	docs, err := openapi.New(openapi.Config{Resources: resources})
	if err != nil {
		return Config{}, err
	}
	types, err := managedfields.NewTypeConverter(docs.Models(), false)
	if err != nil {
		return Config{}, fmt.Errorf("building the type converter: %w", err)
	}
	chain, err := plugins.Default(plugins.Options{})
	if err != nil {
		return Config{}, fmt.Errorf("building the admission chain: %w", err)
	}
	iss, err := serviceaccount.NewIssuer(issuer, keys.ServiceAccountKey())
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
		Authorizers:          []auth.Authorizer{auth.Masters{}},
		Admission:            chain,
		ServiceAccountIssuer: iss,
		APIAudiences:         audiences,
		OpenAPI:              docs,
		TypeConverter:        types,
		CustomSchemas:        docs,
	}, nil
}
