package crd

import (
	"encoding/json"
	"maps"
	"slices"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	openapierrors "k8s.io/kube-openapi/pkg/validation/errors"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/validate"
)

// jsonValue decodes a schema's JSON value (default, example, enum member)
// the way custom objects are decoded: numbers as int64 when whole, float64
// otherwise. A missing, null or undecodable value is nil.
func jsonValue(j *apiextensionsv1.JSON) any {
	if j == nil || len(j.Raw) == 0 {
		return nil
	}
	var v any
	if err := utiljson.Unmarshal(j.Raw, &v); err != nil {
		return nil
	}
	return v
}

// openAPISchema converts a CRD schema to the kube-openapi schema the
// validator runs, as upstream does: x-kubernetes-int-or-string becomes the
// type [integer, string], and formats the API server does not recognize
// are dropped. A nil s gives an empty schema (anything is valid).
func openAPISchema(s *apiextensionsv1.JSONSchemaProps) *spec.Schema {
	out := &spec.Schema{}
	if s == nil {
		return out
	}
	out.ID = s.ID
	out.Schema = spec.SchemaURL(s.Schema)
	out.Description = s.Description
	if s.Type != "" {
		out.Type = spec.StringOrArray{s.Type}
	}
	if s.XIntOrString {
		out.AddExtension("x-kubernetes-int-or-string", true)
		out.Type = spec.StringOrArray{"integer", "string"}
	}
	out.Nullable = s.Nullable
	out.Format = s.Format
	out.Title = s.Title
	out.Maximum = s.Maximum
	out.ExclusiveMaximum = s.ExclusiveMaximum
	out.Minimum = s.Minimum
	out.ExclusiveMinimum = s.ExclusiveMinimum
	out.MaxLength = s.MaxLength
	out.MinLength = s.MinLength
	out.Pattern = s.Pattern
	out.MaxItems = s.MaxItems
	out.MinItems = s.MinItems
	out.UniqueItems = s.UniqueItems
	out.MultipleOf = s.MultipleOf
	out.MaxProperties = s.MaxProperties
	out.MinProperties = s.MinProperties
	out.Required = s.Required
	out.Default = jsonValue(s.Default)
	out.Example = jsonValue(s.Example)
	if s.Enum != nil {
		out.Enum = make([]any, len(s.Enum))
		for i := range s.Enum {
			out.Enum[i] = jsonValue(&s.Enum[i])
		}
	}
	out.AllOf = openAPISchemas(s.AllOf)
	out.OneOf = openAPISchemas(s.OneOf)
	out.AnyOf = openAPISchemas(s.AnyOf)
	if s.Not != nil {
		out.Not = openAPISchema(s.Not)
	}
	out.Properties = openAPISchemaMap(s.Properties)
	out.PatternProperties = openAPISchemaMap(s.PatternProperties)
	out.Definitions = openAPISchemaMap(s.Definitions)
	if s.Ref != nil {
		if ref, err := spec.NewRef(*s.Ref); err == nil {
			out.Ref = ref
		}
	}
	if s.AdditionalProperties != nil {
		out.AdditionalProperties = &spec.SchemaOrBool{Allows: s.AdditionalProperties.Allows}
		if s.AdditionalProperties.Schema != nil {
			out.AdditionalProperties.Schema = openAPISchema(s.AdditionalProperties.Schema)
		}
	}
	if s.AdditionalItems != nil {
		out.AdditionalItems = &spec.SchemaOrBool{Allows: s.AdditionalItems.Allows}
		if s.AdditionalItems.Schema != nil {
			out.AdditionalItems.Schema = openAPISchema(s.AdditionalItems.Schema)
		}
	}
	if s.Items != nil {
		out.Items = &spec.SchemaOrArray{}
		if s.Items.Schema != nil {
			out.Items.Schema = openAPISchema(s.Items.Schema)
		}
		if s.Items.JSONSchemas != nil {
			out.Items.Schemas = openAPISchemas(s.Items.JSONSchemas)
		}
	}
	if s.Dependencies != nil {
		out.Dependencies = make(spec.Dependencies, len(s.Dependencies))
		for k, d := range s.Dependencies {
			o := spec.SchemaOrStringArray{Property: d.Property}
			if d.Schema != nil {
				o.Schema = openAPISchema(d.Schema)
			}
			out.Dependencies[k] = o
		}
	}
	if s.ExternalDocs != nil {
		out.ExternalDocs = &spec.ExternalDocumentation{Description: s.ExternalDocs.Description, URL: s.ExternalDocs.URL}
	}
	out.Format = supportedFormat(out.Type, out.Format)
	if s.XPreserveUnknownFields != nil {
		out.AddExtension("x-kubernetes-preserve-unknown-fields", *s.XPreserveUnknownFields)
	}
	if s.XEmbeddedResource {
		out.AddExtension("x-kubernetes-embedded-resource", true)
	}
	if len(s.XListMapKeys) != 0 {
		keys := make([]any, len(s.XListMapKeys))
		for i, k := range s.XListMapKeys {
			keys[i] = k
		}
		out.AddExtension("x-kubernetes-list-map-keys", keys)
	}
	if s.XListType != nil {
		out.AddExtension("x-kubernetes-list-type", *s.XListType)
	}
	if s.XMapType != nil {
		out.AddExtension("x-kubernetes-map-type", *s.XMapType)
	}
	return out
}

func openAPISchemas(in []apiextensionsv1.JSONSchemaProps) []spec.Schema {
	if in == nil {
		return nil
	}
	out := make([]spec.Schema, len(in))
	for i := range in {
		out[i] = *openAPISchema(&in[i])
	}
	return out
}

func openAPISchemaMap(in map[string]apiextensionsv1.JSONSchemaProps) map[string]spec.Schema {
	if in == nil {
		return nil
	}
	out := make(map[string]spec.Schema, len(in))
	for k, s := range in {
		out[k] = *openAPISchema(&s)
	}
	return out
}

// stringFormats are the string formats the API server validates; upstream
// ignores every other format (k8s-short-name and k8s-long-name since 1.34).
// Names are compared with dashes removed, as go-openapi does.
var stringFormats = map[string]bool{
	"bsonobjectid": true, "uri": true, "email": true, "hostname": true, "ipv4": true, "ipv6": true,
	"cidr": true, "mac": true, "uuid": true, "uuid3": true, "uuid4": true, "uuid5": true,
	"isbn": true, "isbn10": true, "isbn13": true, "creditcard": true, "ssn": true,
	"hexcolor": true, "rgbcolor": true, "byte": true, "password": true, "date": true,
	"duration": true, "datetime": true, "k8sshortname": true, "k8slongname": true,
}

// supportedFormat returns format when the API server validates it for a
// schema of type typ, and "" otherwise.
func supportedFormat(typ spec.StringOrArray, format string) string {
	if format == "" {
		return ""
	}
	t := ""
	if len(typ) == 1 {
		t = typ[0]
	}
	switch t {
	case "", "string":
		if stringFormats[strings.ReplaceAll(format, "-", "")] {
			return format
		}
	case "integer":
		if format == "int32" || format == "int64" {
			return format
		}
	case "number":
		if format == "float" || format == "double" {
			return format
		}
	}
	return ""
}

// sortedKeys returns the keys of m in order, so that errors come out in
// a stable order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// resultErrors turns the result of an OpenAPI validation into field
// errors under pth, as upstream does, sorted (the validator's order
// depends on map iteration).
func resultErrors(pth *field.Path, r *validate.Result) field.ErrorList {
	if r == nil || r.IsValid() {
		return nil
	}
	var errs field.ErrorList
	for _, err := range r.Errors {
		verr, ok := err.(*openapierrors.Validation)
		if !ok {
			errs = append(errs, field.Invalid(pth, "", err.Error()))
			continue
		}
		errPath := pth
		if verr.Name != "" && verr.Name != "." {
			errPath = errPath.Child(strings.TrimPrefix(verr.Name, "."))
		}
		value := verr.Value
		if value == nil {
			value = ""
		}
		switch verr.Code() {
		case openapierrors.RequiredFailCode:
			errs = append(errs, field.Required(errPath, ""))
		case openapierrors.EnumFailCode:
			values := make([]string, 0, len(verr.Values))
			for _, allowed := range verr.Values {
				if s, ok := allowed.(string); ok {
					values = append(values, s)
				} else {
					b, _ := json.Marshal(allowed)
					values = append(values, string(b))
				}
			}
			errs = append(errs, field.NotSupported(errPath, verr.Value, values))
		case openapierrors.TooLongFailCode:
			errs = append(errs, field.TooLong(errPath, "", int(asInt64(verr.Valid))))
		case openapierrors.MaxItemsFailCode, openapierrors.TooManyPropertiesCode:
			errs = append(errs, field.TooMany(errPath, int(asInt64(verr.Value)), int(asInt64(verr.Valid))))
		case openapierrors.InvalidTypeCode:
			errs = append(errs, field.TypeInvalid(errPath, value, verr.Error()))
		default:
			errs = append(errs, field.Invalid(errPath, value, verr.Error()))
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs
}

// asInt64 is the int64 in v, or -1.
func asInt64(v any) int64 {
	if i, ok := v.(int64); ok {
		return i
	}
	return -1
}
