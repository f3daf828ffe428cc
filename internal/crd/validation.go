package crd

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Upstream validates CRDs in its internal version, where the schema,
// subresources, printer columns and selectable fields that are the same in
// every version are held once at the top of the spec. Its errors for those
// are therefore at spec.validation.openAPIV3Schema, spec.subresources,
// spec.additionalPrinterColumns and spec.selectableFields (users see
// spec.validation paths for a v1 CRD with a single version), and at
// spec.versions[i] otherwise. This package reports the same paths.

// Validate checks a new CustomResourceDefinition, after Default, as
// upstream does, with upstream's field paths and messages. The generic
// checks of metadata (other than the name, which must be
// spec.names.plural+"."+spec.group) are the API server's.
//
// Where berth differs: conversion strategy Webhook is refused (berth does
// not call conversion webhooks), and so is spec.preserveUnknownFields:
// true, which upstream accepts only on CRDs that already had it.
func Validate(crd *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	errs := validateName(crd)
	errs = append(errs, validateSpec(&crd.Spec, nil, false)...)
	errs = append(errs, validateStatus(crd)...)
	errs = append(errs, validateAPIApproval(crd, nil)...)
	errs = append(errs, validatePreserveUnknownFields(crd)...)
	return errs
}

// ValidateUpdate checks an update of a CustomResourceDefinition from old
// to crd as Validate checks a new one, and that spec.group and
// spec.names.plural do not change, nor spec.scope and spec.names.kind once
// old is Established.
func ValidateUpdate(crd, old *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	errs := validateSpec(&crd.Spec, &old.Spec, conditionTrue(old, apiextensionsv1.Established))
	errs = append(errs, validateStatus(crd)...)
	errs = append(errs, validateAPIApproval(crd, old)...)
	errs = append(errs, validatePreserveUnknownFields(crd)...)
	return errs
}

func conditionTrue(crd *apiextensionsv1.CustomResourceDefinition, t apiextensionsv1.CustomResourceDefinitionConditionType) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == t {
			return c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}

func validateName(crd *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	name := crd.Name
	if name == "" {
		return nil
	}
	pth := field.NewPath("metadata", "name")
	var errs field.ErrorList
	for _, msg := range metavalidation.NameIsDNSSubdomain(name, false) {
		errs = append(errs, field.Invalid(pth, name, msg))
	}
	if name != crd.Spec.Names.Plural+"."+crd.Spec.Group {
		errs = append(errs, field.Invalid(pth, name, `must be spec.names.plural+"."+spec.group`))
	}
	return errs
}

// shared says which of the per-version fields are the same in every
// version, and so validated once at the top of the spec.
type shared struct {
	schema, subresources, columns, selectable bool
}

func sharedFields(versions []apiextensionsv1.CustomResourceDefinitionVersion) shared {
	if len(versions) == 0 {
		return shared{}
	}
	s := shared{true, true, true, true}
	first := versions[0]
	for _, v := range versions[1:] {
		s.schema = s.schema && apiequality.Semantic.DeepEqual(v.Schema, first.Schema)
		s.subresources = s.subresources && apiequality.Semantic.DeepEqual(v.Subresources, first.Subresources)
		s.columns = s.columns && apiequality.Semantic.DeepEqual(v.AdditionalPrinterColumns, first.AdditionalPrinterColumns)
		s.selectable = s.selectable && apiequality.Semantic.DeepEqual(v.SelectableFields, first.SelectableFields)
	}
	return s
}

func hasStatus(s *apiextensionsv1.CustomResourceSubresources) bool {
	return s != nil && s.Status != nil
}

func validateSpec(spec, old *apiextensionsv1.CustomResourceDefinitionSpec, immutableNames bool) field.ErrorList {
	pth := field.NewPath("spec")
	var errs field.ErrorList

	switch {
	case spec.Group == "":
		errs = append(errs, field.Required(pth.Child("group"), ""))
	case len(utilvalidation.IsDNS1123Subdomain(spec.Group)) > 0:
		errs = append(errs, field.Invalid(pth.Child("group"), spec.Group, strings.Join(utilvalidation.IsDNS1123Subdomain(spec.Group), ",")))
	case !strings.Contains(spec.Group, "."):
		errs = append(errs, field.Invalid(pth.Child("group"), spec.Group, "should be a domain with at least one dot"))
	}

	switch spec.Scope {
	case "":
		errs = append(errs, field.Required(pth.Child("scope"), ""))
	case apiextensionsv1.ClusterScoped, apiextensionsv1.NamespaceScoped:
	default:
		errs = append(errs, field.NotSupported(pth.Child("scope"), spec.Scope, []string{string(apiextensionsv1.ClusterScoped), string(apiextensionsv1.NamespaceScoped)}))
	}

	sh := sharedFields(spec.Versions)
	var top apiextensionsv1.CustomResourceDefinitionVersion
	if len(spec.Versions) > 0 {
		top = spec.Versions[0]
	}
	if !sh.schema || top.Schema == nil || top.Schema.OpenAPIV3Schema == nil {
		for i, v := range spec.Versions {
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				errs = append(errs, field.Required(pth.Child("versions").Index(i).Child("schema").Child("openAPIV3Schema"), ""))
			}
		}
	}
	if spec.PreserveUnknownFields && specHasDefaults(spec) {
		errs = append(errs, field.Invalid(pth.Child("preserveUnknownFields"), true, "must be false in order to use defaults in the schema"))
	}

	storage := 0
	seen := map[string]bool{}
	unique := true
	anyStatus := false
	for i := range spec.Versions {
		v := &spec.Versions[i]
		vp := pth.Child("versions").Index(i)
		if v.Storage {
			storage++
		}
		if seen[v.Name] {
			unique = false
		}
		seen[v.Name] = true
		anyStatus = anyStatus || hasStatus(v.Subresources)
		if msgs := utilvalidation.IsDNS1035Label(v.Name); len(msgs) > 0 {
			errs = append(errs, field.Invalid(vp.Child("name"), v.Name, strings.Join(msgs, ",")))
		}
		errs = append(errs, validateVersion(v, vp, sh)...)
	}
	if !unique {
		errs = append(errs, field.Invalid(pth.Child("versions"), spec.Versions, "must contain unique version names"))
	}
	if storage != 1 {
		errs = append(errs, field.Invalid(pth.Child("versions"), spec.Versions, "must have exactly one version marked as storage version"))
	}
	if top.Name != "" {
		if msgs := utilvalidation.IsDNS1035Label(top.Name); len(msgs) > 0 {
			errs = append(errs, field.Invalid(pth.Child("version"), top.Name, strings.Join(msgs, ",")))
		}
	}

	names := pth.Child("names")
	for _, req := range []struct{ name, value string }{
		{"plural", spec.Names.Plural}, {"singular", spec.Names.Singular}, {"kind", spec.Names.Kind}, {"listKind", spec.Names.ListKind},
	} {
		if req.value == "" {
			errs = append(errs, field.Required(names.Child(req.name), ""))
		}
	}
	errs = append(errs, validateNames(&spec.Names, names)...)

	if sh.schema {
		errs = append(errs, validateValidation(top.Schema, anyStatus, pth.Child("validation"))...)
	}
	if sh.subresources {
		errs = append(errs, validateSubresources(top.Subresources, pth.Child("subresources"))...)
	}
	if sh.columns {
		for i := range top.AdditionalPrinterColumns {
			errs = append(errs, validateColumn(&top.AdditionalPrinterColumns[i], pth.Child("additionalPrinterColumns").Index(i))...)
		}
	}
	if sh.selectable && len(top.SelectableFields) > 0 {
		if top.Schema == nil {
			errs = append(errs, field.Invalid(pth.Child("selectableFields"), "", "may only be set when validations.schema is included"))
		} else {
			errs = append(errs, validateSelectableFields(top.SelectableFields, top.Schema.OpenAPIV3Schema, pth.Child("selectableFields"), pth.Child("schema.openAPIV3Schema"))...)
		}
	}
	errs = append(errs, validateConversion(spec.Conversion, pth.Child("conversion"))...)

	if old != nil {
		if immutableNames {
			errs = append(errs, metavalidation.ValidateImmutableField(spec.Scope, old.Scope, pth.Child("scope"))...)
			errs = append(errs, metavalidation.ValidateImmutableField(spec.Names.Kind, old.Names.Kind, names.Child("kind"))...)
		}
		errs = append(errs, metavalidation.ValidateImmutableField(spec.Group, old.Group, pth.Child("group"))...)
		errs = append(errs, metavalidation.ValidateImmutableField(spec.Names.Plural, old.Names.Plural, names.Child("plural"))...)
	}
	return errs
}

// validateVersion checks one version; the fields shared by all versions
// are checked once by validateSpec.
func validateVersion(v *apiextensionsv1.CustomResourceDefinitionVersion, pth *field.Path, sh shared) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validateDeprecationWarning(v.Deprecated, v.DeprecationWarning) {
		errs = append(errs, field.Invalid(pth.Child("deprecationWarning"), v.DeprecationWarning, msg))
	}
	if !sh.schema {
		errs = append(errs, validateValidation(v.Schema, hasStatus(v.Subresources), pth.Child("schema"))...)
	}
	if !sh.subresources {
		errs = append(errs, validateSubresources(v.Subresources, pth.Child("subresources"))...)
	}
	if !sh.columns {
		for i := range v.AdditionalPrinterColumns {
			errs = append(errs, validateColumn(&v.AdditionalPrinterColumns[i], pth.Child("additionalPrinterColumns").Index(i))...)
		}
	}
	if !sh.selectable && len(v.SelectableFields) > 0 {
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			errs = append(errs, field.Invalid(pth.Child("selectableFields"), "", "may only be set when `version.schema.openAPIV3Schema` is not included"))
		} else {
			errs = append(errs, validateSelectableFields(v.SelectableFields, v.Schema.OpenAPIV3Schema, pth.Child("selectableFields"), pth.Child("schema.openAPIV3Schema"))...)
		}
	}
	return errs
}

func validateDeprecationWarning(deprecated bool, warning *string) []string {
	if !deprecated && warning != nil {
		return []string{"can only be set for deprecated versions"}
	}
	if warning == nil {
		return nil
	}
	var msgs []string
	if len(*warning) > 256 {
		msgs = append(msgs, "must be <= 256 characters long")
	}
	if len(*warning) == 0 {
		msgs = append(msgs, "must not be an empty string")
	}
	for i, r := range *warning {
		if !unicode.IsPrint(r) {
			msgs = append(msgs, fmt.Sprintf("must only contain printable UTF-8 characters; non-printable character found at index %d", i))
			break
		}
		if unicode.IsControl(r) {
			msgs = append(msgs, fmt.Sprintf("must only contain printable UTF-8 characters; control character found at index %d", i))
			break
		}
	}
	if !utf8.ValidString(*warning) {
		msgs = append(msgs, "must only contain printable UTF-8 characters")
	}
	return msgs
}

// validateNames checks the form of names (in spec, or accepted in status).
func validateNames(n *apiextensionsv1.CustomResourceDefinitionNames, pth *field.Path) field.ErrorList {
	var errs field.ErrorList
	label := func(child, value string) {
		if value == "" {
			return
		}
		if msgs := utilvalidation.IsDNS1035Label(value); len(msgs) > 0 {
			errs = append(errs, field.Invalid(pth.Child(child), value, strings.Join(msgs, ",")))
		}
	}
	kind := func(child, value string) {
		if value == "" {
			return
		}
		if msgs := utilvalidation.IsDNS1035Label(strings.ToLower(value)); len(msgs) > 0 {
			errs = append(errs, field.Invalid(pth.Child(child), value, "may have mixed case, but should otherwise match: "+strings.Join(msgs, ",")))
		}
	}
	label("plural", n.Plural)
	label("singular", n.Singular)
	kind("kind", n.Kind)
	kind("listKind", n.ListKind)
	for i, s := range n.ShortNames {
		if msgs := utilvalidation.IsDNS1035Label(s); len(msgs) > 0 {
			errs = append(errs, field.Invalid(pth.Child("shortNames").Index(i), s, strings.Join(msgs, ",")))
		}
	}
	if n.Kind != "" && n.Kind == n.ListKind {
		errs = append(errs, field.Invalid(pth.Child("listKind"), n.ListKind, "kind and listKind may not be the same"))
	}
	for i, c := range n.Categories {
		if msgs := utilvalidation.IsDNS1035Label(c); len(msgs) > 0 {
			errs = append(errs, field.Invalid(pth.Child("categories").Index(i), c, strings.Join(msgs, ",")))
		}
	}
	return errs
}

var (
	columnTypes   = []string{"boolean", "date", "integer", "number", "string"}
	columnFormats = []string{"byte", "date", "date-time", "double", "float", "int32", "int64", "password"}
)

func validateColumn(col *apiextensionsv1.CustomResourceColumnDefinition, pth *field.Path) field.ErrorList {
	var errs field.ErrorList
	if col.Name == "" {
		errs = append(errs, field.Required(pth.Child("name"), ""))
	}
	typesMsg := "must be one of " + strings.Join(columnTypes, ",")
	if col.Type == "" {
		errs = append(errs, field.Required(pth.Child("type"), typesMsg))
	} else if !slices.Contains(columnTypes, col.Type) {
		errs = append(errs, field.Invalid(pth.Child("type"), col.Type, typesMsg))
	}
	if col.Format != "" && !slices.Contains(columnFormats, col.Format) {
		errs = append(errs, field.Invalid(pth.Child("format"), col.Format, "must be one of "+strings.Join(columnFormats, ",")))
	}
	if col.JSONPath == "" {
		errs = append(errs, field.Required(pth.Child("JSONPath"), ""))
	} else {
		errs = append(errs, validateSimpleJSONPath(col.JSONPath, pth.Child("JSONPath"))...)
	}
	return errs
}

// validateSimpleJSONPath checks the paths of printer columns and of the
// scale subresource, which must start with a dot.
func validateSimpleJSONPath(s string, pth *field.Path) field.ErrorList {
	switch {
	case s == "":
		return field.ErrorList{field.Invalid(pth, s, "must not be empty")}
	case s[0] != '.':
		return field.ErrorList{field.Invalid(pth, s, "must be a simple json path starting with .")}
	}
	return nil
}

func validateSubresources(sub *apiextensionsv1.CustomResourceSubresources, pth *field.Path) field.ErrorList {
	if sub == nil || sub.Scale == nil {
		return nil
	}
	var errs field.ErrorList
	scale := sub.Scale
	check := func(child, value string, under ...string) {
		p := pth.Child("scale." + child)
		if value == "" {
			errs = append(errs, field.Required(p, ""))
			return
		}
		if e := validateSimpleJSONPath(value, p); len(e) > 0 {
			errs = append(errs, e...)
			return
		}
		for _, u := range under {
			if strings.HasPrefix(value, u+".") {
				return
			}
		}
		if len(under) == 1 {
			errs = append(errs, field.Invalid(p, value, "should be a json path under "+under[0]))
		} else {
			errs = append(errs, field.Invalid(p, value, "should be a json path under either .spec or .status"))
		}
	}
	check("specReplicasPath", scale.SpecReplicasPath, ".spec")
	check("statusReplicasPath", scale.StatusReplicasPath, ".status")
	if scale.LabelSelectorPath != nil && *scale.LabelSelectorPath != "" {
		check("labelSelectorPath", *scale.LabelSelectorPath, ".spec", ".status")
	}
	return errs
}

// maxSelectableFields is upstream's limit of selectable fields per version.
const maxSelectableFields = 8

func validateSelectableFields(sfs []apiextensionsv1.SelectableField, s *apiextensionsv1.JSONSchemaProps, pth, schemaPath *field.Path) field.ErrorList {
	if err := structuralInitError(s); err != nil {
		return field.ErrorList{field.Invalid(schemaPath, "", err.Error())}
	}
	var errs field.ErrorList
	unique := map[string]bool{}
	for i, sf := range sfs {
		p := pth.Index(i).Child("jsonPath")
		if sf.JSONPath == "" {
			errs = append(errs, field.Required(p, ""))
			continue
		}
		fp, fs, err := schemaAtPath(sf.JSONPath, s, false)
		if err != nil {
			errs = append(errs, field.Invalid(p, sf.JSONPath, fmt.Sprintf("is an invalid path: %v", err)))
			continue
		}
		if fp.Root().String() == "metadata" {
			errs = append(errs, field.Invalid(p, sf.JSONPath, "must not point to fields in metadata"))
		}
		if fs == nil || (fs.Type != "string" && fs.Type != "boolean" && fs.Type != "integer") {
			errs = append(errs, field.Invalid(p, sf.JSONPath, "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed."))
		}
		if unique[fp.String()] {
			errs = append(errs, field.Duplicate(p, sf.JSONPath))
		}
		unique[fp.String()] = true
	}
	if len(unique) > maxSelectableFields {
		errs = append(errs, field.TooMany(pth, len(unique), maxSelectableFields))
	}
	return errs
}

// validateConversion accepts only conversion strategy None: berth does not
// call conversion webhooks, so a CRD asking for one would have its objects
// served in a version they were never converted to.
func validateConversion(c *apiextensionsv1.CustomResourceConversion, pth *field.Path) field.ErrorList {
	if c == nil {
		return nil
	}
	var errs field.ErrorList
	switch c.Strategy {
	case "":
		errs = append(errs, field.Required(pth.Child("strategy"), ""))
	case apiextensionsv1.NoneConverter:
		if c.Webhook != nil && c.Webhook.ClientConfig != nil {
			errs = append(errs, field.Forbidden(pth.Child("webhookClientConfig"), "should not be set when strategy is not set to Webhook"))
		}
		if c.Webhook != nil && len(c.Webhook.ConversionReviewVersions) > 0 {
			errs = append(errs, field.Forbidden(pth.Child("conversionReviewVersions"), "should not be set when strategy is not set to Webhook"))
		}
	case apiextensionsv1.WebhookConverter:
		errs = append(errs, field.Forbidden(pth.Child("strategy"), `berth does not call conversion webhooks; only "None" is supported`))
	default:
		errs = append(errs, field.NotSupported(pth.Child("strategy"), c.Strategy, []string{string(apiextensionsv1.NoneConverter)}))
	}
	return errs
}

func validateStatus(crd *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	pth := field.NewPath("status")
	errs := validateNames(&crd.Status.AcceptedNames, pth.Child("acceptedNames"))
	return append(errs, validateStoredVersions(crd.Status.StoredVersions, crd.Spec.Versions, pth.Child("storedVersions"))...)
}

func validateStoredVersions(stored []string, versions []apiextensionsv1.CustomResourceDefinitionVersion, pth *field.Path) field.ErrorList {
	if len(stored) == 0 {
		return field.ErrorList{field.Invalid(pth, stored, "must have at least one stored version")}
	}
	var errs field.ErrorList
	index := map[string]int{}
	for i, v := range stored {
		index[v] = i
	}
	for _, v := range versions {
		_, ok := index[v.Name]
		if v.Storage && !ok {
			errs = append(errs, field.Invalid(pth, stored, "must have the storage version "+v.Name))
		}
		delete(index, v.Name)
	}
	missing := make([]int, 0, len(index))
	for _, i := range index {
		missing = append(missing, i)
	}
	slices.Sort(missing)
	for _, i := range missing {
		v := stored[i]
		errs = append(errs, field.Invalid(pth.Index(i), v, fmt.Sprintf("missing from spec.versions; %[1]s was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in %[1]s and removes %[1]s from status.storedVersions", v)))
	}
	return errs
}

// apiApproval is the state of the api-approved.kubernetes.io annotation
// that CRDs of the groups *.k8s.io and *.kubernetes.io must carry.
type apiApproval int

const (
	approvalInvalid apiApproval = iota
	approved
	approvalBypassed
	approvalMissing
)

func protectedGroup(group string) bool {
	return group == "k8s.io" || strings.HasSuffix(group, ".k8s.io") ||
		group == "kubernetes.io" || strings.HasSuffix(group, ".kubernetes.io")
}

func approvalState(annotations map[string]string) (apiApproval, string) {
	a := annotations[apiextensionsv1.KubeAPIApprovedAnnotation]
	u, err := url.ParseRequestURI(a)
	switch {
	case a == "":
		return approvalMissing, fmt.Sprintf("protected groups must have approval annotation %q, see https://github.com/kubernetes/enhancements/pull/1111", apiextensionsv1.KubeAPIApprovedAnnotation)
	case strings.HasPrefix(a, "unapproved"):
		return approvalBypassed, fmt.Sprintf("not approved: %q", a)
	case err == nil && u.Host != "" && u.Scheme != "":
		return approved, fmt.Sprintf("approved in %v", a)
	}
	return approvalInvalid, fmt.Sprintf("protected groups must have approval annotation %q with either a URL or a reason starting with \"unapproved\", see https://github.com/kubernetes/enhancements/pull/1111", apiextensionsv1.KubeAPIApprovedAnnotation)
}

func validateAPIApproval(crd, old *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	if !protectedGroup(crd.Spec.Group) {
		return nil
	}
	state, reason := approvalState(crd.Annotations)
	if old != nil {
		if oldState, _ := approvalState(old.Annotations); oldState == state {
			return nil
		}
	}
	pth := field.NewPath("metadata", "annotations").Key(apiextensionsv1.KubeAPIApprovedAnnotation)
	switch state {
	case approvalMissing:
		return field.ErrorList{field.Required(pth, reason)}
	case approvalInvalid:
		return field.ErrorList{field.Invalid(pth, crd.Annotations[apiextensionsv1.KubeAPIApprovedAnnotation], reason)}
	}
	return nil
}

func validatePreserveUnknownFields(crd *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	if !crd.Spec.PreserveUnknownFields {
		return nil
	}
	return field.ErrorList{field.Invalid(field.NewPath("spec", "preserveUnknownFields"), true, "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead")}
}
