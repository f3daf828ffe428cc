package crd

import (
	"encoding/json"
	"reflect"

	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
)

// Upstream ratchets schema validation on updates (CRDValidationRatcheting,
// GA since 1.33): errors found in a value that equals its counterpart in
// the old object are dropped, so that tightening a schema does not block
// updates of objects that were valid before. Values correlate through
// object fields and through the items of x-kubernetes-list-type map lists
// (by key); other list items do not correlate.

// correlated is a value of the new object and, when it has one, its
// counterpart in the old object. It is used by one validation only.
type correlated struct {
	old, new any
	schema   *spec.Schema
	children map[any]*correlated
	equal    *bool
	oldByKey map[string]any // old items of a map list, by key
}

func (c *correlated) key(k string) *correlated {
	if c == nil || c.schema == nil {
		return nil
	}
	if child, ok := c.children[k]; ok {
		return child
	}
	oldMap, ok1 := c.old.(map[string]any)
	newMap, ok2 := c.new.(map[string]any)
	if !ok1 || !ok2 {
		return nil
	}
	oldV, ok1 := oldMap[k]
	newV, ok2 := newMap[k]
	if !ok1 || !ok2 {
		return nil
	}
	var s *spec.Schema
	if p, ok := c.schema.Properties[k]; ok {
		s = &p
	} else if a := c.schema.AdditionalProperties; a != nil && a.Schema != nil {
		s = a.Schema
	} else {
		return nil
	}
	return c.add(k, &correlated{old: oldV, new: newV, schema: s})
}

func (c *correlated) index(i int) *correlated {
	if c == nil || c.schema == nil {
		return nil
	}
	if child, ok := c.children[i]; ok {
		return child
	}
	newList, ok := c.new.([]any)
	if !ok || i >= len(newList) || c.schema.Items == nil || c.schema.Items.Schema == nil {
		return nil
	}
	oldList, ok := c.old.([]any)
	if !ok {
		return nil
	}
	if lt, _ := c.schema.Extensions.GetString("x-kubernetes-list-type"); lt != "map" {
		return nil
	}
	keys := listMapKeys(c.schema)
	if c.oldByKey == nil {
		c.oldByKey = make(map[string]any, len(oldList))
		for _, o := range oldList {
			if k, ok := mapListKey(o, keys); ok {
				if _, dup := c.oldByKey[k]; !dup {
					c.oldByKey[k] = o
				}
			}
		}
	}
	k, ok := mapListKey(newList[i], keys)
	if !ok {
		return nil
	}
	oldV, ok := c.oldByKey[k]
	if !ok {
		return nil
	}
	return c.add(i, &correlated{old: oldV, new: newList[i], schema: c.schema.Items.Schema})
}

func (c *correlated) add(k any, child *correlated) *correlated {
	if c.children == nil {
		c.children = map[any]*correlated{}
	}
	c.children[k] = child
	return child
}

// listMapKeys returns the x-kubernetes-list-map-keys of a list schema.
func listMapKeys(s *spec.Schema) []string {
	var keys []string
	if raw, ok := s.Extensions["x-kubernetes-list-map-keys"].([]any); ok {
		for _, k := range raw {
			if ks, ok := k.(string); ok {
				keys = append(keys, ks)
			}
		}
	}
	return keys
}

// mapListKey is the identity of an item of a map list: its key fields.
func mapListKey(item any, keys []string) (string, bool) {
	m, ok := item.(map[string]any)
	if !ok {
		return "", false
	}
	vals := make([]any, len(keys))
	for i, k := range keys {
		vals[i] = m[k]
	}
	b, err := json.Marshal(vals)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// unchanged says whether the new value equals the old one, following the
// correlation (a map list equal as a set of keyed items counts as equal
// only item by item, as upstream compares).
func (c *correlated) unchanged() bool {
	if c == nil {
		return false
	}
	if c.equal != nil {
		return *c.equal
	}
	eq := c.compare()
	c.equal = &eq
	return eq
}

func (c *correlated) compare() bool {
	if c.new == nil || c.old == nil {
		return c.new == nil && c.old == nil
	}
	oldList, oldIsList := c.old.([]any)
	newList, newIsList := c.new.([]any)
	oldMap, oldIsMap := c.old.(map[string]any)
	newMap, newIsMap := c.new.(map[string]any)
	if oldIsList != newIsList || oldIsMap != newIsMap {
		return false
	}
	switch {
	case oldIsList:
		if len(oldList) != len(newList) {
			return false
		}
		for i := range newList {
			child := c.index(i)
			if child == nil {
				if c.oldByKey == nil {
					return reflect.DeepEqual(oldList, newList)
				}
				return false
			}
			if !child.unchanged() {
				return false
			}
		}
		return true
	case oldIsMap:
		if len(oldMap) != len(newMap) {
			return false
		}
		for k := range newMap {
			if child := c.key(k); child == nil || !child.unchanged() {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(c.old, c.new)
}

// ratchetValidator validates one value of the new object and ratchets its
// errors; it makes the validators of the value's fields and items
// ratchet too, through the hooks of kube-openapi's validator.
type ratchetValidator struct {
	schema *spec.Schema
	root   any
	path   string
	corr   *correlated
}

func (r *ratchetValidator) options() validate.Option {
	return func(o *validate.SchemaValidatorOptions) {
		o.NewValidatorForField = r.forField
		o.NewValidatorForIndex = r.forIndex
	}
}

func (r *ratchetValidator) Validate(x any) *validate.Result {
	res := validate.NewSchemaValidator(r.schema, r.root, r.path, strfmt.Default, r.options()).Validate(r.corr.new)
	if res.IsValid() || !r.corr.unchanged() {
		return res
	}
	ratcheted := &validate.Result{}
	ratcheted.MergeAsWarnings(res)
	return ratcheted
}

func (r *ratchetValidator) forField(k string, s *spec.Schema, root any, pth string, formats strfmt.Registry, opts ...validate.Option) validate.ValueValidator {
	child := r.corr.key(k)
	if child == nil || (r.path == "" && (k == "kind" || k == "apiVersion")) {
		return validate.NewSchemaValidator(s, root, pth, formats, opts...)
	}
	return &ratchetValidator{schema: s, root: root, path: pth, corr: child}
}

func (r *ratchetValidator) forIndex(i int, s *spec.Schema, root any, pth string, formats strfmt.Registry, opts ...validate.Option) validate.ValueValidator {
	child := r.corr.index(i)
	if child == nil {
		return validate.NewSchemaValidator(s, root, pth, formats, opts...)
	}
	return &ratchetValidator{schema: s, root: root, path: pth, corr: child}
}

func (r *ratchetValidator) SetPath(string) {}

func (r *ratchetValidator) Applies(any, reflect.Kind) bool { return true }

// ratchetingValidate validates x against s, ratcheting against old.
func ratchetingValidate(s *spec.Schema, x, old any) *validate.Result {
	r := &ratchetValidator{schema: s, root: s, corr: &correlated{old: old, new: x, schema: s}}
	return r.Validate(x)
}
