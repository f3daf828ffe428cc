package crd

import (
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// cronTabSchema is the schema of the test CRD's objects.
const cronTabSchema = `
type: object
properties:
  spec:
    type: object
    properties:
      cronSpec: {type: string, pattern: '^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'}
      image: {type: string}
      replicas: {type: integer, minimum: 1, maximum: 10, default: 1}
      selector: {type: string}
      color: {type: string, enum: [red, green, blue]}
  status:
    type: object
    properties:
      replicas: {type: integer}
      selector: {type: string}
`

// schemaOf parses a schema written in YAML.
func schemaOf(t testing.TB, y string) *apiextensionsv1.JSONSchemaProps {
	t.Helper()
	s := &apiextensionsv1.JSONSchemaProps{}
	if err := yaml.Unmarshal([]byte(y), s); err != nil {
		t.Fatalf("parsing schema: %v", err)
	}
	return s
}

// objectOf parses an object written in YAML, as the API server decodes
// JSON (int64 and float64 numbers).
func objectOf(t testing.TB, y string) map[string]any {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatalf("parsing object: %v", err)
	}
	obj := map[string]any{}
	if err := utiljson.Unmarshal(j, &obj); err != nil {
		t.Fatalf("parsing object: %v", err)
	}
	return obj
}

// crdBuilder builds test CRDs: by default crontabs.stable.example.com,
// namespaced, with one served and stored version v1 of cronTabSchema.
type crdBuilder struct {
	crd *apiextensionsv1.CustomResourceDefinition
}

func newCRD(t testing.TB) *crdBuilder {
	return &crdBuilder{crd: &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "crontabs.stable.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "stable.example.com",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "crontabs", Kind: "CronTab", ShortNames: []string{"ct"}},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: schemaOf(t, cronTabSchema)},
			}},
		},
	}}
}

func (b *crdBuilder) with(f func(*apiextensionsv1.CustomResourceDefinition)) *crdBuilder {
	f(b.crd)
	return b
}

// schema replaces the schema of version i.
func (b *crdBuilder) schema(t testing.TB, i int, y string) *crdBuilder {
	b.crd.Spec.Versions[i].Schema = &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: schemaOf(t, y)}
	return b
}

// obj returns the CRD, defaulted.
func (b *crdBuilder) obj() *apiextensionsv1.CustomResourceDefinition {
	c := b.crd.DeepCopy()
	Default(c)
	return c
}

func errorStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}
