package apiserver

import (
	"crypto/x509"
	"fmt"

	"k8s.io/apimachinery/pkg/util/managedfields"

	"berth.dev/berth/internal/admission/plugins"
	"berth.dev/berth/internal/auth"
	"berth.dev/berth/internal/auth/node"
	"berth.dev/berth/internal/openapi"
	"berth.dev/berth/internal/registry"
	"berth.dev/berth/internal/store"
)

// NewConfig returns the configuration of a complete API server on st: the
// built-in resources, OpenAPI documents, server-side apply, client
// certificates from clientCAs, system:masters and Node authorization, the
// default admission chain (internal/admission/plugins). The caller
// adds what depends on where it runs (address, port, logger).
func NewConfig(st store.Store, clientCAs *x509.CertPool) (Config, error) {
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
	return Config{
		Store:          st,
		Resources:      resources,
		Authenticators: []auth.Authenticator{&auth.X509{Roots: clientCAs}},
		Authorizers:    []auth.Authorizer{auth.Masters{}, &node.Authorizer{}},
		Admission:      chain,
		OpenAPI:        docs,
		TypeConverter:  types,
		CustomSchemas:  docs,
	}, nil
}
