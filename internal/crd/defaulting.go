package crd

import "k8s.io/apimachinery/pkg/runtime"

// applyDefaults sets the schema defaults of s in x, recursively: a missing
// field with a default gets a copy of it, and so does a null where the
// schema is not nullable (dropNulls has left only those nulls).
func applyDefaults(x any, s *node) {
	if s == nil {
		return
	}
	switch x := x.(type) {
	case map[string]any:
		for k, prop := range s.Properties {
			if prop.Default == nil {
				continue
			}
			if v, ok := x[k]; !ok || (v == nil && !prop.Nullable) {
				x[k] = runtime.DeepCopyJSONValue(prop.Default)
			}
		}
		for k, v := range x {
			if prop, ok := s.Properties[k]; ok {
				applyDefaults(v, prop)
			} else if s.HasAdditional {
				if v == nil && s.Additional != nil && !s.Additional.Nullable && s.Additional.Default != nil {
					v = runtime.DeepCopyJSONValue(s.Additional.Default)
					x[k] = v
				}
				applyDefaults(v, s.Additional)
			}
		}
	case []any:
		for i, v := range x {
			if v == nil && s.Items != nil && !s.Items.Nullable && s.Items.Default != nil {
				v = runtime.DeepCopyJSONValue(s.Items.Default)
				x[i] = v
			}
			applyDefaults(v, s.Items)
		}
	}
}
