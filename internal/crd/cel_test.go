package crd

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const rulesSchema = `
type: object
x-kubernetes-validations:
- {rule: "self.metadata.name.startsWith('c')", message: name must start with c}
properties:
  spec:
    type: object
    x-kubernetes-validations:
    - rule: self.min <= self.max
    - {rule: "!has(self.forbidden)", reason: FieldValueForbidden, fieldPath: .forbidden, message: must not be set}
    - {rule: self.max < 100, messageExpression: "'max is ' + string(self.max) + ', more than 99'"}
    - {rule: self.end > self.start, message: end must follow start}
    - {rule: "self.timeout < duration('1h')", message: timeout too long}
    - {rule: self.foo__dash__bar != 'x', message: foo-bar must not be x}
    properties:
      min: {type: integer}
      max: {type: integer}
      forbidden: {type: string}
      start: {type: string, format: date-time}
      end: {type: string, format: date-time}
      timeout: {type: string, format: duration}
      foo-bar: {type: string}
      ratio: {type: number, x-kubernetes-validations: [{rule: self <= 1.0}]}
      immutable: {type: string, x-kubernetes-validations: [{rule: self == oldSelf, message: is immutable}]}
      growing:
        type: integer
        x-kubernetes-validations:
        - {rule: "oldSelf.hasValue() ? self >= oldSelf.value() : self == 0", optionalOldSelf: true, message: must start at 0 and grow}
      items:
        type: array
        x-kubernetes-list-type: map
        x-kubernetes-list-map-keys: [name]
        items:
          type: object
          required: [name]
          properties:
            name: {type: string}
            size: {type: integer, x-kubernetes-validations: [{rule: self >= oldSelf, message: may not shrink}]}
      tags:
        type: array
        items: {type: string, x-kubernetes-validations: [{rule: self.size() < 5}]}
`

func TestRules(t *testing.T) {
	v := versionOf(t, rulesSchema)
	if w := v.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	obj := func(spec string) map[string]any {
		return objectOf(t, "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: cron}\nspec: "+spec)
	}
	valid := `{min: 1, max: 2, start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z', timeout: 30m, foo-bar: ok, ratio: 0.5, immutable: a, growing: 0, items: [{name: a, size: 1}], tags: [abc]}`
	tests := []struct {
		name string
		old  string // "" for a create
		obj  map[string]any
		want []string
	}{
		{name: "valid", obj: obj(valid)},
		{
			name: "failed rules",
			obj:  obj(`{min: 300, max: 200, forbidden: x, start: '2026-01-02T00:00:00Z', end: '2026-01-01T00:00:00Z', timeout: 2h, foo-bar: x, ratio: 1.5, growing: 3, tags: [abcdef]}`),
			want: []string{
				// Objects and arrays are not printed in rule errors.
				`spec: Invalid value: failed rule: self.min <= self.max`,
				`spec.forbidden: Forbidden: must not be set`,
				`spec: Invalid value: max is 200, more than 99`,
				`spec: Invalid value: end must follow start`,
				`spec: Invalid value: timeout too long`,
				`spec: Invalid value: foo-bar must not be x`,
				`spec.growing: Invalid value: 3: must start at 0 and grow`,
				`spec.ratio: Invalid value: 1.5: failed rule: self <= 1.0`,
				`spec.tags[0]: Invalid value: "abcdef": failed rule: self.size() < 5`,
			},
		},
		{
			name: "rules on the root see metadata.name",
			obj:  objectOf(t, "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: other}\nspec: "+valid),
			want: []string{`<nil>: Invalid value: name must start with c`},
		},
		{
			name: "evaluation error",
			obj:  obj(`{min: 1}`),
			want: []string{
				`spec: Invalid value: "object": no such key: max evaluating rule: self.min <= self.max`,
				`spec: Invalid value: "object": no such key: max evaluating rule: self.max < 100`,
				`spec: Invalid value: "object": no such key: end evaluating rule: end must follow start`,
				`spec: Invalid value: "object": no such key: timeout evaluating rule: timeout too long`,
				`spec: Invalid value: "object": no such key: foo__dash__bar evaluating rule: foo-bar must not be x`,
			},
		},
		{
			name: "schema errors that block the rules",
			obj:  obj(`{min: one, max: 2}`),
			want: []string{
				`spec.min: Invalid value: "string": spec.min in body must be of type integer: "string"`,
				`<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation`,
			},
		},
		{
			name: "transition rules on update",
			old:  valid,
			obj:  obj(`{min: 1, max: 2, start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z', timeout: 30m, foo-bar: ok, ratio: 0.5, immutable: b, growing: 0, items: [{name: a, size: 0}, {name: b, size: 0}], tags: [abc]}`),
			want: []string{
				`spec.immutable: Invalid value: "b": is immutable`,
				`spec.items[0].size: Invalid value: 0: may not shrink`,
			},
		},
		{
			name: "optional old self on update",
			old:  valid,
			obj:  obj(strings.Replace(valid, "growing: 0", "growing: 5", 1)),
		},
		{
			name: "unchanged values are not checked again (ratcheting)",
			old:  `{min: 5, max: 2, start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z', timeout: 30m, foo-bar: ok, ratio: 2, growing: 0, tags: [abcdef]}`,
			obj:  obj(`{min: 5, max: 2, start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z', timeout: 30m, foo-bar: ok, ratio: 2, growing: 0, tags: [abcdef, abcdefg]}`),
			want: []string{
				`spec: Invalid value: failed rule: self.min <= self.max`,
				`spec.tags[0]: Invalid value: "abcdef": failed rule: self.size() < 5`,
				`spec.tags[1]: Invalid value: "abcdefg": failed rule: self.size() < 5`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errs []string
			if tt.old == "" {
				errs = errorStrings(v.Validate(tt.obj))
			} else {
				errs = errorStrings(v.ValidateUpdate(tt.obj, obj(tt.old)))
			}
			if diff := cmp.Diff(tt.want, errs); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRuleCompilation(t *testing.T) {
	tests := []struct {
		name       string
		schema     string
		want       []string
		wantPrefix string // for a single error
	}{
		{
			name: "syntax error",
			schema: `
type: object
properties:
  spec: {type: object, x-kubernetes-validations: [{rule: "self.a ==="}], properties: {a: {type: string}}}
`,
			// cel-go's own message follows.
			wantPrefix: `spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: {"rule":"self.a ==="}: compilation failed: ERROR: <input>:1:10: Syntax error:`,
		},
		{
			name: "not a bool",
			schema: `
type: object
properties:
  spec: {type: object, x-kubernetes-validations: [{rule: "1 + 2"}]}
`,
			want: []string{`spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: {"rule":"1 + 2"}: cel expression must evaluate to a bool`},
		},
		{
			name: "oldSelf where items do not correlate",
			schema: `
type: object
properties:
  list:
    type: array
    items: {type: string, x-kubernetes-validations: [{rule: self == oldSelf}]}
`,
			want: []string{`spec.validation.openAPIV3Schema.properties[list].items.x-kubernetes-validations[0].rule: Invalid value: "self == oldSelf": oldSelf cannot be used on the uncorrelatable portion of the schema within spec.validation.openAPIV3Schema.properties[list]`},
		},
		{
			name: "optionalOldSelf without oldSelf",
			schema: `
type: object
properties:
  a: {type: string, x-kubernetes-validations: [{rule: self != '', optionalOldSelf: true}]}
`,
			want: []string{`spec.validation.openAPIV3Schema.properties[a].x-kubernetes-validations[0].optionalOldSelf: Invalid value: true: may not be set if oldSelf is not used in rule`},
		},
		{
			name: "rules are not compiled where the schema is wrong",
			schema: `
type: object
properties:
  a: {type: string, maxItems: 1, x-kubernetes-list-type: set, x-kubernetes-validations: [{rule: "self.a ==="}]}
`,
			want: []string{`spec.validation.openAPIV3Schema.properties[a].type: Invalid value: "string": must be array if x-kubernetes-list-type is specified`},
		},
		{
			name: "functions berth lacks are accepted",
			schema: `
type: object
properties:
  ip: {type: string, x-kubernetes-validations: [{rule: isIP(self)}]}
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorStrings(Validate(newCRD(t).schema(t, 0, tt.schema).obj()))
			if tt.wantPrefix != "" {
				if len(got) != 1 || !strings.HasPrefix(got[0], tt.wantPrefix) {
					t.Errorf("errors %q, want one starting with %q", got, tt.wantPrefix)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRuleWarnings(t *testing.T) {
	v := versionOf(t, `
type: object
properties:
  ip: {type: string, x-kubernetes-validations: [{rule: isIP(self)}, {rule: self != ''}]}
`)
	want := []string{"spec.versions[0].schema.openAPIV3Schema.properties[ip].x-kubernetes-validations[0]: rule \"isIP(self)\" is not enforced: berth lacks a function it calls: ERROR: <input>:1:5: undeclared reference to 'isIP' (in container '')\n | isIP(self)\n | ....^"}
	if diff := cmp.Diff(want, v.Warnings()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	got := errorStrings(v.Validate(objectOf(t, "apiVersion: stable.example.com/v1\nkind: CronTab\nip: ''")))
	if diff := cmp.Diff([]string{`ip: Invalid value: "": failed rule: self != ''`}, got); diff != "" {
		t.Errorf("the other rule (-want +got):\n%s", diff)
	}
}

func TestEscapeCELName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"name", "name", true},
		{"foo-bar", "foo__dash__bar", true},
		{"a.b/c", "a__dot__b__slash__c", true},
		{"a__b", "a__underscores__b", true},
		{"namespace", "__namespace__", true},
		{"1st", "", false},
		{"a b", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := escapeCELName(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("escapeCELName(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
