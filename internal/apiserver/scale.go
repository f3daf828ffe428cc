package apiserver

import (
	"context"
	"net/http"
	"reflect"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// scaleOf returns the autoscaling/v1 Scale of an object with .spec.replicas
// and a selector (for custom resources: at the paths their CRD names).
func (r *resource) scaleOf(obj runtime.Object) (*autoscalingv1.Scale, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	sc := &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
		ObjectMeta: metav1.ObjectMeta{
			Name: acc.GetName(), Namespace: acc.GetNamespace(), UID: acc.GetUID(),
			ResourceVersion: acc.GetResourceVersion(), CreationTimestamp: acc.GetCreationTimestamp(),
		},
	}
	if r.custom != nil {
		spec, status, sel, err := r.custom.version.ScaleFrom(obj.(*unstructured.Unstructured).Object)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		sc.Spec.Replicas, sc.Status.Replicas, sc.Status.Selector = spec, status, sel
		return sc, nil
	}
	spec, status := reflectField(obj, "Spec"), reflectField(obj, "Status")
	switch r := spec.FieldByName("Replicas"); r.Kind() {
	case reflect.Pointer:
		if !r.IsNil() {
			sc.Spec.Replicas = int32(r.Elem().Int())
		}
	case reflect.Int32:
		sc.Spec.Replicas = int32(r.Int())
	}
	sc.Status.Replicas = int32(status.FieldByName("Replicas").Int())
	switch sel := spec.FieldByName("Selector").Interface().(type) {
	case *metav1.LabelSelector:
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			return nil, err
		}
		sc.Status.Selector = s.String()
	case map[string]string:
		sc.Status.Selector = labels.SelectorFromSet(sel).String()
	}
	return sc, nil
}

// setReplicas writes a Scale's spec.replicas into obj.
func (r *resource) setReplicas(obj runtime.Object, n int32) error {
	if r.custom != nil {
		return r.custom.version.SetReplicas(obj.(*unstructured.Unstructured).Object, n)
	}
	f := reflectField(obj, "Spec").FieldByName("Replicas")
	if f.Kind() == reflect.Pointer {
		f.Set(reflect.ValueOf(&n))
		return nil
	}
	f.SetInt(int64(n))
	return nil
}

func (s *Server) updateScale(w http.ResponseWriter, r *http.Request, req *request, body []byte, dry bool) error {
	in := req.info
	obj, err := s.decodeBody(r, req, body, scaleGVK, &autoscalingv1.Scale{})
	if err != nil {
		return err
	}
	return s.writeScale(r.Context(), w, req, in.Name, obj.(*autoscalingv1.Scale), dry)
}

// writeScale applies a Scale to its parent object.
func (s *Server) writeScale(ctx context.Context, w http.ResponseWriter, req *request, name string, sc *autoscalingv1.Scale, dry bool) error {
	res, in := req.res, req.info
	if sc.Name != name {
		return badRequest("the name of the object (%s) does not match the name on the URL (%s)", sc.Name, name)
	}
	if sc.Spec.Replicas < 0 {
		return invalidScale(name, field.ErrorList{field.Invalid(field.NewPath("spec", "replicas"), sc.Spec.Replicas, "must be greater than or equal to 0")})
	}
	out, _, err := s.update(ctx, req, res, in.Namespace, name, sc.ResourceVersion, false, dry, func(old runtime.Object) (runtime.Object, error) {
		if old == nil {
			return nil, notFound(res, name)
		}
		if err := res.setReplicas(old, sc.Spec.Replicas); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		return old, nil
	})
	if err != nil {
		return err
	}
	result, err := res.scaleOf(out)
	if err != nil {
		return err
	}
	s.writeObject(w, req, http.StatusOK, result)
	return nil
}

func invalidScale(name string, errs field.ErrorList) error {
	return invalidKind("autoscaling", "Scale", name, errs)
}

func (s *Server) patchScale(w http.ResponseWriter, r *http.Request, req *request, pt types.PatchType, body []byte, dry bool) error {
	in := req.info
	obj, _, err := s.getStored(r.Context(), req.res, in.Namespace, in.Name)
	if err != nil {
		return err
	}
	cur, err := req.res.scaleOf(obj)
	if err != nil {
		return err
	}
	doc, err := s.encodeJSON(cur)
	if err != nil {
		return err
	}
	patched, err := applyPatch(pt, doc, body, &autoscalingv1.Scale{})
	if err != nil {
		return err
	}
	r2 := r.Clone(r.Context())
	r2.Header.Set("Content-Type", mediaJSON)
	out, err := s.decodeBody(r2, req, patched, scaleGVK, &autoscalingv1.Scale{})
	if err != nil {
		return err
	}
	sc := out.(*autoscalingv1.Scale)
	if sc.ResourceVersion == cur.ResourceVersion {
		sc.ResourceVersion = "" // unchanged by the patch: no precondition
	}
	return s.writeScale(r.Context(), w, req, in.Name, sc, dry)
}
