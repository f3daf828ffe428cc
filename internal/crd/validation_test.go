package crd

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

const dns1035 = `a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`

type crd = apiextensionsv1.CustomResourceDefinition

func TestValidate(t *testing.T) {
	twoVersions := func(c *crd) {
		v2 := *c.Spec.Versions[0].DeepCopy()
		v2.Name, v2.Storage = "v2", false
		c.Spec.Versions = append(c.Spec.Versions, v2)
	}
	tests := []struct {
		name string
		crd  *crd
		want []string
	}{
		{name: "valid", crd: newCRD(t).obj()},
		{
			name: "name is not plural.group",
			crd:  newCRD(t).with(func(c *crd) { c.Name = "cron.stable.example.com" }).obj(),
			want: []string{`metadata.name: Invalid value: "cron.stable.example.com": must be spec.names.plural+"."+spec.group`},
		},
		{
			name: "group without a dot",
			crd:  newCRD(t).with(func(c *crd) { c.Name, c.Spec.Group = "crontabs.example", "example" }).obj(),
			want: []string{`spec.group: Invalid value: "example": should be a domain with at least one dot`},
		},
		{
			name: "group missing",
			crd:  newCRD(t).with(func(c *crd) { c.Name, c.Spec.Group = "", "" }).obj(),
			want: []string{`spec.group: Required value`},
		},
		{
			name: "scope",
			crd:  newCRD(t).with(func(c *crd) { c.Spec.Scope = "Global" }).obj(),
			want: []string{`spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"`},
		},
		{
			name: "names",
			crd: newCRD(t).with(func(c *crd) {
				c.Spec.Names = apiextensionsv1.CustomResourceDefinitionNames{
					Plural: "crontabs", Singular: "Cron_Tab", Kind: "Cron.Tab", ListKind: "Cron.Tab",
					ShortNames: []string{"c t"}, Categories: []string{"all", "-x"},
				}
			}).obj(),
			want: []string{
				`spec.names.singular: Invalid value: "Cron_Tab": ` + dns1035,
				`spec.names.kind: Invalid value: "Cron.Tab": may have mixed case, but should otherwise match: ` + dns1035,
				`spec.names.listKind: Invalid value: "Cron.Tab": may have mixed case, but should otherwise match: ` + dns1035,
				`spec.names.shortNames[0]: Invalid value: "c t": ` + dns1035,
				`spec.names.listKind: Invalid value: "Cron.Tab": kind and listKind may not be the same`,
				`spec.names.categories[1]: Invalid value: "-x": ` + dns1035,
			},
		},
		{
			name: "names missing",
			crd: newCRD(t).with(func(c *crd) {
				c.Name = ".stable.example.com"
				c.Spec.Names = apiextensionsv1.CustomResourceDefinitionNames{}
			}).obj(),
			want: []string{
				`metadata.name: Invalid value: ".stable.example.com": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
				`spec.names.plural: Required value`,
				`spec.names.singular: Required value`,
				`spec.names.kind: Required value`,
				`spec.names.listKind: Required value`,
			},
		},
		{
			name: "bad version name",
			crd:  newCRD(t).with(func(c *crd) { c.Spec.Versions[0].Name = "V1" }).obj(),
			want: []string{
				`spec.versions[0].name: Invalid value: "V1": ` + dns1035,
				`spec.version: Invalid value: "V1": ` + dns1035,
			},
		},
		{
			name: "no storage version",
			crd: newCRD(t).with(func(c *crd) { c.Spec.Versions[0].Storage = false }).with(func(c *crd) {
				c.Status.StoredVersions = []string{"v1"}
			}).obj(),
			want: []string{`spec.versions: Invalid value: ` + versionsJSON(t, newCRD(t).with(func(c *crd) { c.Spec.Versions[0].Storage = false }).obj()) + `: must have exactly one version marked as storage version`},
		},
		{
			name: "no versions",
			crd: newCRD(t).with(func(c *crd) {
				c.Spec.Versions = nil
				c.Status.StoredVersions = []string{"v1"}
			}).obj(),
			want: []string{
				`spec.versions: Invalid value: null: must have exactly one version marked as storage version`,
				`status.storedVersions[0]: Invalid value: "v1": missing from spec.versions; v1 was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in v1 and removes v1 from status.storedVersions`,
			},
		},
		{
			name: "duplicate versions",
			crd: newCRD(t).with(twoVersions).with(func(c *crd) {
				c.Spec.Versions[1].Name = "v1"
			}).obj(),
			want: []string{`spec.versions: Invalid value: ` + versionsJSON(t, newCRD(t).with(twoVersions).with(func(c *crd) { c.Spec.Versions[1].Name = "v1" }).obj()) + `: must contain unique version names`},
		},
		{
			name: "schema missing",
			crd:  newCRD(t).with(func(c *crd) { c.Spec.Versions[0].Schema = nil }).obj(),
			want: []string{`spec.versions[0].schema.openAPIV3Schema: Required value`},
		},
		{
			name: "not structural: a field without type",
			crd: newCRD(t).schema(t, 0, `
type: object
properties:
  spec: {type: object, properties: {replicas: {minimum: 1}}}
  list: {type: array}
`).obj(),
			want: []string{
				`spec.validation.openAPIV3Schema.properties[list].items: Required value: must be specified`,
				`spec.validation.openAPIV3Schema.properties[spec].properties[replicas].type: Required value: must not be empty for specified object fields`,
			},
		},
		{
			name: "not structural in one of two versions",
			crd: newCRD(t).with(twoVersions).schema(t, 1, `
type: object
properties:
  spec: {properties: {a: {type: string}}}
`).obj(),
			want: []string{`spec.versions[1].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields`},
		},
		{
			name: "not structural: junctors",
			crd: newCRD(t).schema(t, 0, `
type: object
properties:
  spec:
    type: object
    properties: {a: {type: string}}
    anyOf:
    - {type: object, required: [a]}
allOf:
- properties:
    spec: {properties: {b: {maxLength: 3}}}
- properties:
    metadata: {properties: {name: {maxLength: 5}}}
`).obj(),
			want: []string{
				`spec.validation.openAPIV3Schema.allOf[1].properties[metadata]: Forbidden: must not be specified in a nested context`,
				`spec.validation.openAPIV3Schema.properties[metadata]: Required value: because it is defined in spec.validation.openAPIV3Schema.allOf[1].properties[metadata]`,
				`spec.validation.openAPIV3Schema.properties[spec].anyOf[0].type: Forbidden: must be empty to be structural`,
				`spec.validation.openAPIV3Schema.properties[spec].properties[b]: Required value: because it is defined in spec.validation.openAPIV3Schema.allOf[0].properties[spec].properties[b]`,
			},
		},
		{
			name: "int-or-string and preserved unknown fields need no type",
			crd: newCRD(t).schema(t, 0, `
type: object
properties:
  spec:
    type: object
    properties:
      port: {x-kubernetes-int-or-string: true, anyOf: [{type: integer}, {type: string}]}
      config: {x-kubernetes-preserve-unknown-fields: true}
      template: {type: object, x-kubernetes-embedded-resource: true, x-kubernetes-preserve-unknown-fields: true}
`).obj(),
		},
		{
			name: "unsupported schema fields",
			crd: newCRD(t).schema(t, 0, `
type: object
properties:
  spec: {$ref: '#/definitions/spec'}
  list: {type: array, items: [{type: string}], uniqueItems: true}
  kind: {type: 'null'}
`).obj(),
			want: []string{
				`spec.validation.openAPIV3Schema.properties[kind].type: Unsupported value: "null": supported values: "array", "boolean", "integer", "number", "object", "string"`,
				`spec.validation.openAPIV3Schema.properties[kind].type: Forbidden: type cannot be set to null, use nullable as an alternative`,
				`spec.validation.openAPIV3Schema.properties[list].items: Forbidden: items must be a schema object and not an array`,
				`spec.validation.openAPIV3Schema.properties[list].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic`,
				`spec.validation.openAPIV3Schema.properties[spec].$ref: Forbidden: $ref is not supported`,
			},
		},
		{
			name: "unsupported field shown only when nothing else is wrong",
			crd: newCRD(t).schema(t, 0, `
type: object
properties:
  spec: {type: object, x-kubernetes-preserve-unknown-fields: false}
`).obj(),
			want: []string{
				`spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined`,
			},
		},
		{
			name: "additionalProperties with properties",
			crd: newCRD(t).schema(t, 0, `
type: object
properties:
  spec:
    type: object
    properties: {a: {type: string}}
    additionalProperties: {type: string}
`).obj(),
			want: []string{`spec.validation.openAPIV3Schema.properties[spec].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive`},
		},
		{
			name: "metadata may only restrict name and generateName",
			crd: newCRD(t).schema(t, 0, `
type: object
properties:
  metadata:
    type: object
    properties: {name: {type: string, maxLength: 10}, labels: {type: object}}
`).obj(),
			want: []string{`spec.validation.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified`},
		},
		{
			name: "metadata restricting the name",
			crd: newCRD(t).schema(t, 0, `
type: object
properties:
  metadata: {type: object, properties: {name: {type: string, maxLength: 10}}}
`).obj(),
		},
		{
			name: "defaults",
			crd: newCRD(t).schema(t, 0, `
type: object
properties:
  metadata: {type: object, default: {name: x}}
  spec:
    type: object
    properties:
      replicas: {type: integer, default: "one"}
      size: {type: string, enum: [S, M], default: L}
      object: {type: object, properties: {a: {type: string}}, default: {a: x, b: z}}
      items: {type: array, items: {type: object, properties: {num: {type: integer, default: 1, minimum: 2}}}}
`).obj(),
			want: []string{
				// The validator names the default's root "", as upstream's does.
				`spec.validation.openAPIV3Schema.properties[spec].properties[items].items.properties[num].default: Invalid value: 1:  in body should be greater than or equal to 2`,
				`spec.validation.openAPIV3Schema.properties[spec].properties[object].default: Invalid value: {"a":"x","b":"z"}: must not have unknown fields`,
				`spec.validation.openAPIV3Schema.properties[spec].properties[replicas].default: Invalid value: "string":  in body must be of type integer: "string"`,
				`spec.validation.openAPIV3Schema.properties[spec].properties[size].default: Unsupported value: "L": supported values: "S", "M"`,
				`spec.validation.openAPIV3Schema.properties[metadata].default: Forbidden: must not be set in top-level metadata`,
			},
		},
		{
			name: "status subresource restricts the root",
			crd: newCRD(t).schema(t, 0, `
type: object
minProperties: 1
`).with(func(c *crd) {
				c.Spec.Versions[0].Subresources = &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}}
			}).obj(),
			want: []string{`spec.validation.openAPIV3Schema: Invalid value: {"type":"object","minProperties":1}: only [Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example XPreserveUnknownFields XValidations] fields are allowed at the root of the schema if the status subresource is enabled`},
		},
		{
			name: "list types",
			crd: newCRD(t).schema(t, 0, `
type: object
properties:
  a: {type: array, items: {type: object, properties: {k: {type: string}}}, x-kubernetes-list-type: map}
  b: {type: array, items: {type: object, properties: {k: {type: object}}}, x-kubernetes-list-type: map, x-kubernetes-list-map-keys: [k, z]}
  c: {type: array, items: {type: string}, x-kubernetes-list-type: bag}
  d: {type: object, x-kubernetes-list-type: set}
  e: {type: array, items: {type: object}, x-kubernetes-list-type: set}
  f: {type: object, x-kubernetes-map-type: shallow}
`).obj(),
			want: []string{
				`spec.validation.openAPIV3Schema.properties[a].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map`,
				`spec.validation.openAPIV3Schema.properties[b].items.properties[k].type: Invalid value: "object": must be a scalar type if parent array's x-kubernetes-list-type is map`,
				`spec.validation.openAPIV3Schema.properties[b].x-kubernetes-list-map-keys: Invalid value: ["k","z"]: entries must all be names of item properties`,
				`spec.validation.openAPIV3Schema.properties[b].items.properties[k].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property`,
				`spec.validation.openAPIV3Schema.properties[c].x-kubernetes-list-type: Unsupported value: "bag": supported values: "atomic", "set", "map"`,
				`spec.validation.openAPIV3Schema.properties[d].type: Invalid value: "object": must be array if x-kubernetes-list-type is specified`,
				`spec.validation.openAPIV3Schema.properties[e].items.x-kubernetes-map-type: Invalid value: null: must be atomic as item of a list with x-kubernetes-list-type=set`,
				`spec.validation.openAPIV3Schema.properties[f].x-kubernetes-map-type: Unsupported value: "shallow": supported values: "atomic", "granular"`,
			},
		},
		{
			name: "validation rules",
			crd: newCRD(t).schema(t, 0, `
type: object
properties:
  spec:
    type: object
    properties: {a: {type: string}}
    x-kubernetes-validations:
    - rule: ' '
    - {rule: self.a != "", message: "two\nlines"}
    - {rule: self.a != "", fieldPath: .b, reason: Bad}
    - {rule: self.a != "", fieldPath: .a, reason: FieldValueForbidden}
`).obj(),
			want: []string{
				`spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Required value: rule is not specified`,
				`spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[1].message: Invalid value: "two\nlines": must not contain line breaks`,
				`spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[2].reason: Unsupported value: "Bad": supported values: "FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"`,
				`spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[2].fieldPath: Invalid value: ".b": must be a valid path`,
			},
		},
		{
			name: "embedded resource without properties",
			crd: newCRD(t).schema(t, 0, `
type: object
properties:
  template: {type: object, x-kubernetes-embedded-resource: true}
  other: {x-kubernetes-embedded-resource: true, x-kubernetes-preserve-unknown-fields: true}
`).obj(),
			want: []string{
				`spec.validation.openAPIV3Schema.properties[other].type: Required value: must be object if x-kubernetes-embedded-resource is true`,
				`spec.validation.openAPIV3Schema.properties[template].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields`,
			},
		},
		{
			name: "subresources and printer columns",
			crd: newCRD(t).with(func(c *crd) {
				c.Spec.Versions[0].Subresources = &apiextensionsv1.CustomResourceSubresources{Scale: &apiextensionsv1.CustomResourceSubresourceScale{
					SpecReplicasPath: "spec.replicas", StatusReplicasPath: ".spec.replicas", LabelSelectorPath: new(".metadata.labels"),
				}}
				c.Spec.Versions[0].AdditionalPrinterColumns = []apiextensionsv1.CustomResourceColumnDefinition{
					{Name: "Spec", Type: "time", JSONPath: "spec"},
					{Type: "integer", Format: "int8"},
				}
			}).obj(),
			want: []string{
				`spec.subresources.scale.specReplicasPath: Invalid value: "spec.replicas": must be a simple json path starting with .`,
				`spec.subresources.scale.statusReplicasPath: Invalid value: ".spec.replicas": should be a json path under .status`,
				`spec.subresources.scale.labelSelectorPath: Invalid value: ".metadata.labels": should be a json path under either .spec or .status`,
				`spec.additionalPrinterColumns[0].type: Invalid value: "time": must be one of boolean,date,integer,number,string`,
				`spec.additionalPrinterColumns[0].JSONPath: Invalid value: "spec": must be a simple json path starting with .`,
				`spec.additionalPrinterColumns[1].name: Required value`,
				`spec.additionalPrinterColumns[1].format: Invalid value: "int8": must be one of byte,date,date-time,double,float,int32,int64,password`,
				`spec.additionalPrinterColumns[1].JSONPath: Required value`,
			},
		},
		{
			name: "selectable fields",
			crd: newCRD(t).schema(t, 0, `
type: object
properties:
  metadata: {type: object}
  spec:
    type: object
    properties:
      color: {type: string}
      size: {type: integer}
      labels: {type: object, additionalProperties: {type: string}}
      tags: {type: array, items: {type: string}}
`).with(func(c *crd) {
				c.Spec.Versions[0].SelectableFields = []apiextensionsv1.SelectableField{
					{JSONPath: ".spec.color"}, {JSONPath: ".spec.labels.team"}, {JSONPath: ".spec.color"},
					{JSONPath: ".spec.tags"}, {JSONPath: ".spec.nope"}, {JSONPath: ".metadata.name"},
					{JSONPath: ".spec['size']"}, {},
				}
			}).obj(),
			want: []string{
				`spec.selectableFields[2].jsonPath: Duplicate value: ".spec.color"`,
				`spec.selectableFields[3].jsonPath: Invalid value: ".spec.tags": must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.`,
				`spec.selectableFields[4].jsonPath: Invalid value: ".spec.nope": is an invalid path: does not refer to a valid field`,
				`spec.selectableFields[5].jsonPath: Invalid value: ".metadata.name": is an invalid path: does not refer to a valid field`,
				`spec.selectableFields[6].jsonPath: Invalid value: ".spec['size']": is an invalid path: array notation is not allowed`,
				`spec.selectableFields[7].jsonPath: Required value`,
			},
		},
		{
			name: "webhook conversion is refused",
			crd: newCRD(t).with(func(c *crd) {
				c.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.WebhookConverter}
			}).obj(),
			want: []string{`spec.conversion.strategy: Forbidden: berth does not call conversion webhooks; only "None" is supported`},
		},
		{
			name: "webhook settings without webhook conversion",
			crd: newCRD(t).with(func(c *crd) {
				c.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.NoneConverter, Webhook: &apiextensionsv1.WebhookConversion{
					ClientConfig: &apiextensionsv1.WebhookClientConfig{URL: new("https://x")}, ConversionReviewVersions: []string{"v1"},
				}}
			}).obj(),
			want: []string{
				`spec.conversion.webhookClientConfig: Forbidden: should not be set when strategy is not set to Webhook`,
				`spec.conversion.conversionReviewVersions: Forbidden: should not be set when strategy is not set to Webhook`,
			},
		},
		{
			name: "preserveUnknownFields",
			crd:  newCRD(t).with(func(c *crd) { c.Spec.PreserveUnknownFields = true }).obj(),
			want: []string{
				`spec.preserveUnknownFields: Invalid value: true: must be false in order to use defaults in the schema`,
				`spec.preserveUnknownFields: Invalid value: true: cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead`,
			},
		},
		{
			name: "protected group needs approval",
			crd:  newCRD(t).with(func(c *crd) { c.Name, c.Spec.Group = "crontabs.x.k8s.io", "x.k8s.io" }).obj(),
			want: []string{`metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval annotation "api-approved.kubernetes.io", see https://github.com/kubernetes/enhancements/pull/1111`},
		},
		{
			name: "protected group approved",
			crd: newCRD(t).with(func(c *crd) {
				c.Name, c.Spec.Group = "crontabs.x.k8s.io", "x.k8s.io"
				c.Annotations = map[string]string{"api-approved.kubernetes.io": "https://github.com/kubernetes/enhancements/pull/1111"}
			}).obj(),
		},
		{
			name: "deprecation warning",
			crd:  newCRD(t).with(func(c *crd) { c.Spec.Versions[0].DeprecationWarning = new("old") }).obj(),
			want: []string{`spec.versions[0].deprecationWarning: Invalid value: "old": can only be set for deprecated versions`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorStrings(Validate(tt.crd))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func versionsJSON(t *testing.T, c *crd) string {
	t.Helper()
	b, err := json.Marshal(c.Spec.Versions)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestValidateUpdate(t *testing.T) {
	established := func(c *crd) {
		c.Status.Conditions = []apiextensionsv1.CustomResourceDefinitionCondition{{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue}}
	}
	tests := []struct {
		name     string
		old, crd *crd
		want     []string
	}{
		{name: "unchanged", old: newCRD(t).obj(), crd: newCRD(t).obj()},
		{
			name: "group and plural are immutable",
			old:  newCRD(t).obj(),
			crd: newCRD(t).with(func(c *crd) {
				c.Spec.Group = "other.example.com"
				c.Spec.Names.Plural = "crons"
			}).obj(),
			want: []string{
				`spec.group: Invalid value: "other.example.com": field is immutable`,
				`spec.names.plural: Invalid value: "crons": field is immutable`,
			},
		},
		{
			name: "scope and kind may change before the CRD is established",
			old:  newCRD(t).obj(),
			crd: newCRD(t).with(func(c *crd) {
				c.Spec.Scope = apiextensionsv1.ClusterScoped
				c.Spec.Names.Kind = "Cron"
			}).obj(),
		},
		{
			name: "scope and kind are immutable once established",
			old:  newCRD(t).with(established).obj(),
			crd: newCRD(t).with(established).with(func(c *crd) {
				c.Spec.Scope = apiextensionsv1.ClusterScoped
				c.Spec.Names.Kind = "Cron"
			}).obj(),
			want: []string{
				`spec.scope: Invalid value: "Cluster": field is immutable`,
				`spec.names.kind: Invalid value: "Cron": field is immutable`,
			},
		},
		{
			name: "a stored version must stay",
			old:  newCRD(t).obj(),
			crd: newCRD(t).with(func(c *crd) {
				c.Spec.Versions[0].Name = "v2"
				c.Status.StoredVersions = []string{"v1"}
			}).obj(),
			want: []string{`status.storedVersions[0]: Invalid value: "v1": missing from spec.versions; v1 was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in v1 and removes v1 from status.storedVersions`},
		},
		{
			name: "an unchanged approval state is not checked again",
			old:  newCRD(t).with(func(c *crd) { c.Spec.Group = "x.k8s.io" }).obj(),
			crd:  newCRD(t).with(func(c *crd) { c.Spec.Group = "x.k8s.io" }).obj(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorStrings(ValidateUpdate(tt.crd, tt.old))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
