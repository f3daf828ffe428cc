package crd

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
)

// allowedAtRootWithStatus are the only schema fields the root of a schema
// may set when the status subresource is enabled, so that the schema of
// .status, taken alone, loses nothing.
var allowedAtRootWithStatus = []string{"Description", "Type", "Format", "Title", "Maximum", "ExclusiveMaximum", "Minimum", "ExclusiveMinimum", "MaxLength", "MinLength", "Pattern", "MaxItems", "MinItems", "UniqueItems", "MultipleOf", "Required", "Items", "Properties", "ExternalDocs", "Example", "XPreserveUnknownFields", "XValidations"}

// validateValidation checks a version's schema (cv) as upstream does: it
// must be structural, its defaults valid and pruned, and it must use only
// what the API server supports.
func validateValidation(cv *apiextensionsv1.CustomResourceValidation, statusEnabled bool, pth *field.Path) field.ErrorList {
	if cv == nil || cv.OpenAPIV3Schema == nil {
		return nil
	}
	s := cv.OpenAPIV3Schema
	sp := pth.Child("openAPIV3Schema")
	var errs field.ErrorList
	if statusEnabled {
		errs = append(errs, validateRootWithStatus(s, pth)...)
	}
	if s.Nullable {
		errs = append(errs, field.Forbidden(pth.Child("openAPIV3Schema.nullable"), "nullable cannot be true at the root"))
	}
	// Schemas that structural checks cannot even read are reported by the
	// checks below in more detail; the reason is shown only if they are not.
	var initErr *field.Error
	ctx := schemaContext{allowDefaults: true}
	if err := structuralInitError(s); err != nil {
		initErr = field.Invalid(sp, "", err.Error())
	} else if serrs := validateStructural(sp, s); len(serrs) > 0 {
		errs = append(errs, serrs...)
	} else if derrs := validateDefaults(sp, s); len(derrs) > 0 {
		errs = append(errs, derrs...)
	} else {
		ctx.compileRules = true
	}
	schemaErrs, celErrs := ctx.check(s, sp, true)
	errs = append(errs, schemaErrs...)
	errs = append(errs, celErrs...)
	if len(errs) == 0 && initErr != nil {
		errs = append(errs, initErr)
	}
	return errs
}

func validateRootWithStatus(s *apiextensionsv1.JSONSchemaProps, pth *field.Path) field.ErrorList {
	v := reflect.ValueOf(s).Elem()
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			continue
		}
		name := v.Type().Field(i).Name
		if name == "Type" {
			if s.Type != "object" {
				return field.ErrorList{field.Invalid(pth.Child("openAPIV3Schema.type"), s.Type, `only "object" is allowed as the type at the root of the schema if the status subresource is enabled`)}
			}
			continue
		}
		if !slices.Contains(allowedAtRootWithStatus, name) {
			return field.ErrorList{field.Invalid(pth.Child("openAPIV3Schema"), *s, fmt.Sprintf(`only %v fields are allowed at the root of the schema if the status subresource is enabled`, allowedAtRootWithStatus))}
		}
	}
	return nil
}

// schemaHas says whether pred holds for s or any schema inside it.
func schemaHas(s *apiextensionsv1.JSONSchemaProps, pred func(*apiextensionsv1.JSONSchemaProps) bool) bool {
	if s == nil {
		return false
	}
	if pred(s) {
		return true
	}
	if s.Items != nil {
		if schemaHas(s.Items.Schema, pred) {
			return true
		}
		for i := range s.Items.JSONSchemas {
			if schemaHas(&s.Items.JSONSchemas[i], pred) {
				return true
			}
		}
	}
	for _, list := range [][]apiextensionsv1.JSONSchemaProps{s.AllOf, s.AnyOf, s.OneOf} {
		for i := range list {
			if schemaHas(&list[i], pred) {
				return true
			}
		}
	}
	if schemaHas(s.Not, pred) {
		return true
	}
	for _, m := range []map[string]apiextensionsv1.JSONSchemaProps{s.Properties, s.PatternProperties, s.Definitions} {
		for _, p := range m {
			if schemaHas(&p, pred) {
				return true
			}
		}
	}
	if s.AdditionalProperties != nil && schemaHas(s.AdditionalProperties.Schema, pred) {
		return true
	}
	if s.AdditionalItems != nil && schemaHas(s.AdditionalItems.Schema, pred) {
		return true
	}
	for _, d := range s.Dependencies {
		if schemaHas(d.Schema, pred) {
			return true
		}
	}
	return false
}

func specHasDefaults(spec *apiextensionsv1.CustomResourceDefinitionSpec) bool {
	for _, v := range spec.Versions {
		if v.Schema != nil && schemaHas(v.Schema.OpenAPIV3Schema, func(s *apiextensionsv1.JSONSchemaProps) bool { return s.Default != nil }) {
			return true
		}
	}
	return false
}

// validateDefaults checks every default of the structural schema root: it
// must hold only fields the schema specifies (pruned), have valid embedded
// resources, and match the schema where it stands. Defaults under
// additionalProperties are forbidden elsewhere and not followed.
func validateDefaults(pth *field.Path, root *apiextensionsv1.JSONSchemaProps) field.ErrorList {
	return defaultsIn(pth, root, true, false)
}

// defaultsIn checks the defaults in s. resource says s is a resource (the
// root or an embedded resource); insideMeta that s is in the TypeMeta or
// ObjectMeta of one.
func defaultsIn(pth *field.Path, s *apiextensionsv1.JSONSchemaProps, resource, insideMeta bool) field.ErrorList {
	if s == nil {
		return nil
	}
	if resource {
		insideMeta = false
	}
	var errs field.ErrorList
	if d := jsonValue(s.Default); d != nil {
		dp := pth.Child("default")
		n := compile(s)
		if !insideMeta {
			pruned := runtime.DeepCopyJSONValue(d)
			var p pruner
			p.prune(pruned, n, s.XEmbeddedResource)
			if !reflect.DeepEqual(pruned, d) {
				errs = append(errs, field.Invalid(dp, d, "must not have unknown fields"))
			}
		}
		var unknown []string
		if ferr := coerceEmbedded(dp, runtime.DeepCopyJSONValue(d), n, &unknown); ferr != nil {
			errs = append(errs, ferr)
		} else if merrs := validateEmbedded(dp, d, n); len(merrs) > 0 {
			errs = append(errs, merrs...)
		} else {
			v := validate.NewSchemaValidator(openAPISchema(s), nil, "", strfmt.Default)
			errs = append(errs, resultErrors(dp, v.Validate(d))...)
		}
	}
	if s.Items != nil && s.Items.Schema != nil {
		errs = append(errs, defaultsIn(pth.Child("items"), s.Items.Schema, s.Items.Schema.XEmbeddedResource, insideMeta)...)
	}
	for _, k := range sortedKeys(s.Properties) {
		p := s.Properties[k]
		errs = append(errs, defaultsIn(pth.Child("properties").Key(k), &p, p.XEmbeddedResource, insideMeta || (resource && isMetaField(k)))...)
	}
	return errs
}

// schemaContext is what a schema node's checks depend on from above it.
type schemaContext struct {
	allowDefaults          bool
	disallowDefaultsReason string
	insideResourceMeta     bool
	// compileRules says the schema is sound enough to compile its
	// x-kubernetes-validations rules.
	compileRules bool
	// uncorrelatable is the nearest list above whose items do not
	// correlate with the old object's, so transition rules cannot run.
	uncorrelatable *field.Path
}

func (c schemaContext) inUncorrelatable(pth *field.Path) schemaContext {
	if c.uncorrelatable == nil {
		c.uncorrelatable = pth
	}
	return c
}

func (c schemaContext) forbidDefaults(reason string) schemaContext {
	c.allowDefaults = false
	c.disallowDefaultsReason = reason
	return c
}

var openAPIV3Types = []string{"array", "boolean", "integer", "number", "object", "string"}

// validationReasons are the reasons an x-kubernetes-validations rule may
// give.
var validationReasons = []string{
	string(apiextensionsv1.FieldValueDuplicate), string(apiextensionsv1.FieldValueForbidden),
	string(apiextensionsv1.FieldValueInvalid), string(apiextensionsv1.FieldValueRequired),
}

var newlines = regexp.MustCompile(`[\n\r]+`)

// check checks s, and recursively what it holds, for what CRD schemas may
// not use, and for the consistency of Kubernetes' extensions. The errors
// of rules that do not compile come apart, as upstream reports them after
// all others; rules are compiled only where the schema has no error at or
// below them.
func (c schemaContext) check(s *apiextensionsv1.JSONSchemaProps, pth *field.Path, isRoot bool) (field.ErrorList, field.ErrorList) {
	if s == nil {
		return nil, nil
	}
	errs := c.checkNode(s, pth)
	var celErrs field.ErrorList
	add := func(schemaErrs, ruleErrs field.ErrorList) {
		errs = append(errs, schemaErrs...)
		celErrs = append(celErrs, ruleErrs...)
	}
	if s.UniqueItems {
		errs = append(errs, field.Forbidden(pth.Child("uniqueItems"), "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"))
	}
	if s.AdditionalProperties != nil {
		if len(s.Properties) != 0 && (!s.AdditionalProperties.Allows || s.AdditionalProperties.Schema != nil) {
			errs = append(errs, field.Forbidden(pth.Child("additionalProperties"), "additionalProperties and properties are mutual exclusive"))
		}
		sub := c
		if c.insideResourceMeta {
			sub = c.forbidDefaults("inside additionalProperties applying to object metadata")
		}
		add(sub.check(s.AdditionalProperties.Schema, pth.Child("additionalProperties"), false))
	}
	for _, k := range sortedKeys(s.Properties) {
		p := s.Properties[k]
		sub := c
		if (isRoot || s.XEmbeddedResource) && isMetaField(k) {
			sub.insideResourceMeta = true
			if isRoot {
				sub = sub.forbidDefaults("in top-level " + k)
			}
		}
		add(sub.check(&p, pth.Child("properties").Key(k), false))
	}
	// Rules are not allowed in junctors, definitions and dependencies, so
	// nothing there is compiled.
	noRules := c
	noRules.compileRules = false
	add(noRules.check(s.Not, pth.Child("not"), false))
	for _, j := range []struct {
		name string
		list []apiextensionsv1.JSONSchemaProps
	}{{"allOf", s.AllOf}, {"oneOf", s.OneOf}, {"anyOf", s.AnyOf}} {
		for i := range j.list {
			add(noRules.check(&j.list[i], pth.Child(j.name).Index(i), false))
		}
	}
	for _, k := range sortedKeys(s.Definitions) {
		d := s.Definitions[k]
		add(noRules.check(&d, pth.Child("definitions").Key(k), false))
	}
	if s.Items != nil {
		sub := c
		if s.XListType == nil || *s.XListType != "map" {
			sub = c.inUncorrelatable(pth)
		}
		add(sub.check(s.Items.Schema, pth.Child("items"), false))
		for i := range s.Items.JSONSchemas {
			add(sub.check(&s.Items.JSONSchemas[i], pth.Child("items").Index(i), false))
		}
	}
	for _, k := range sortedKeys(s.Dependencies) {
		add(noRules.check(s.Dependencies[k].Schema, pth.Child("dependencies").Key(k), false))
	}
	if s.XPreserveUnknownFields != nil && !*s.XPreserveUnknownFields {
		errs = append(errs, field.Invalid(pth.Child("x-kubernetes-preserve-unknown-fields"), false, "must be true or undefined"))
	}
	errs = append(errs, checkMapType(s, pth)...)
	errs = append(errs, checkListType(s, pth)...)
	errs = append(errs, checkRules(s, pth)...)
	if len(s.XValidations) > 0 && len(errs) == 0 && c.compileRules {
		celErrs = append(celErrs, checkRuleCompilation(s, pth, c.uncorrelatable)...)
	}
	return errs, celErrs
}

// checkNode checks what s itself sets.
func (c schemaContext) checkNode(s *apiextensionsv1.JSONSchemaProps, pth *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Type != "" && !slices.Contains(openAPIV3Types, s.Type) {
		errs = append(errs, field.NotSupported(pth.Child("type"), s.Type, openAPIV3Types))
	}
	if s.Default != nil && !c.allowDefaults {
		detail := "must not be set"
		if c.disallowDefaultsReason != "" {
			detail += " " + c.disallowDefaultsReason
		}
		errs = append(errs, field.Forbidden(pth.Child("default"), detail))
	}
	forbidden := []struct {
		set       bool
		name, msg string
	}{
		{s.ID != "", "id", "id is not supported"},
		{s.AdditionalItems != nil, "additionalItems", "additionalItems is not supported"},
		{len(s.PatternProperties) != 0, "patternProperties", "patternProperties is not supported"},
		{len(s.Definitions) != 0, "definitions", "definitions is not supported"},
		{s.Dependencies != nil, "dependencies", "dependencies is not supported"},
		{s.Ref != nil, "$ref", "$ref is not supported"},
		{s.Type == "null", "type", "type cannot be set to null, use nullable as an alternative"},
		{s.Items != nil && len(s.Items.JSONSchemas) != 0, "items", "items must be a schema object and not an array"},
		{c.insideResourceMeta && s.XEmbeddedResource, "x-kubernetes-embedded-resource", "must not be used inside of resource meta"},
	}
	for _, f := range forbidden {
		if f.set {
			errs = append(errs, field.Forbidden(pth.Child(f.name), f.msg))
		}
	}
	return errs
}

func checkMapType(s *apiextensionsv1.JSONSchemaProps, pth *field.Path) field.ErrorList {
	if s.XMapType == nil {
		return nil
	}
	var errs field.ErrorList
	if s.Type == "" {
		errs = append(errs, field.Required(pth.Child("type"), "must be object if x-kubernetes-map-type is specified"))
	} else if s.Type != "object" {
		errs = append(errs, field.Invalid(pth.Child("type"), s.Type, "must be object if x-kubernetes-map-type is specified"))
	}
	if *s.XMapType != "atomic" && *s.XMapType != "granular" {
		errs = append(errs, field.NotSupported(pth.Child("x-kubernetes-map-type"), *s.XMapType, []string{"atomic", "granular"}))
	}
	return errs
}

func checkListType(s *apiextensionsv1.JSONSchemaProps, pth *field.Path) field.ErrorList {
	var errs field.ErrorList
	listType := ""
	if s.XListType != nil {
		listType = *s.XListType
	}
	var items *apiextensionsv1.JSONSchemaProps
	if s.Items != nil {
		items = s.Items.Schema
	}
	switch {
	case s.XListType != nil && s.Type == "":
		errs = append(errs, field.Required(pth.Child("type"), "must be array if x-kubernetes-list-type is specified"))
	case s.XListType != nil && s.Type != "array":
		errs = append(errs, field.Invalid(pth.Child("type"), s.Type, "must be array if x-kubernetes-list-type is specified"))
	case listType == "set" && items != nil:
		switch items.Type {
		case "array":
			if items.XListType != nil && *items.XListType != "atomic" {
				errs = append(errs, field.Invalid(pth.Child("items").Child("x-kubernetes-list-type"), items.XListType, "must be atomic as item of a list with x-kubernetes-list-type=set"))
			}
		case "object":
			if items.XMapType == nil || *items.XMapType != "atomic" {
				errs = append(errs, field.Invalid(pth.Child("items").Child("x-kubernetes-map-type"), items.XListType, "must be atomic as item of a list with x-kubernetes-list-type=set"))
			}
		}
	}
	if s.XListType != nil && listType != "atomic" && listType != "set" && listType != "map" {
		errs = append(errs, field.NotSupported(pth.Child("x-kubernetes-list-type"), listType, []string{"atomic", "set", "map"}))
	}
	if len(s.XListMapKeys) > 0 {
		if s.XListType == nil {
			errs = append(errs, field.Required(pth.Child("x-kubernetes-list-type"), "must be map if x-kubernetes-list-map-keys is non-empty"))
		} else if listType != "map" {
			errs = append(errs, field.Invalid(pth.Child("x-kubernetes-list-type"), listType, "must be map if x-kubernetes-list-map-keys is non-empty"))
		}
	}
	if listType == "map" {
		if len(s.XListMapKeys) == 0 {
			errs = append(errs, field.Required(pth.Child("x-kubernetes-list-map-keys"), "must not be empty if x-kubernetes-list-type is map"))
		}
		if s.Items == nil {
			errs = append(errs, field.Required(pth.Child("items"), "must have a schema if x-kubernetes-list-type is map"))
		}
		if s.Items != nil && items == nil {
			errs = append(errs, field.Invalid(pth.Child("items"), s.Items, "must only have a single schema if x-kubernetes-list-type is map"))
		}
		if items != nil && items.Type != "object" {
			errs = append(errs, field.Invalid(pth.Child("items").Child("type"), items.Type, "must be object if parent array's x-kubernetes-list-type is map"))
		}
		if items != nil && items.Type == "object" {
			keys := map[string]bool{}
			for _, k := range s.XListMapKeys {
				if p, ok := items.Properties[k]; ok {
					if p.Type == "array" || p.Type == "object" {
						errs = append(errs, field.Invalid(pth.Child("items").Child("properties").Key(k).Child("type"), items.Type, "must be a scalar type if parent array's x-kubernetes-list-type is map"))
					}
				} else {
					errs = append(errs, field.Invalid(pth.Child("x-kubernetes-list-map-keys"), s.XListMapKeys, "entries must all be names of item properties"))
				}
				if keys[k] {
					errs = append(errs, field.Invalid(pth.Child("x-kubernetes-list-map-keys"), s.XListMapKeys, "must not contain duplicate entries"))
				}
				keys[k] = true
			}
		}
	}
	if items != nil && (listType == "set" || listType == "map") {
		if items.Nullable {
			errs = append(errs, field.Forbidden(pth.Child("items").Child("nullable"), "cannot be nullable when x-kubernetes-list-type is "+listType))
		}
		if listType == "map" {
			required := map[string]bool{}
			for _, r := range items.Required {
				required[r] = true
			}
			for _, k := range s.XListMapKeys {
				p, ok := items.Properties[k]
				if !ok {
					continue
				}
				kp := pth.Child("items").Child("properties").Key(k)
				if !required[k] && p.Default == nil {
					errs = append(errs, field.Required(kp.Child("default"), "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property"))
				}
				if p.Nullable {
					errs = append(errs, field.Forbidden(kp.Child("nullable"), "this property is in x-kubernetes-list-map-keys, so it cannot be nullable"))
				}
			}
		}
	}
	return errs
}

// checkRules checks the form of the x-kubernetes-validations of s.
func checkRules(s *apiextensionsv1.JSONSchemaProps, pth *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, rule := range s.XValidations {
		rp := pth.Child("x-kubernetes-validations").Index(i)
		r := strings.TrimSpace(rule.Rule)
		msg := strings.TrimSpace(rule.Message)
		switch {
		case r == "":
			errs = append(errs, field.Required(rp.Child("rule"), "rule is not specified"))
		case rule.Message != "" && msg == "":
			errs = append(errs, field.Invalid(rp.Child("message"), rule.Message, "must be non-empty if specified"))
		case newlines.MatchString(msg):
			errs = append(errs, field.Invalid(rp.Child("message"), rule.Message, "must not contain line breaks"))
		case newlines.MatchString(r) && msg == "":
			errs = append(errs, field.Required(rp.Child("message"), "message must be specified if rule contains line breaks"))
		}
		if rule.MessageExpression != "" && strings.TrimSpace(rule.MessageExpression) == "" {
			errs = append(errs, field.Required(rp.Child("messageExpression"), "messageExpression must be non-empty if specified"))
		}
		if rule.Reason != nil && !slices.Contains(validationReasons, string(*rule.Reason)) {
			errs = append(errs, field.NotSupported(rp.Child("reason"), *rule.Reason, validationReasons))
		}
		if rule.FieldPath != "" && strings.TrimSpace(rule.FieldPath) == "" {
			errs = append(errs, field.Invalid(rp.Child("fieldPath"), rule.FieldPath, "must be non-empty if specified"))
		}
		if newlines.MatchString(rule.FieldPath) {
			errs = append(errs, field.Invalid(rp.Child("fieldPath"), rule.FieldPath, "must not contain line breaks"))
		}
		if rule.FieldPath != "" && structuralInitError(s) == nil {
			if _, _, err := schemaAtPath(rule.FieldPath, s, true); err != nil {
				errs = append(errs, field.Invalid(rp.Child("fieldPath"), rule.FieldPath, "must be a valid path"))
			}
		}
	}
	return errs
}
