// Package admission is the API server's admission chain: after a write
// request is authenticated, authorized, decoded and defaulted, mutating
// plugins may change the object, and after validation, validating plugins
// may refuse it — in that order, as upstream. Plugins live in the
// sub-packages; the chain knows nothing of HTTP or the store.
package admission

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/auth"
)

// Operation is what a request does to an object.
type Operation string

// The operations, named as upstream's admission.k8s.io/v1 AdmissionRequest.
const (
	Create  Operation = "CREATE"
	Update  Operation = "UPDATE"
	Delete  Operation = "DELETE"
	Connect Operation = "CONNECT"
)

// Attributes describe one write for admission.
type Attributes struct {
	Operation   Operation
	Kind        schema.GroupVersionKind
	Resource    schema.GroupVersionResource
	Subresource string
	Namespace   string
	Name        string
	// Object is the new object (nil for Delete); mutating plugins change it
	// in place. OldObject is the stored one (nil for Create).
	Object    runtime.Object
	OldObject runtime.Object
	// Options is the request's CreateOptions, UpdateOptions or DeleteOptions.
	Options runtime.Object
	DryRun  bool
	User    auth.User

	warnings []string
}

// Warn adds a warning the client receives as a Warning header.
func (a *Attributes) Warn(msg string) { a.warnings = append(a.warnings, msg) }

// Warnings returns the warnings plugins added.
func (a *Attributes) Warnings() []string { return a.warnings }

// Mutator is a mutating admission plugin.
type Mutator interface {
	// Name is the plugin's upstream name (ServiceAccount, LimitRanger...).
	Name() string
	// Admit may change a.Object; an error refuses the request.
	Admit(ctx context.Context, a *Attributes) error
}

// Validator is a validating admission plugin.
type Validator interface {
	Name() string
	// Validate refuses the request with an error; it must not change a.Object.
	Validate(ctx context.Context, a *Attributes) error
}

// Chain runs mutators then validators, each in order.
type Chain struct {
	Mutators   []Mutator
	Validators []Validator
}

// Admit runs the mutating plugins; the first refusal ends the chain.
func (c Chain) Admit(ctx context.Context, a *Attributes) error {
	for _, m := range c.Mutators {
		if err := m.Admit(ctx, a); err != nil {
			return refusal(m.Name(), a, err)
		}
	}
	return nil
}

// Validate runs the validating plugins; the first refusal ends the chain.
func (c Chain) Validate(ctx context.Context, a *Attributes) error {
	for _, v := range c.Validators {
		if err := v.Validate(ctx, a); err != nil {
			return refusal(v.Name(), a, err)
		}
	}
	return nil
}

// Plugins returns every plugin of the chain, mutators first.
func (c Chain) Plugins() []any {
	var out []any
	for _, m := range c.Mutators {
		out = append(out, m)
	}
	for _, v := range c.Validators {
		out = append(out, v)
	}
	return out
}

// refusal makes err a Status error: API errors pass unchanged (plugins name
// themselves in their messages, as upstream's do), anything else becomes
// 403 Forbidden naming the plugin.
func refusal(plugin string, a *Attributes, err error) error {
	if _, ok := err.(apierrors.APIStatus); ok {
		return err
	}
	return apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, fmt.Errorf("%s: %w", plugin, err))
}
