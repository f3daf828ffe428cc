package crd

import (
	"fmt"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// selectableField is one of a version's spec.versions[].selectableFields.
type selectableField struct {
	name string // the JSONPath without its leading dot: spec.color
	path *cellPath
}

func selectableFields(in []apiextensionsv1.SelectableField) ([]selectableField, error) {
	out := make([]selectableField, 0, len(in))
	for _, sf := range in {
		p, err := newCellPath("selectableField", sf.JSONPath)
		if err != nil {
			return nil, fmt.Errorf("selectable field %q: %w", sf.JSONPath, err)
		}
		out = append(out, selectableField{name: strings.TrimPrefix(sf.JSONPath, "."), path: p})
	}
	return out, nil
}

// Fields returns the values of the version's selectable fields in obj,
// keyed by their paths without the leading dot (spec.color), as field
// selectors name them. A field that is missing or null is "". The API
// server adds metadata.name and metadata.namespace itself. Nil when the
// version has no selectable fields.
func (v *Version) Fields(obj map[string]any) fields.Set {
	if len(v.selectable) == 0 {
		return nil
	}
	set := make(fields.Set, len(v.selectable))
	for _, sf := range v.selectable {
		val, p, ok := sf.path.value(obj)
		set[sf.name] = ""
		if !ok {
			continue
		}
		sf.path.pool.Put(p)
		if x := val.Interface(); x != nil {
			set[sf.name] = fmt.Sprint(x)
		}
	}
	return set
}
