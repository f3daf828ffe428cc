package openapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/schemamutation"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"berth.dev/berth/internal/registry"
)

// SetCustomResource publishes the custom resource res, or replaces what was
// published for its kind: its paths, and the definitions of its kind and
// list kind built from objSchema, the OpenAPI v3 schema of its objects (as
// in the CRD's openAPIV3Schema; see CRDSchema). Refs in objSchema must point
// under #/components/schemas/. A nil objSchema describes an object that
// keeps any fields. apiVersion, kind and metadata (ObjectMeta) are added to
// the schema's properties. objSchema is not modified or kept.
//
// The kind's definition is named as upstream names it: the group's reversed
// domain, the version and the kind (com.example.stable.v1.CronTab).
func (s *Service) SetCustomResource(res registry.Resource, objSchema *spec.Schema) error {
	gvk := res.GroupVersion().WithKind(res.Kind)
	if res.Group == "" || res.Version == "" || res.Kind == "" || res.Resource == "" {
		return fmt.Errorf("custom resource %s/%s: group, version, kind and resource must be set", gvk.GroupVersion(), res.Resource)
	}
	for _, rd := range s.groups[groupPath(gvk.GroupVersion())] {
		if rd.Kind == res.Kind || rd.Resource.Resource == res.Resource {
			return fmt.Errorf("custom resource %s: the kind is built in", gvk)
		}
	}
	name := customDefinitionName(gvk)
	obj := customObjectSchema(gvk, objSchema)
	list := customListSchema(gvk, name)
	c := customResource{
		res:        resourceDoc{Resource: res, kindDef: name, listDef: name + "List", custom: true},
		obj:        obj,
		list:       list,
		objV2:      v2Schema(obj),
		listV2:     v2Schema(list),
		deps:       refsOf(obj, refPrefixV3),
		groupPath:  groupPath(gvk.GroupVersion()),
		definition: name,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.custom[gvk] = c
	s.changedLocked(c.groupPath)
	return nil
}

// RemoveCustomResource withdraws the custom resource of kind gvk. Removing a
// kind that is not published does nothing.
func (s *Service) RemoveCustomResource(gvk schema.GroupVersionKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.custom[gvk]
	if !ok {
		return
	}
	delete(s.custom, gvk)
	s.changedLocked(c.groupPath)
}

// changedLocked replaces the documents a change to the group version path
// key affects: its own (dropped when nothing is left in it), v2 and the
// index.
func (s *Service) changedLocked(key string) {
	if len(s.resourcesLocked(key)) == 0 {
		delete(s.docs, key)
	} else {
		s.docs[key] = s.groupDocumentLocked(key)
	}
	s.v2 = s.v2DocumentLocked()
	s.index = s.indexLocked()
}

// CRDSchema converts a CRD version's openAPIV3Schema to the schema
// SetCustomResource takes. A nil props gives nil.
func CRDSchema(props *apiextensionsv1.JSONSchemaProps) (*spec.Schema, error) {
	if props == nil {
		return nil, nil
	}
	b, err := json.Marshal(props)
	if err != nil {
		return nil, fmt.Errorf("encoding CRD schema: %w", err)
	}
	s := &spec.Schema{}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("decoding CRD schema: %w", err)
	}
	return s, nil
}

// customDefinitionName names a custom kind's definition as upstream does:
// stable.example.com/v1 CronTab is com.example.stable.v1.CronTab.
func customDefinitionName(gvk schema.GroupVersionKind) string {
	parts := strings.Split(gvk.Group, ".")
	slices.Reverse(parts)
	return strings.Join(parts, ".") + "." + gvk.Version + "." + gvk.Kind
}

func stringProperty(description string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{"string"}, Description: description}}
}

const (
	descAPIVersion = "APIVersion defines the versioned schema of this representation of an object."
	descKind       = "Kind is a string value representing the REST resource this object represents."
)

// customObjectSchema is the definition of a custom kind: a copy of s, an
// object, with apiVersion, kind and metadata properties and the kind's
// x-kubernetes-group-version-kind.
func customObjectSchema(gvk schema.GroupVersionKind, s *spec.Schema) *spec.Schema {
	out := &spec.Schema{}
	if s != nil {
		*out = *s
	} else {
		out.AddExtension("x-kubernetes-preserve-unknown-fields", true)
	}
	out.Extensions = maps.Clone(out.Extensions)
	out.Properties = maps.Clone(out.Properties)
	if out.Properties == nil {
		out.Properties = map[string]spec.Schema{}
	}
	out.Type = []string{"object"}
	if _, ok := out.Properties["apiVersion"]; !ok {
		out.Properties["apiVersion"] = stringProperty(descAPIVersion)
	}
	if _, ok := out.Properties["kind"]; !ok {
		out.Properties["kind"] = stringProperty(descKind)
	}
	out.Properties["metadata"] = *v3Ref(defObjectMeta)
	out.AddExtension(extGVK, gvkExtension([]schema.GroupVersionKind{gvk}))
	return out
}

// customListSchema is the definition of a custom kind's list.
func customListSchema(gvk schema.GroupVersionKind, itemDef string) *spec.Schema {
	items := v3Ref(itemDef)
	list := &spec.Schema{SchemaProps: spec.SchemaProps{
		Description: gvk.Kind + "List is a list of " + gvk.Kind + ".",
		Type:        []string{"object"},
		Required:    []string{"items"},
		Properties: map[string]spec.Schema{
			"apiVersion": stringProperty(descAPIVersion),
			"kind":       stringProperty(descKind),
			"metadata":   *v3Ref(defListMeta),
			"items": {SchemaProps: spec.SchemaProps{
				Type:  []string{"array"},
				Items: &spec.SchemaOrArray{Schema: items},
			}},
		},
	}}
	list.AddExtension(extGVK, gvkExtension([]schema.GroupVersionKind{gvk.GroupVersion().WithKind(gvk.Kind + "List")}))
	return list
}

// v2Schema converts a custom resource's v3 schema to OpenAPI v2: refs move
// under #/definitions/, and what v2 cannot say (nullable, oneOf, anyOf,
// not) is dropped, leaving a schema that accepts at least as much.
func v2Schema(s *spec.Schema) *spec.Schema {
	w := schemamutation.Walker{
		SchemaCallback: func(s *spec.Schema) *spec.Schema {
			if !s.Nullable && s.OneOf == nil && s.AnyOf == nil && s.Not == nil {
				return s
			}
			c := *s
			c.Nullable, c.OneOf, c.AnyOf, c.Not = false, nil, nil, nil
			return &c
		},
		RefCallback: func(ref *spec.Ref) *spec.Ref {
			name, ok := strings.CutPrefix(ref.String(), refPrefixV3)
			if !ok {
				return ref
			}
			r := spec.MustCreateRef(refPrefixV2 + name)
			return &r
		},
	}
	return w.WalkSchema(s)
}
