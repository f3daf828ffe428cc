package crd

import (
	"encoding/json"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

// FuzzVersion checks that no schema and no object make the CRD checks or
// a Version panic: schemas and objects are outside input.
func FuzzVersion(f *testing.F) {
	for _, s := range []string{cronTabSchema, pruneSchema, validateSchema, rulesSchema, `{"type":"object","x-kubernetes-preserve-unknown-fields":true}`} {
		j, err := yaml.YAMLToJSON([]byte(s))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(j, []byte(`{"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"name":"a","labels":{"a":"b"}},"spec":{"replicas":3,"list":[{"a":"b"},null],"template":{"kind":"Pod","metadata":{"x":1}},"ports":[{"port":1},{"port":1}]},"status":{"replicas":1}}`))
	}
	f.Add([]byte(`{"type":"object","properties":{"spec":{"type":"object","properties":{"a":{"type":"array","items":{"type":"string","default":"x"},"x-kubernetes-list-type":"set"}},"additionalProperties":true,"default":{"a":["y"]}}}}`), []byte(`{"spec":{"a":[null,"x","x"],"b":{"c":1}}}`))
	f.Fuzz(func(t *testing.T, schemaJSON, objJSON []byte) {
		schema := &apiextensionsv1.JSONSchemaProps{}
		if err := json.Unmarshal(schemaJSON, schema); err != nil {
			return
		}
		c := newCRD(t).obj()
		c.Spec.Versions[0].Schema.OpenAPIV3Schema = schema
		c.Spec.Versions[0].Subresources = &apiextensionsv1.CustomResourceSubresources{
			Status: &apiextensionsv1.CustomResourceSubresourceStatus{},
			Scale:  &apiextensionsv1.CustomResourceSubresourceScale{SpecReplicasPath: ".spec.replicas", StatusReplicasPath: ".status.replicas", LabelSelectorPath: new(".status.selector")},
		}
		c.Spec.Versions[0].AdditionalPrinterColumns = []apiextensionsv1.CustomResourceColumnDefinition{
			{Name: "A", Type: "string", JSONPath: ".spec.a"}, {Name: "R", Type: "integer", JSONPath: ".spec.replicas"},
			{Name: "D", Type: "date", JSONPath: ".status.since"}, {Name: "N", Type: "number", JSONPath: ".status.ratio"},
		}
		c.Spec.Versions[0].SelectableFields = []apiextensionsv1.SelectableField{{JSONPath: ".spec.a"}}
		_ = Validate(c)
		_ = ValidateUpdate(c, c)
		_ = Status(c, []*apiextensionsv1.CustomResourceDefinition{c}, time.Time{})
		v, err := NewVersion(c, "v1")
		if err != nil {
			return
		}
		obj := map[string]any{}
		if err := utiljson.Unmarshal(objJSON, &obj); err != nil {
			return
		}
		old := runtime.DeepCopyJSON(obj)
		if _, err := v.Prune(obj); err != nil {
			return
		}
		v.Default(obj)
		_ = v.Validate(obj)
		_ = v.ValidateUpdate(obj, old)
		_ = v.ValidateStatusUpdate(obj, old)
		_ = v.Row(obj, time.Time{})
		_ = v.Fields(obj)
		_, _, _, _ = v.ScaleFrom(obj)
	})
}
