package apiserver

import (
	"crypto/x509"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/auth"
	"berth.dev/berth/internal/auth/rbac"
	"berth.dev/berth/internal/openapi"
	"berth.dev/berth/internal/registry"
	"berth.dev/berth/internal/store"
)

// NewConfig returns the configuration of a complete API server on st: the
// built-in resources, OpenAPI documents, server-side apply, client
// certificates from clientCAs, authorization by system:masters then RBAC
// (with its default policy, escalation checks and access reviews). The caller
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
	authz := &rbac.Authorizer{}
	authorizers := []auth.Authorizer{auth.Masters{}, authz}
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
	return Config{
		Store:          st,
		Resources:      resources,
		Authenticators: []auth.Authenticator{&auth.X509{Roots: clientCAs}},
		Authorizers:    authorizers,
		Admission: admission.Chain{
			Validators: []admission.Validator{&rbac.Escalation{Rules: authz, Authorizers: authorizers}},
		},
		Reviewers:     reviewers,
		Defaults:      defaults,
		OpenAPI:       docs,
		TypeConverter: types,
		CustomSchemas: docs,
	}, nil
}
