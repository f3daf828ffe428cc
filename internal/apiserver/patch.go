package apiserver

import (
	"bytes"
	"errors"
	"mime"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	schemapkg "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxJSONPatchOperations bounds a JSON patch, as upstream.
const maxJSONPatchOperations = 10000

func (s *Server) handlePatch(w http.ResponseWriter, r *http.Request, req *request) error {
	res, in := req.res, req.info
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	pt := types.PatchType(ct)
	switch pt {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyYAMLPatchType:
	default:
		return unsupportedMediaType(ct)
	}
	if pt == types.ApplyYAMLPatchType {
		return s.handleApply(w, r, req)
	}
	body, dry, err := readWrite(r, req)
	if err != nil {
		return err
	}
	if in.Subresource == "scale" {
		return s.patchScale(w, r, req, pt, body, dry)
	}
	out, code, err := s.update(r.Context(), req, res, in.Namespace, in.Name, "", false, dry, func(old runtime.Object) (runtime.Object, error) {
		if old == nil {
			return nil, notFound(res, in.Name)
		}
		oldJSON, err := s.encodeJSON(old)
		if err != nil {
			return nil, err
		}
		patched, err := applyPatch(pt, oldJSON, body, res.newObject())
		if err != nil {
			return nil, err
		}
		obj, err := s.decodePatched(r, req, patched, res)
		if err != nil {
			return nil, err
		}
		return obj, checkPatchedVersion(res, in.Name, old, obj)
	})
	if err != nil {
		return err
	}
	return s.writeOne(w, req, code, out, nil)
}

// checkPatchedVersion: a patch that sets metadata.resourceVersion is an
// optimistic lock on that version, as upstream.
func checkPatchedVersion(res *resource, name string, old, obj runtime.Object) error {
	oldAcc, _ := meta.Accessor(old)
	acc, err := meta.Accessor(obj)
	if err != nil {
		return badRequest("%v", err)
	}
	if rv := acc.GetResourceVersion(); rv != "" && rv != oldAcc.GetResourceVersion() {
		return conflict(res, name)
	}
	return nil
}

// applyPatch applies a JSON, merge or strategic merge patch to a JSON document.
func applyPatch(pt types.PatchType, doc, patch []byte, schema runtime.Object) ([]byte, error) {
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, badRequest("the server rejected our request due to an error in our request: %v", err)
		}
		if len(p) > maxJSONPatchOperations {
			return nil, apierrors.NewRequestEntityTooLargeError("The allowed maximum operations in a JSON patch is 10000")
		}
		out, err := p.Apply(doc)
		if err != nil {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schemapkg.GroupResource{}, "", err.Error(), 0, false)
		}
		return out, nil
	case types.MergePatchType:
		out, err := jsonpatch.MergePatch(doc, patch)
		if err != nil {
			return nil, badRequest("%v", err)
		}
		return out, nil
	default:
		out, err := strategicpatch.StrategicMergePatch(doc, patch, schema)
		if err != nil {
			return nil, badRequest("%v", err)
		}
		return out, nil
	}
}

func (s *Server) encodeJSON(obj runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	if err := s.jsonSerializer.Encode(obj, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodePatched decodes a patched JSON document with the request's field
// validation.
func (s *Server) decodePatched(r *http.Request, req *request, doc []byte, res *resource) (runtime.Object, error) {
	r2 := r.Clone(r.Context())
	r2.Header.Set("Content-Type", mediaJSON)
	obj, err := s.decodeBody(r2, req, doc, res.gvk, res.newObject())
	var strict *strictError
	if errors.As(err, &strict) {
		return nil, apierrors.NewInvalid(schemapkg.GroupKind{Group: res.Group, Kind: res.Kind}, req.info.Name,
			field.ErrorList{field.Invalid(field.NewPath("patch"), "", strict.err.Error())})
	}
	return obj, err
}
