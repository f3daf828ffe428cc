package crd

import (
	"encoding/json"
	"reflect"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateLists checks that the lists of x-kubernetes-list-type set in
// obj hold no item twice and those of list-type map no key twice, as
// upstream does: the second occurrence (only) of a value is a Duplicate
// error.
func validateLists(pth *field.Path, s *node, obj map[string]any) field.ErrorList {
	if s == nil || obj == nil {
		return nil
	}
	var errs field.ErrorList
	if s.HasAdditional && s.Additional != nil {
		for _, k := range sortedKeys(obj) {
			errs = append(errs, validateListsIn(pth.Key(k), s.Additional, obj[k])...)
		}
	}
	if s.Properties != nil {
		for _, k := range sortedKeys(obj) {
			if prop, ok := s.Properties[k]; ok {
				errs = append(errs, validateListsIn(pth.Child(k), prop, obj[k])...)
			}
		}
	}
	return errs
}

func validateListsIn(pth *field.Path, s *node, x any) field.ErrorList {
	switch x := x.(type) {
	case []any:
		return validateList(pth, s, x)
	case map[string]any:
		return validateLists(pth, s, x)
	}
	return nil
}

func validateList(pth *field.Path, s *node, list []any) field.ErrorList {
	if s == nil {
		return nil
	}
	var errs field.ErrorList
	switch s.ListType {
	case "set":
		dups, err := repeated(pth, list)
		if err != nil {
			errs = append(errs, err)
		}
		for _, i := range dups {
			errs = append(errs, field.Duplicate(pth.Index(i), list[i]))
		}
	case "map":
		errs = append(errs, validateMapList(pth, s, list)...)
	}
	if s.Items != nil {
		for i, x := range list {
			errs = append(errs, validateListsIn(pth.Index(i), s.Items, x)...)
		}
	}
	return errs
}

// unspecified stands for a missing key field, or a null item, in a map
// list: all of those are one key.
type unspecified struct{}

// repeated returns the indexes where a value shows up for the second time.
func repeated(pth *field.Path, list []any) ([]int, *field.Error) {
	if len(list) <= 1 {
		return nil, nil
	}
	seen := make(map[any]int, len(list))
	var dups []int
	for i, x := range list {
		var k any = x
		if x != nil && !reflect.TypeOf(x).Comparable() {
			b, err := json.Marshal(x)
			if err != nil {
				return nil, field.Invalid(pth.Index(i), x, "internal error")
			}
			k = struct{ compound string }{string(b)}
		}
		seen[k]++
		if seen[k] == 2 {
			dups = append(dups, i)
		}
	}
	return dups, nil
}

func validateMapList(pth *field.Path, s *node, list []any) field.ErrorList {
	for i, x := range list {
		if _, ok := x.(map[string]any); x != nil && !ok {
			return field.ErrorList{field.Invalid(pth.Index(i), x, "must be an object for an array of list-type map")}
		}
	}
	if len(list) <= 1 {
		return nil
	}
	keys := make([]any, len(list))
	for i, x := range list {
		m, _ := x.(map[string]any)
		if len(s.ListMapKeys) == 1 {
			k, ok := m[s.ListMapKeys[0]]
			if m == nil || !ok {
				keys[i] = unspecified{}
			} else {
				keys[i] = k
			}
			continue
		}
		key := map[string]any{}
		for _, kf := range s.ListMapKeys {
			if k, ok := m[kf]; ok {
				key[kf] = k
			}
		}
		keys[i] = key
	}
	dups, err := repeated(pth, keys)
	if err != nil {
		return field.ErrorList{err}
	}
	var errs field.ErrorList
	for _, i := range dups {
		switch {
		case len(s.ListMapKeys) != 1:
			errs = append(errs, field.Duplicate(pth.Index(i), keys[i]))
		case keys[i] == unspecified{}:
			errs = append(errs, field.Duplicate(pth.Index(i), map[string]any{}))
		default:
			errs = append(errs, field.Duplicate(pth.Index(i), map[string]any{s.ListMapKeys[0]: keys[i]}))
		}
	}
	return errs
}
