// Package admissiontest has what admission plugin tests share: an
// in-memory auth.Objects.
package admissiontest

import (
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Objects is an auth.Objects over a fixed set of objects, keyed by
// resource; it is not safe for concurrent writes.
type Objects map[schema.GroupResource][]runtime.Object

// Get returns the object of gr named namespace/name, or NotFound.
func (o Objects) Get(gr schema.GroupResource, namespace, name string) (runtime.Object, error) {
	for _, obj := range o[gr] {
		m, _ := meta.Accessor(obj)
		if m.GetNamespace() == namespace && m.GetName() == name {
			return obj, nil
		}
	}
	return nil, errors.NewNotFound(gr, name)
}

// List returns gr's objects in namespace ("" for all) matching sel.
func (o Objects) List(gr schema.GroupResource, namespace string, sel labels.Selector) ([]runtime.Object, error) {
	var out []runtime.Object
	for _, obj := range o[gr] {
		m, _ := meta.Accessor(obj)
		if (namespace == "" || m.GetNamespace() == namespace) && (sel == nil || sel.Matches(labels.Set(m.GetLabels()))) {
			out = append(out, obj)
		}
	}
	return out, nil
}
