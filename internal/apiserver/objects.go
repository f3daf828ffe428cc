package apiserver

import (
	"reflect"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The spec/status split the generic handlers apply, for typed objects (by
// their Spec and Status fields) and for custom resources (by their
// "spec" and "status" keys).

// hasSpec reports whether generation is tracked for obj: typed kinds with a
// Spec, and every custom resource, as upstream.
func hasSpec(obj runtime.Object) bool {
	if _, ok := obj.(*unstructured.Unstructured); ok {
		return true
	}
	return reflectField(obj, "Spec").IsValid()
}

// clearStatus empties obj's status.
func clearStatus(obj runtime.Object) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		delete(u.Object, "status")
		return
	}
	if f := reflectField(obj, "Status"); f.IsValid() && f.CanSet() {
		f.Set(reflect.Zero(f.Type()))
	}
}

// copyStatus sets dst's status to src's.
func copyStatus(dst, src runtime.Object) {
	if u, ok := dst.(*unstructured.Unstructured); ok {
		s := src.(*unstructured.Unstructured)
		if st, ok := s.Object["status"]; ok {
			u.Object["status"] = runtime.DeepCopyJSONValue(st)
		} else {
			delete(u.Object, "status")
		}
		return
	}
	if f, o := reflectField(dst, "Status"), reflectField(src, "Status"); f.IsValid() && o.IsValid() {
		f.Set(o)
	}
}

// specChanged reports whether an update changes what generation counts:
// the Spec of typed kinds; for custom resources everything but metadata
// and (with a status subresource) status.
func specChanged(obj, old runtime.Object, statusSubresource bool) bool {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		o := old.(*unstructured.Unstructured)
		strip := func(m map[string]any) map[string]any {
			c := make(map[string]any, len(m))
			for k, v := range m {
				if k == "metadata" || (statusSubresource && k == "status") {
					continue
				}
				c[k] = v
			}
			return c
		}
		return !apiequality.Semantic.DeepEqual(strip(u.Object), strip(o.Object))
	}
	spec, oldSpec := reflectField(obj, "Spec"), reflectField(old, "Spec")
	if !spec.IsValid() || !oldSpec.IsValid() {
		return false
	}
	return !apiequality.Semantic.DeepEqual(spec.Interface(), oldSpec.Interface())
}

// reflectSet sets *dst to *src; both are pointers to the same type.
func reflectSet(dst, src runtime.Object) {
	if u, ok := dst.(*unstructured.Unstructured); ok {
		u.Object = src.(*unstructured.Unstructured).Object
		return
	}
	reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
}

// reflectField returns the named top-level field of a typed object.
func reflectField(obj runtime.Object, name string) reflect.Value {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}
	}
	return v.Elem().FieldByName(name)
}

// newUnstructured returns an empty custom object of kind gvk.
func newUnstructured(gvk schema.GroupVersionKind) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(gvk)
	return u
}
