package crd

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// A structural schema (upstream's term) is one where every field of the
// data is described outside of the logical junctors allOf, anyOf, oneOf
// and not, with a type, so that pruning and defaulting need not guess.
// The checks here are upstream's, with its messages.

// structuralInitError returns why upstream could not even build a
// structural schema from s: fields it does not support at all.
func structuralInitError(s *apiextensionsv1.JSONSchemaProps) error {
	if s == nil {
		return nil
	}
	switch {
	case s.ID != "":
		return errors.New("OpenAPIV3Schema 'id' is not supported")
	case s.Schema != "":
		return errors.New("OpenAPIV3Schema 'schema' is not supported")
	case s.Ref != nil && *s.Ref != "":
		return errors.New("OpenAPIV3Schema '$ref' is not supported")
	case len(s.PatternProperties) > 0:
		return errors.New("OpenAPIV3Schema 'patternProperties' is not supported")
	case len(s.Dependencies) > 0:
		return errors.New("OpenAPIV3Schema 'dependencies' is not supported")
	case s.AdditionalItems != nil:
		return errors.New("OpenAPIV3Schema 'additionalItems' is not supported")
	case len(s.Definitions) > 0:
		return errors.New("OpenAPIV3Schema 'definitions' is not supported")
	}
	if err := structuralInitError(s.Not); err != nil {
		return err
	}
	for _, list := range [][]apiextensionsv1.JSONSchemaProps{s.AllOf, s.AnyOf, s.OneOf} {
		for i := range list {
			if err := structuralInitError(&list[i]); err != nil {
				return err
			}
		}
	}
	if s.XPreserveUnknownFields != nil && !*s.XPreserveUnknownFields {
		return errors.New("internal error: 'x-kubernetes-preserve-unknown-fields' must be true or undefined")
	}
	if s.Items != nil {
		if len(s.Items.JSONSchemas) > 0 {
			return errors.New("OpenAPIV3Schema 'items' must be a schema, but is an array")
		}
		if err := structuralInitError(s.Items.Schema); err != nil {
			return err
		}
	}
	for _, k := range sortedKeys(s.Properties) {
		p := s.Properties[k]
		if err := structuralInitError(&p); err != nil {
			return err
		}
	}
	if s.AdditionalProperties != nil {
		return structuralInitError(s.AdditionalProperties.Schema)
	}
	return nil
}

type level int

const (
	rootLevel level = iota
	itemLevel
	fieldLevel
)

// validateStructural returns why s, for which structuralInitError is nil,
// is not structural, sorted by message as upstream sorts them.
func validateStructural(pth *field.Path, s *apiextensionsv1.JSONSchemaProps) field.ErrorList {
	errs := structuralInvariants(s, rootLevel, pth)
	errs = append(errs, structuralCompleteness(s, pth)...)
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs
}

func structuralInvariants(s *apiextensionsv1.JSONSchemaProps, lvl level, pth *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	var errs field.ErrorList
	var items *apiextensionsv1.JSONSchemaProps
	if s.Items != nil {
		items = s.Items.Schema
	}
	if s.Type == "array" && items == nil {
		errs = append(errs, field.Required(pth.Child("items"), "must be specified"))
	}
	errs = append(errs, structuralInvariants(items, itemLevel, pth.Child("items"))...)
	for _, k := range sortedKeys(s.Properties) {
		p := s.Properties[k]
		errs = append(errs, structuralInvariants(&p, fieldLevel, pth.Child("properties").Key(k))...)
	}
	if s.AdditionalProperties != nil {
		if lvl == rootLevel {
			errs = append(errs, field.Forbidden(pth.Child("additionalProperties"), "must not be used at the root"))
		}
		errs = append(errs, structuralInvariants(s.AdditionalProperties.Schema, fieldLevel, pth.Child("additionalProperties"))...)
	}
	preserve := s.XPreserveUnknownFields != nil && *s.XPreserveUnknownFields
	if s.XIntOrString && preserve {
		errs = append(errs, field.Invalid(pth.Child("x-kubernetes-preserve-unknown-fields"), true, "must be false if x-kubernetes-int-or-string is true"))
	}
	if s.XIntOrString && s.XEmbeddedResource {
		errs = append(errs, field.Invalid(pth.Child("x-kubernetes-embedded-resource"), true, "must be false if x-kubernetes-int-or-string is true"))
	}
	errs = append(errs, junctorChecks(s, isIntOrStringAnyOf(s.AnyOf), isIntOrStringAllOf(s.AllOf), pth)...)

	switch {
	case s.XEmbeddedResource && s.Type == "":
		errs = append(errs, field.Required(pth.Child("type"), "must be object if x-kubernetes-embedded-resource is true"))
	case s.XEmbeddedResource && s.Type != "object":
		errs = append(errs, field.Invalid(pth.Child("type"), s.Type, "must be object if x-kubernetes-embedded-resource is true"))
	case s.Type == "" && !s.XIntOrString && !preserve:
		switch lvl {
		case rootLevel:
			errs = append(errs, field.Required(pth.Child("type"), "must not be empty at the root"))
		case itemLevel:
			errs = append(errs, field.Required(pth.Child("type"), "must not be empty for specified array items"))
		case fieldLevel:
			errs = append(errs, field.Required(pth.Child("type"), "must not be empty for specified object fields"))
		}
	}
	if s.XEmbeddedResource && s.AdditionalProperties != nil {
		errs = append(errs, field.Forbidden(pth.Child("additionalProperties"), "must not be used if x-kubernetes-embedded-resource is set"))
	}
	if lvl == rootLevel && s.Type != "" && s.Type != "object" {
		errs = append(errs, field.Invalid(pth.Child("type"), s.Type, "must be object at the root"))
	}
	checkMetadata := lvl == rootLevel || s.XEmbeddedResource
	if checkMetadata {
		for _, k := range []string{"kind", "apiVersion"} {
			if p, ok := s.Properties[k]; ok && p.Type != "string" {
				errs = append(errs, field.Invalid(pth.Child("properties").Key(k).Child("type"), p.Type, "must be string"))
			}
		}
	}
	if m, ok := s.Properties["metadata"]; ok {
		mp := pth.Child("properties").Key("metadata")
		if checkMetadata && m.Type != "object" {
			errs = append(errs, field.Invalid(mp.Child("type"), m.Type, "must be object"))
		}
		if lvl == rootLevel && !onlyNameRestrictions(m) {
			errs = append(errs, field.Forbidden(mp, "must not specify anything other than name and generateName, but metadata is implicitly specified"))
		}
	}
	if s.XEmbeddedResource && !preserve && len(s.Properties) == 0 {
		errs = append(errs, field.Required(pth.Child("properties"), "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"))
	}
	return errs
}

// onlyNameRestrictions says whether the schema of metadata at the root
// says nothing but its type, a default and properties name and
// generateName: the API server owns the rest of ObjectMeta.
func onlyNameRestrictions(m apiextensionsv1.JSONSchemaProps) bool {
	_, name := m.Properties["name"]
	_, generateName := m.Properties["generateName"]
	if n := len(m.Properties); (name && generateName && n == 2) || ((name || generateName) && n == 1) || n == 0 {
		m.Properties = nil
	}
	m.Type = ""
	m.Default = nil
	for _, empty := range []bool{len(m.Required) == 0, len(m.Enum) == 0, len(m.AllOf) == 0, len(m.OneOf) == 0, len(m.AnyOf) == 0, len(m.XListMapKeys) == 0, len(m.XValidations) == 0} {
		if !empty {
			return false
		}
	}
	m.Required, m.Enum, m.AllOf, m.OneOf, m.AnyOf, m.XListMapKeys, m.XValidations = nil, nil, nil, nil, nil, nil, nil
	return reflect.DeepEqual(m, apiextensionsv1.JSONSchemaProps{})
}

// isIntOrStringAnyOf reports the anyOf [{type: integer}, {type: string}]
// that x-kubernetes-int-or-string schemas may carry.
func isIntOrStringAnyOf(anyOf []apiextensionsv1.JSONSchemaProps) bool {
	return len(anyOf) == 2 &&
		reflect.DeepEqual(anyOf[0], apiextensionsv1.JSONSchemaProps{Type: "integer"}) &&
		reflect.DeepEqual(anyOf[1], apiextensionsv1.JSONSchemaProps{Type: "string"})
}

// isIntOrStringAllOf reports an allOf whose first member is that anyOf.
func isIntOrStringAllOf(allOf []apiextensionsv1.JSONSchemaProps) bool {
	return len(allOf) >= 1 && isIntOrStringAnyOf(allOf[0].AnyOf)
}

// junctorChecks checks the allOf, anyOf, oneOf and not of s (a structural
// node or a junctor member): what they hold must be value validations only.
func junctorChecks(s *apiextensionsv1.JSONSchemaProps, skipAnyOf, skipFirstAllOfAnyOf bool, pth *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !skipAnyOf {
		for i := range s.AnyOf {
			errs = append(errs, nestedChecks(&s.AnyOf[i], false, pth.Child("anyOf").Index(i))...)
		}
	}
	for i := range s.AllOf {
		errs = append(errs, nestedChecks(&s.AllOf[i], skipFirstAllOfAnyOf && i == 0, pth.Child("allOf").Index(i))...)
	}
	for i := range s.OneOf {
		errs = append(errs, nestedChecks(&s.OneOf[i], false, pth.Child("oneOf").Index(i))...)
	}
	if s.Not != nil {
		errs = append(errs, nestedChecks(s.Not, false, pth.Child("not"))...)
	}
	if s.Pattern != "" {
		if _, err := regexp.Compile(s.Pattern); err != nil {
			errs = append(errs, field.Invalid(pth.Child("pattern"), s.Pattern, fmt.Sprintf("must be a valid regular expression, but isn't: %v", err)))
		}
	}
	return errs
}

// nestedChecks checks a member of a junctor: it may only restrict values.
func nestedChecks(v *apiextensionsv1.JSONSchemaProps, skipAnyOf bool, pth *field.Path) field.ErrorList {
	errs := junctorChecks(v, skipAnyOf, false, pth)
	if v.Items != nil && v.Items.Schema != nil {
		errs = append(errs, nestedChecks(v.Items.Schema, false, pth.Child("items"))...)
	}
	for _, k := range sortedKeys(v.Properties) {
		p := v.Properties[k]
		errs = append(errs, nestedChecks(&p, false, pth.Child("properties").Key(k))...)
	}
	if v.Type != "" {
		errs = append(errs, field.Forbidden(pth.Child("type"), "must be empty to be structural"))
	}
	if a := v.AdditionalProperties; a != nil && (a.Schema != nil || a.Allows) {
		errs = append(errs, field.Forbidden(pth.Child("additionalProperties"), "must be undefined to be structural"))
	}
	if jsonValue(v.Default) != nil {
		errs = append(errs, field.Forbidden(pth.Child("default"), "must be undefined to be structural"))
	}
	if v.Title != "" {
		errs = append(errs, field.Forbidden(pth.Child("title"), "must be empty to be structural"))
	}
	if v.Description != "" {
		errs = append(errs, field.Forbidden(pth.Child("description"), "must be empty to be structural"))
	}
	if v.Nullable {
		errs = append(errs, field.Forbidden(pth.Child("nullable"), "must be false to be structural"))
	}
	if v.XPreserveUnknownFields != nil && *v.XPreserveUnknownFields {
		errs = append(errs, field.Forbidden(pth.Child("x-kubernetes-preserve-unknown-fields"), "must be false to be structural"))
	}
	if v.XEmbeddedResource {
		errs = append(errs, field.Forbidden(pth.Child("x-kubernetes-embedded-resource"), "must be false to be structural"))
	}
	if v.XIntOrString {
		errs = append(errs, field.Forbidden(pth.Child("x-kubernetes-int-or-string"), "must be false to be structural"))
	}
	if len(v.XListMapKeys) > 0 {
		errs = append(errs, field.Forbidden(pth.Child("x-kubernetes-list-map-keys"), "must be empty to be structural"))
	}
	if v.XListType != nil {
		errs = append(errs, field.Forbidden(pth.Child("x-kubernetes-list-type"), "must be undefined to be structural"))
	}
	if v.XMapType != nil {
		errs = append(errs, field.Forbidden(pth.Child("x-kubernetes-map-type"), "must be undefined to be structural"))
	}
	if len(v.XValidations) > 0 {
		errs = append(errs, field.Forbidden(pth.Child("x-kubernetes-validations"), "must be empty to be structural"))
	}
	if _, ok := v.Properties["metadata"]; ok {
		errs = append(errs, field.Forbidden(pth.Child("properties").Key("metadata"), "must not be specified in a nested context"))
	}
	return errs
}

// structuralCompleteness checks that every field and item the junctors of
// the root restrict is also specified structurally. (Upstream checks the
// junctors of the root only.)
func structuralCompleteness(s *apiextensionsv1.JSONSchemaProps, pth *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	return junctorCompleteness(s, s, pth, pth)
}

func junctorCompleteness(v, s *apiextensionsv1.JSONSchemaProps, sPath, vPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if v.Not != nil {
		errs = append(errs, nestedCompleteness(v.Not, s, sPath, vPath.Child("not"))...)
	}
	for i := range v.AllOf {
		errs = append(errs, nestedCompleteness(&v.AllOf[i], s, sPath, vPath.Child("allOf").Index(i))...)
	}
	for i := range v.AnyOf {
		errs = append(errs, nestedCompleteness(&v.AnyOf[i], s, sPath, vPath.Child("anyOf").Index(i))...)
	}
	for i := range v.OneOf {
		errs = append(errs, nestedCompleteness(&v.OneOf[i], s, sPath, vPath.Child("oneOf").Index(i))...)
	}
	return errs
}

func nestedCompleteness(v, s *apiextensionsv1.JSONSchemaProps, sPath, vPath *field.Path) field.ErrorList {
	if s == nil {
		return field.ErrorList{field.Required(sPath, fmt.Sprintf("because it is defined in %s", vPath.String()))}
	}
	errs := junctorCompleteness(v, s, sPath, vPath)
	if v.Items != nil && v.Items.Schema != nil {
		var sItems *apiextensionsv1.JSONSchemaProps
		if s.Items != nil {
			sItems = s.Items.Schema
		}
		errs = append(errs, nestedCompleteness(v.Items.Schema, sItems, sPath.Child("items"), vPath.Child("items"))...)
	}
	for _, k := range sortedKeys(v.Properties) {
		vp := v.Properties[k]
		sp, ok := s.Properties[k]
		if !ok {
			errs = append(errs, field.Required(sPath.Child("properties").Key(k), fmt.Sprintf("because it is defined in %s", vPath.Child("properties").Key(k))))
			continue
		}
		errs = append(errs, nestedCompleteness(&vp, &sp, sPath.Child("properties").Key(k), vPath.Child("properties").Key(k))...)
	}
	return errs
}

// schemaAtPath follows a field path (.a.b, ['a'], and for maps .key or
// ['key']) through the structural schema s, as upstream's ValidFieldPath
// does, and returns the path and the schema it points to.
func schemaAtPath(jsonPath string, s *apiextensionsv1.JSONSchemaProps, allowArrayNotation bool) (*field.Path, *apiextensionsv1.JSONSchemaProps, error) {
	var pth *field.Path
	step := func(name string) error {
		switch {
		case s == nil:
			return errors.New("does not refer to a valid field")
		case len(s.Properties) > 0:
			p, ok := s.Properties[name]
			if !ok {
				return errors.New("does not refer to a valid field")
			}
			pth = pth.Child(name)
			s = &p
		case s.AdditionalProperties != nil:
			pth = pth.Key(name)
			s = s.AdditionalProperties.Schema
		default:
			return errors.New("does not refer to a valid field")
		}
		return nil
	}
	toks := pathTokens(jsonPath)
	for i := 0; i < len(toks); i++ {
		switch tok := toks[i]; tok {
		case "[":
			if !allowArrayNotation {
				return nil, nil, errors.New("array notation is not allowed")
			}
			if i+1 >= len(toks) {
				return nil, nil, errors.New("unexpected end of JSON path")
			}
			i++
			tok = toks[i]
			if len(tok) < 2 || tok[0] != '\'' || tok[len(tok)-1] != '\'' {
				return nil, nil, fmt.Errorf("expected single quoted string but got %s", tok)
			}
			name, err := unquoteSingle(tok[1 : len(tok)-1])
			if err != nil {
				return nil, nil, fmt.Errorf("invalid string literal: %w", err)
			}
			if err := step(name); err != nil {
				return nil, nil, err
			}
			if i+1 >= len(toks) {
				return nil, nil, errors.New("unexpected end of JSON path")
			}
			i++
			if toks[i] != "]" {
				return nil, nil, fmt.Errorf("expected ] but got %s", toks[i])
			}
		case ".":
			if i+1 >= len(toks) {
				return nil, nil, errors.New("unexpected end of JSON path")
			}
			i++
			if err := step(toks[i]); err != nil {
				return nil, nil, err
			}
		default:
			return nil, nil, fmt.Errorf("expected [ or . but got: %s", tok)
		}
	}
	return pth, s, nil
}

// pathTokens splits a field path into the delimiters '.', '[' and ']',
// single-quoted strings, and the names between them.
func pathTokens(s string) []string {
	var toks []string
	for len(s) > 0 {
		if s[0] == '\'' {
			end := -1
			for i := 1; i < len(s); i++ {
				if s[i] == '\'' && s[i-1] != '\\' {
					end = i
					break
				}
			}
			if end < 0 {
				toks = append(toks, s)
				return toks
			}
			toks = append(toks, s[:end+1])
			s = s[end+1:]
			continue
		}
		if i := strings.IndexAny(s, ".[]"); i != 0 {
			if i < 0 {
				i = len(s)
			}
			toks = append(toks, s[:i])
			s = s[i:]
			continue
		}
		toks = append(toks, s[:1])
		s = s[1:]
	}
	return toks
}

// singleQuoteEscapes are the escapes a single-quoted path segment may use.
var singleQuoteEscapes = map[byte]string{
	'a': "\a", 'b': "\b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t", 'v': "\v", '\'': "'", '\\': "\\",
}

// unquoteSingle undoes the escapes of a single-quoted path segment.
func unquoteSingle(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		r, ok := singleQuoteEscapes[s[i]]
		if !ok {
			return "", fmt.Errorf("invalid escape char \\%c", s[i])
		}
		b.WriteString(r)
	}
	return b.String(), nil
}
