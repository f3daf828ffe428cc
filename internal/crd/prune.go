package crd

import (
	"slices"
	"strconv"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// node is the part of a structural schema that pruning and defaulting
// follow: the shape of the data, without value validations.
type node struct {
	Type     string
	Nullable bool
	// Default is the decoded default, already pruned; nil means none.
	Default         any
	PreserveUnknown bool
	Embedded        bool
	IntOrString     bool
	ListType        string
	ListMapKeys     []string
	Properties      map[string]*node
	// HasAdditional says additionalProperties is set (true, false or a
	// schema); Additional is its schema, nil for a bare boolean.
	HasAdditional bool
	Additional    *node
	Items         *node
}

// compile builds the node tree of s; nil for nil.
func compile(s *apiextensionsv1.JSONSchemaProps) *node {
	if s == nil {
		return nil
	}
	n := &node{
		Type:            s.Type,
		Nullable:        s.Nullable,
		PreserveUnknown: s.XPreserveUnknownFields != nil && *s.XPreserveUnknownFields,
		Embedded:        s.XEmbeddedResource,
		IntOrString:     s.XIntOrString,
		ListMapKeys:     s.XListMapKeys,
	}
	if s.XListType != nil {
		n.ListType = *s.XListType
	}
	if s.Items != nil {
		n.Items = compile(s.Items.Schema)
	}
	if len(s.Properties) > 0 {
		n.Properties = make(map[string]*node, len(s.Properties))
		for k, p := range s.Properties {
			n.Properties[k] = compile(&p)
		}
	}
	if s.AdditionalProperties != nil {
		n.HasAdditional = true
		n.Additional = compile(s.AdditionalProperties.Schema)
	}
	if d := jsonValue(s.Default); d != nil {
		var p pruner
		p.prune(d, n, n.Embedded)
		n.Default = d
	}
	return n
}

// isMetaField says whether k is one of the fields of an object's root, or of an embedded
// resource, that pruning leaves to ObjectMeta and TypeMeta handling.
func isMetaField(k string) bool {
	return k == "apiVersion" || k == "kind" || k == "metadata"
}

// pruner removes the fields a schema does not specify and records their
// paths (a.b[0].c), as upstream's pruning does.
type pruner struct {
	unknown []string
}

// prune prunes x against s. At a resource root (isResourceRoot) and in
// embedded resources, apiVersion, kind and metadata are left alone.
func (p *pruner) prune(x any, s *node, isResourceRoot bool) {
	if isResourceRoot {
		if s == nil {
			s = &node{}
		}
		if !s.Embedded {
			c := *s
			c.Embedded = true
			s = &c
		}
	}
	p.walk(x, s, "")
	slices.Sort(p.unknown)
}

func childPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

func (p *pruner) walk(x any, s *node, pth string) {
	if s != nil && s.PreserveUnknown {
		p.keep(x, s, pth)
		return
	}
	switch x := x.(type) {
	case map[string]any:
		for k, v := range x {
			if s != nil && s.Embedded && isMetaField(k) {
				continue
			}
			if s != nil {
				if prop, ok := s.Properties[k]; ok {
					p.walk(v, prop, childPath(pth, k))
					continue
				}
				if s.HasAdditional {
					p.walk(v, s.Additional, childPath(pth, k))
					continue
				}
			}
			if !isMetaField(k) || pth != "" {
				p.unknown = append(p.unknown, childPath(pth, k))
			}
			delete(x, k)
		}
	case []any:
		var items *node
		if s != nil {
			items = s.Items
		}
		for i, v := range x {
			p.walk(v, items, indexPath(pth, i))
		}
	}
}

// keep walks a value whose schema preserves unknown fields: known fields
// are still pruned by their own schemas.
func (p *pruner) keep(x any, s *node, pth string) {
	if s == nil {
		return
	}
	switch x := x.(type) {
	case map[string]any:
		for k, v := range x {
			if s.Embedded && isMetaField(k) {
				continue
			}
			if prop, ok := s.Properties[k]; ok {
				p.walk(v, prop, childPath(pth, k))
			} else if s.HasAdditional {
				p.walk(v, s.Additional, childPath(pth, k))
			}
		}
	case []any:
		for i, v := range x {
			p.keep(v, s.Items, indexPath(pth, i))
		}
	}
}

// fieldSchema is the schema of field k of an object with schema s.
func fieldSchema(s *node, k string) *node {
	if s == nil {
		return nil
	}
	if prop, ok := s.Properties[k]; ok {
		return prop
	}
	if s.HasAdditional {
		return s.Additional
	}
	return nil
}

// dropNulls removes the nulls the schema neither allows (nullable) nor
// defaults; the nulls with a default are replaced later by defaulting.
func dropNulls(x any, s *node) {
	switch x := x.(type) {
	case map[string]any:
		for k, v := range x {
			fs := fieldSchema(s, k)
			if v == nil && fs != nil && !fs.Nullable && fs.Default == nil {
				delete(x, k)
				continue
			}
			dropNulls(v, fs)
		}
	case []any:
		var items *node
		if s != nil {
			items = s.Items
		}
		for _, v := range x {
			dropNulls(v, items)
		}
	}
}
