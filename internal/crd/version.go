package crd

import (
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"

	"berth.dev/berth/internal/registry"
)

// Version is one version of a CustomResourceDefinition, compiled for
// serving its custom objects. It is immutable and safe for concurrent use;
// a changed CRD needs a new Version.
type Version struct {
	group, version, kind string
	schema               *apiextensionsv1.JSONSchemaProps // nil: no schema
	root                 *node
	openapi              *spec.Schema // the schema as kube-openapi validates it
	validator            *validate.SchemaValidator
	scale                *apiextensionsv1.CustomResourceSubresourceScale
	status               bool
	columns              []registry.TableColumn
	cells                []*cellPath // one per column after Name
	selectable           []selectableField
	rules                *celNode // nil: no rules to run
	warnings             []string
}

// NewVersion compiles version versionName of crd (which Validate
// accepted). The kind is the accepted one (status.acceptedNames.kind),
// or spec.names.kind before names are accepted. It fails when the version
// does not exist or its schema uses what a structural schema cannot (such
// as $ref); crd is not kept.
func NewVersion(crd *apiextensionsv1.CustomResourceDefinition, versionName string) (*Version, error) {
	var ver *apiextensionsv1.CustomResourceDefinitionVersion
	index := 0
	for i := range crd.Spec.Versions {
		if crd.Spec.Versions[i].Name == versionName {
			ver, index = crd.Spec.Versions[i].DeepCopy(), i
			break
		}
	}
	if ver == nil {
		return nil, fmt.Errorf("version %q not found in CustomResourceDefinition %s", versionName, crd.Name)
	}
	v := &Version{
		group:   crd.Spec.Group,
		version: ver.Name,
		kind:    crd.Status.AcceptedNames.Kind,
	}
	if v.kind == "" {
		v.kind = crd.Spec.Names.Kind
	}
	if ver.Schema != nil {
		v.schema = ver.Schema.OpenAPIV3Schema
	}
	if err := structuralInitError(v.schema); err != nil {
		return nil, fmt.Errorf("version %q of CustomResourceDefinition %s: %w", versionName, crd.Name, err)
	}
	v.root = compile(v.schema)
	v.rules = compileRules(v.schema, field.NewPath("spec", "versions").Index(index).Child("schema", "openAPIV3Schema"), true, &v.warnings)
	v.openapi = openAPISchema(v.schema)
	v.validator = validate.NewSchemaValidator(v.openapi, nil, "", strfmt.Default)
	if ver.Subresources != nil {
		v.scale = ver.Subresources.Scale
		v.status = ver.Subresources.Status != nil
	}
	v.columns, v.cells = tableColumns(ver.AdditionalPrinterColumns)
	var err error
	if v.selectable, err = selectableFields(ver.SelectableFields); err != nil {
		return nil, fmt.Errorf("version %q of CustomResourceDefinition %s: %w", versionName, crd.Name, err)
	}
	return v, nil
}

// HasStatus says the version has the status subresource.
func (v *Version) HasStatus() bool { return v.status }

// ScaleSubresource is the version's scale subresource, or nil; the
// caller must not modify it.
func (v *Version) ScaleSubresource() *apiextensionsv1.CustomResourceSubresourceScale {
	return v.scale
}

// Prune does to a decoded custom object what upstream's decoding does
// before anything else sees it, in place:
//
//   - metadata becomes what metav1.ObjectMeta decodes from it (unknown
//     fields dropped);
//   - every field the schema does not specify is dropped, except under
//     x-kubernetes-preserve-unknown-fields: true, and except apiVersion,
//     kind and metadata at the root and in x-kubernetes-embedded-resource
//     objects;
//   - nulls where the schema is neither nullable nor defaulted are dropped;
//   - embedded resources must have string apiVersion and kind, and their
//     metadata is decoded as ObjectMeta too.
//
// It returns the paths of the dropped fields (metadata.foo, spec.bar,
// spec.list[0].baz), which upstream reports as `unknown field "<path>"`
// warnings (fieldValidation=Warn) or errors (Strict). The error is a
// *field.Error for metadata, apiVersion or kind of the wrong shape, which
// upstream answers with 400 Bad Request.
func (v *Version) Prune(obj map[string]any) ([]string, error) {
	for _, k := range []string{"apiVersion", "kind"} {
		if x, ok := obj[k]; ok {
			if _, ok := x.(string); !ok {
				return nil, field.Invalid(field.NewPath(k), x, "must be a string")
			}
		}
	}
	unknown, ferr := coerceMetadata(nil, obj)
	if ferr != nil {
		return nil, ferr
	}
	var p pruner
	p.prune(obj, v.root, true)
	unknown = append(unknown, p.unknown...)
	dropNulls(obj, v.root)
	var embedded []string
	if ferr := coerceEmbedded(nil, obj, v.root, &embedded); ferr != nil {
		return nil, ferr
	}
	return append(unknown, embedded...), nil
}

// Default applies the schema's defaults to obj in place: missing fields
// with a default, and nulls where the schema is not nullable, get a copy
// of the default, at every level (properties, array items and
// additionalProperties). Call it after Prune.
func (v *Version) Default(obj map[string]any) {
	applyDefaults(obj, v.root)
}
