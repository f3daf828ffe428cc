package crd

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// versionOf compiles version v1 of a test CRD with the given schema.
func versionOf(t *testing.T, schema string, mods ...func(*crd)) *Version {
	t.Helper()
	b := newCRD(t).schema(t, 0, schema)
	for _, m := range mods {
		b.with(m)
	}
	c := b.obj()
	if errs := Validate(c); len(errs) > 0 {
		t.Fatalf("test CRD is invalid: %v", errs)
	}
	v, err := NewVersion(c, "v1")
	if err != nil {
		t.Fatalf("NewVersion: %v", err)
	}
	return v
}

func TestNewVersion(t *testing.T) {
	c := newCRD(t).obj()
	if _, err := NewVersion(c, "v2"); err == nil {
		t.Error("NewVersion of a missing version succeeded")
	}
	c.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"] = apiextensionsv1.JSONSchemaProps{Ref: new("#/definitions/x")}
	if _, err := NewVersion(c, "v1"); err == nil {
		t.Error("NewVersion of a schema with $ref succeeded")
	}
	c.Spec.Versions[0].Schema = nil
	v, err := NewVersion(c, "v1")
	if err != nil {
		t.Fatalf("NewVersion without a schema: %v", err)
	}
	obj := objectOf(t, `{apiVersion: stable.example.com/v1, kind: CronTab, metadata: {name: a}, spec: {x: 1}}`)
	unknown, err := v.Prune(obj)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"spec"}, unknown); diff != "" {
		t.Errorf("without a schema, unknown fields (-want +got):\n%s", diff)
	}
}

const pruneSchema = `
type: object
properties:
  spec:
    type: object
    properties:
      name: {type: string}
      list:
        type: array
        items: {type: object, properties: {a: {type: string}}}
      labels: {type: object, additionalProperties: {type: object, properties: {v: {type: string}}}}
      free: {type: object, x-kubernetes-preserve-unknown-fields: true, properties: {known: {type: object, properties: {k: {type: string}}}}}
      template:
        type: object
        x-kubernetes-embedded-resource: true
        x-kubernetes-preserve-unknown-fields: true
      nullable: {type: string, nullable: true}
      notNullable: {type: string}
      defaulted: {type: string, default: d}
`

func TestVersionPrune(t *testing.T) {
	v := versionOf(t, pruneSchema)
	tests := []struct {
		name        string
		obj         string
		want        string
		wantUnknown []string
		wantErr     string
	}{
		{
			name: "known fields are kept",
			obj:  `{apiVersion: stable.example.com/v1, kind: CronTab, metadata: {name: a, labels: {x: z}}, spec: {name: n, list: [{a: b}]}}`,
			want: `{apiVersion: stable.example.com/v1, kind: CronTab, metadata: {name: a, labels: {x: z}}, spec: {name: n, list: [{a: b}]}}`,
		},
		{
			name:        "unknown fields are dropped everywhere",
			obj:         `{apiVersion: stable.example.com/v1, kind: CronTab, metadata: {name: a, color: red}, extra: 1, spec: {name: n, x: 1, list: [{a: b}, {a: c, z: 2}], labels: {one: {v: x, w: z}}}}`,
			want:        `{apiVersion: stable.example.com/v1, kind: CronTab, metadata: {name: a}, spec: {name: n, list: [{a: b}, {a: c}], labels: {one: {v: x}}}}`,
			wantUnknown: []string{"metadata.color", "extra", "spec.labels.one.w", "spec.list[1].z", "spec.x"},
		},
		{
			name: "preserved unknown fields, but known ones are pruned",
			obj:  `{spec: {free: {anything: {goes: 1}, known: {k: v, x: 1}}}}`,
			want: `{spec: {free: {anything: {goes: 1}, known: {k: v}}}}`,
			wantUnknown: []string{
				"spec.free.known.x",
			},
		},
		{
			name:        "embedded resources keep their type and metadata, coerced",
			obj:         `{spec: {template: {apiVersion: v1, kind: Pod, metadata: {name: p, labels: {a: b}, bogus: 1}, spec: {containers: []}}}}`,
			want:        `{spec: {template: {apiVersion: v1, kind: Pod, metadata: {name: p, labels: {a: b}}, spec: {containers: []}}}}`,
			wantUnknown: []string{"spec.template.metadata.bogus"},
		},
		{
			name: "nulls",
			obj:  `{spec: {nullable: null, notNullable: null, defaulted: null, name: n}}`,
			want: `{spec: {nullable: null, defaulted: null, name: n}}`,
		},
		{
			name:    "metadata that is not ObjectMeta",
			obj:     `{metadata: {name: a, labels: x}}`,
			wantErr: `metadata: Invalid value: {"labels":"x","name":"a"}: json: cannot unmarshal string into Go struct field ObjectMeta.labels of type map[string]string`,
		},
		{
			name:    "kind that is not a string",
			obj:     `{kind: 1}`,
			wantErr: `kind: Invalid value: 1: must be a string`,
		},
		{
			name:    "embedded kind that is not a string",
			obj:     `{spec: {template: {kind: [Pod]}}}`,
			wantErr: `spec.template.kind: Invalid value: ["Pod"]: must be a string`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := objectOf(t, tt.obj)
			unknown, err := v.Prune(obj)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(objectOf(t, tt.want), obj); diff != "" {
				t.Errorf("object (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantUnknown, unknown); diff != "" {
				t.Errorf("unknown fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVersionDefault(t *testing.T) {
	v := versionOf(t, `
type: object
properties:
  spec:
    type: object
    properties:
      replicas: {type: integer, default: 1}
      mode: {type: string, default: fast}
      nullable: {type: string, nullable: true, default: x}
      ports:
        type: array
        items:
          type: object
          properties:
            protocol: {type: string, default: TCP}
            port: {type: integer}
      limits:
        type: object
        additionalProperties: {type: object, properties: {max: {type: integer, default: 10}}}
      options: {type: object, default: {}, properties: {debug: {type: boolean, default: false}}}
  status: {type: object, properties: {phase: {type: string, default: Pending}}}
`)
	tests := []struct{ name, obj, want string }{
		{
			name: "missing fields get their defaults, recursively",
			obj:  `{spec: {ports: [{port: 80}, {port: 53, protocol: UDP}], limits: {cpu: {}, mem: {max: 2}}}}`,
			want: `{spec: {replicas: 1, mode: fast, nullable: x, options: {debug: false}, ports: [{port: 80, protocol: TCP}, {port: 53, protocol: UDP}], limits: {cpu: {max: 10}, mem: {max: 2}}}}`,
		},
		{
			name: "objects that are missing are not created",
			obj:  `{metadata: {name: a}}`,
			want: `{metadata: {name: a}}`,
		},
		{
			name: "nulls: non-nullable ones are defaulted, nullable ones kept",
			obj:  `{spec: {replicas: null, nullable: null, options: {}}}`,
			want: `{spec: {replicas: 1, mode: fast, nullable: null, options: {debug: false}}}`,
		},
		{
			name: "set values are kept",
			obj:  `{spec: {replicas: 3, mode: slow, nullable: y, options: {debug: true}}}`,
			want: `{spec: {replicas: 3, mode: slow, nullable: y, options: {debug: true}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := objectOf(t, tt.obj)
			v.Default(obj)
			if diff := cmp.Diff(objectOf(t, tt.want), obj); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("defaults are copies", func(t *testing.T) {
		a, b := objectOf(t, `{spec: {}}`), objectOf(t, `{spec: {}}`)
		v.Default(a)
		a["spec"].(map[string]any)["options"].(map[string]any)["debug"] = true
		v.Default(b)
		if got := b["spec"].(map[string]any)["options"].(map[string]any)["debug"]; got != false {
			t.Errorf("second default of options.debug = %v, want false", got)
		}
	})
}

const validateSchema = `
type: object
properties:
  spec:
    type: object
    required: [cronSpec]
    properties:
      cronSpec: {type: string, pattern: '^\S+ \S+ \S+ \S+ \S+$'}
      replicas: {type: integer, minimum: 0, maximum: 10}
      color: {type: string, enum: [red, green, blue]}
      port: {x-kubernetes-int-or-string: true}
      name: {type: string, maxLength: 5}
      tags: {type: array, items: {type: string}, maxItems: 3, x-kubernetes-list-type: set}
      ports:
        type: array
        x-kubernetes-list-type: map
        x-kubernetes-list-map-keys: [port]
        items: {type: object, required: [port], properties: {port: {type: integer}, name: {type: string}}}
      email: {type: string, format: email}
      template: {type: object, x-kubernetes-embedded-resource: true, x-kubernetes-preserve-unknown-fields: true}
  status:
    type: object
    properties:
      replicas: {type: integer, minimum: 0}
`

func TestVersionValidate(t *testing.T) {
	v := versionOf(t, validateSchema, func(c *crd) {
		c.Spec.Versions[0].Subresources = &apiextensionsv1.CustomResourceSubresources{
			Status: &apiextensionsv1.CustomResourceSubresourceStatus{},
			Scale:  &apiextensionsv1.CustomResourceSubresourceScale{SpecReplicasPath: ".spec.replicas", StatusReplicasPath: ".status.replicas"},
		}
	})
	head := `apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: a}
`
	tests := []struct {
		name string
		obj  string
		want []string
	}{
		{name: "valid", obj: head + `spec: {cronSpec: '* * * * *', replicas: 3, color: red, port: 80, tags: [a, b], ports: [{port: 1}, {port: 2}], email: a@b.c}`},
		{name: "int-or-string takes a string", obj: head + `spec: {cronSpec: '* * * * *', port: http}`},
		{
			name: "type meta",
			obj:  `{apiVersion: stable.example.com/v2, kind: Cron, spec: {replicas: x}}`,
			want: []string{`kind: Invalid value: "Cron": must be CronTab`, `apiVersion: Invalid value: "stable.example.com/v2": must be stable.example.com/v1`},
		},
		{
			name: "types",
			obj:  head + `spec: {cronSpec: 1, replicas: three, port: true}`,
			want: []string{
				`spec.cronSpec: Invalid value: "integer": spec.cronSpec in body must be of type string: "integer"`,
				`spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"`,
				`spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`,
				`.spec.replicas: Invalid value: 0: .spec.replicas accessor error: three is of the type string, expected int64`,
			},
		},
		{
			name: "values",
			obj:  head + `spec: {cronSpec: 'x', replicas: 11, color: purple, name: toolong, tags: [a, b, c, d], email: nope}`,
			want: []string{
				`spec.color: Unsupported value: "purple": supported values: "red", "green", "blue"`,
				`spec.cronSpec: Invalid value: "x": spec.cronSpec in body should match '^\S+ \S+ \S+ \S+ \S+$'`,
				`spec.email: Invalid value: "nope": spec.email in body must be of type email: "nope"`,
				`spec.name: Too long: may not be more than 5 bytes`,
				`spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10`,
				`spec.tags: Too many: 4: must have at most 3 items`,
			},
		},
		{
			name: "required",
			obj:  head + `spec: {}`,
			want: []string{`spec.cronSpec: Required value`},
		},
		{
			name: "duplicates in set and map lists",
			obj:  head + `spec: {cronSpec: '* * * * *', tags: [a, b, a], ports: [{port: 1, name: p}, {port: 1, name: q}]}`,
			want: []string{
				`spec.ports[1]: Duplicate value: {"port":1}`,
				`spec.tags[2]: Duplicate value: "a"`,
			},
		},
		{
			name: "scale replicas",
			obj:  head + `spec: {cronSpec: '* * * * *', replicas: 3}` + "\nstatus: {replicas: 3000000000}",
			want: []string{`.status.replicas: Invalid value: 3000000000: should be less than or equal to 2147483647`},
		},
		{
			name: "embedded resource",
			obj:  head + `spec: {cronSpec: '* * * * *', template: {apiVersion: 'a/b/c', metadata: {name: 'a/b'}}}`,
			want: []string{
				`spec.template.kind: Required value`,
				`spec.template.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c`,
				`spec.template.metadata.name: Invalid value: "a/b": may not contain '/'`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorStrings(v.Validate(objectOf(t, tt.obj)))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateUpdateRatchets(t *testing.T) {
	v := versionOf(t, validateSchema)
	head := "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: a}\n"
	tests := []struct {
		name     string
		old, obj string
		want     []string
	}{
		{
			name: "an unchanged invalid field is not reported",
			old:  head + `spec: {cronSpec: '* * * * *', replicas: 20, color: red}`,
			obj:  head + `spec: {cronSpec: '* * * * *', replicas: 20, color: blue}`,
		},
		{
			name: "a changed invalid field is",
			old:  head + `spec: {cronSpec: '* * * * *', replicas: 20}`,
			obj:  head + `spec: {cronSpec: '* * * * *', replicas: 30}`,
			want: []string{`spec.replicas: Invalid value: 30: spec.replicas in body should be less than or equal to 10`},
		},
		{
			name: "map list items correlate by key",
			old:  head + `spec: {cronSpec: '* * * * *', ports: [{port: 1, name: toolongname}, {port: 2}]}`,
			obj:  head + `spec: {cronSpec: '* * * * *', ports: [{port: 2, name: x}, {port: 1, name: toolongname}]}`,
		},
		{
			name: "atomic list items do not correlate",
			old:  head + `spec: {cronSpec: '* * * * *', tags: [a, b, c, d]}`,
			obj:  head + `spec: {cronSpec: '* * * * *', tags: [a, b, c, e]}`,
			want: []string{`spec.tags: Too many: 4: must have at most 3 items`},
		},
		{
			name: "duplicates already in the old object are not reported",
			old:  head + `spec: {cronSpec: '* * * * *', tags: [a, a]}`,
			obj:  head + `spec: {cronSpec: '* * * * *', tags: [b, b]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorStrings(v.ValidateUpdate(objectOf(t, tt.obj), objectOf(t, tt.old)))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateStatusUpdate(t *testing.T) {
	v := versionOf(t, validateSchema, func(c *crd) {
		c.Spec.Versions[0].Subresources = &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}}
	})
	head := "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: a}\n"
	old := objectOf(t, head+`spec: {replicas: 99}`)
	got := errorStrings(v.ValidateStatusUpdate(objectOf(t, head+`spec: {replicas: 99}`+"\nstatus: {replicas: -1}"), old))
	// Upstream validates .status alone, so its messages name the fields from there.
	want := []string{`status.replicas: Invalid value: -1: replicas in body should be greater than or equal to 0`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
