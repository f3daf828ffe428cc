// Package registry describes every built-in resource berth serves: its names,
// scope and subresources, and the per-kind behaviour the API server applies
// around the store: defaults, validation, printer columns and selectable
// fields. One file per kind holds that kind's functions; Builtin ties them
// to the resource table.
//
// The registry knows nothing of HTTP or the store: the API server calls these
// functions on typed k8s.io/api objects.
package registry

import (
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Resource is one served resource in one group version.
type Resource struct {
	schema.GroupVersionResource
	Kind       string
	Singular   string
	Namespaced bool
	ShortNames []string
	Categories []string
	// Status says the kind has a status subresource: writes to the main
	// resource keep the stored status, writes to /status keep the spec.
	Status bool
	// Scale says the kind has a scale subresource (autoscaling/v1 Scale)
	// reading and writing .spec.replicas.
	Scale bool
	// Verbs the resource supports; nil means all of
	// create delete deletecollection get list patch update watch.
	Verbs []string
	// Strategy is the kind's behaviour; its nil fields mean "nothing to do".
	Strategy Strategy
	// Convert, when set, makes this a second version of another resource
	// whose objects it shares.
	Convert *Conversion
	// Ephemeral says the resource is create-only and never stored: a review
	// (TokenReview, SubjectAccessReview...) whose answer the API server's
	// Reviewer for it computes.
	Ephemeral bool
}

// Strategy is the per-kind behaviour. Every function takes the typed
// k8s.io/api object of the kind (for example *corev1.Pod); none of them
// keeps a reference to its arguments.
type Strategy struct {
	// Default fills unset fields the way upstream defaulting does. It runs
	// on every create and update before validation.
	Default func(obj runtime.Object)
	// Validate checks a new object; ValidateUpdate an update against the
	// stored one (immutable fields and the like; it need not repeat Validate).
	Validate       func(obj runtime.Object) field.ErrorList
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList
	// Columns and Row give the Table output (what kubectl get prints).
	// Columns with Priority 1 show only with -o wide. Row returns one
	// cell per column, in order.
	Columns []TableColumn
	Row     func(obj runtime.Object) []any
	// Fields returns the kind's selectable fields beyond metadata.name and
	// metadata.namespace, which the API server adds itself (for pods:
	// spec.nodeName, status.phase, ...).
	Fields func(obj runtime.Object) fields.Set
}

// TableColumn is one printer column.
type TableColumn struct {
	Name        string
	Type        string // string, integer, number, boolean, date
	Format      string // name for the NAME column, otherwise ""
	Description string
	Priority    int32
}
