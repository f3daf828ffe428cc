package apiserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	certificatesv1 "k8s.io/api/certificates/v1"
	"mime"
	"net/http"
	"strconv"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/store"
)

// maxBodyBytes bounds request bodies, as upstream's 3 MiB limit.
const maxBodyBytes = 3 << 20

// serveResource dispatches a resource request by verb and subresource.
func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, req *request) {
	in := req.info
	if !req.res.Namespaced && in.Namespace != "" && !(in.Group == "" && in.Resource == "namespaces") {
		s.writeError(w, req, apierrors.NewNotFound(req.res.GroupResource(), ""))
		return
	}
	if req.res.metrics {
		s.serveMetrics(w, r, req)
		return
	}
	if in.Subresource != "" && !req.res.hasSubresource(in.Subresource) {
		s.writeError(w, req, apierrors.NewNotFound(req.res.GroupResource(), in.Name))
		return
	}
	if in.Subresource == "" && (req.res.Ephemeral || in.Verb != "get" && in.Verb != "list" && in.Verb != "watch") && !req.res.supports(in.Verb) {
		s.writeError(w, req, methodNotSupported(req.res, in.Verb))
		return
	}
	if req.res.Group == "" && req.res.name() == "pods" && isPodStream(in.Subresource) {
		if err := s.handlePodStream(w, r, req); err != nil {
			s.writeError(w, req, err)
		}
		return
	}
	var err error
	switch in.Verb {
	case "get":
		err = s.handleGet(w, r, req)
	case "list":
		err = s.handleList(w, r, req)
	case "watch":
		err = s.handleWatch(w, r, req)
	case "create":
		err = s.handleCreate(w, r, req)
	case "update":
		err = s.handleUpdate(w, r, req)
	case "patch":
		err = s.handlePatch(w, r, req)
	case "delete":
		err = s.handleDelete(w, r, req)
	case "deletecollection":
		err = s.handleDeleteCollection(w, r, req)
	default:
		err = methodNotSupported(req.res, in.Verb)
	}
	if err != nil {
		s.writeError(w, req, err)
	}
}

func (r *resource) hasSubresource(name string) bool {
	for _, sub := range r.subresources() {
		if sub.name == name {
			return true
		}
	}
	return false
}

// readBody reads a request body within the size limit.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, badRequest("reading request body: %v", err)
	}
	if len(b) > maxBodyBytes {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", maxBodyBytes))
	}
	return b, nil
}

// readWrite reads a write request's body and its dryRun parameter.
func readWrite(r *http.Request, req *request) ([]byte, bool, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, false, err
	}
	dry, err := dryRun(req)
	return body, dry, err
}

// fieldValidation returns the request's fieldValidation mode; kubectl sends
// Strict by default, other clients default to Warn as upstream.
func fieldValidation(req *request) (string, error) {
	switch v := req.query.Get("fieldValidation"); v {
	case "", "Warn":
		return "Warn", nil
	case "Ignore", "Strict":
		return v, nil
	default:
		return "", badRequest("fieldValidation parameter unsupported: %q", v)
	}
}

// decodeBody decodes a request body into a new object of kind gvk, honouring
// the Content-Type and fieldValidation.
func (s *Server) decodeBody(r *http.Request, req *request, body []byte, gvk schema.GroupVersionKind, into runtime.Object) (runtime.Object, error) {
	if _, ok := into.(*unstructured.Unstructured); ok && req.res.custom != nil {
		obj, err := s.decodeCustomBody(r, req, body)
		if err == nil {
			req.auditObject(obj)
		}
		return obj, err
	}
	mode, err := fieldValidation(req)
	if err != nil {
		return nil, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var dec runtime.Decoder
	switch ct {
	case mediaProtobuf:
		dec = s.protoSerializer
	case mediaYAML:
		dec = s.yamlSerializer
		if mode != "Ignore" {
			dec = s.strictYAML
		}
	case mediaJSON, "":
		dec = s.jsonSerializer
		if mode != "Ignore" {
			dec = s.strictJSON
		}
	default:
		return nil, unsupportedMediaType(ct)
	}
	obj, got, err := dec.Decode(body, &gvk, into)
	if err != nil {
		if strict, ok := runtime.AsStrictDecodingError(err); ok && obj != nil {
			if mode == "Strict" {
				return nil, &strictError{gvk: gvk, err: err}
			}
			for _, e := range strict.Errors() {
				req.warnings = append(req.warnings, e.Error())
			}
		} else {
			return nil, badRequest("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err)
		}
	}
	if got != nil && (got.GroupVersion() != gvk.GroupVersion() || got.Kind != gvk.Kind) {
		return nil, badRequest("the API version in the data (%s) does not match the expected API version (%s)", got.GroupVersion(), gvk.GroupVersion())
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	req.auditObject(obj)
	return obj, nil
}

// strictError is a body that fieldValidation=Strict refuses: a 400 for
// create and update, a 422 for patches, as upstream.
type strictError struct {
	gvk schema.GroupVersionKind
	err error
}

func (e *strictError) Error() string { return e.err.Error() }

func (e *strictError) Status() metav1.Status {
	return badRequest("%s in version %q cannot be handled as a %s: %v", e.gvk.Kind, e.gvk.Version, e.gvk.Kind, e.err).(*apierrors.StatusError).ErrStatus
}

// dryRun reports whether the request asks for dryRun=All.
func dryRun(req *request) (bool, error) {
	for _, v := range req.query["dryRun"] {
		if v != "All" {
			return false, badRequest("dryRun: unsupported value %q, supported values: \"All\"", v)
		}
		return true, nil
	}
	return false, nil
}

// encodeForStore encodes obj as stored: protobuf with its resourceVersion
// cleared (the store revision is the resourceVersion).
func (s *Server) encodeForStore(res *resource, obj runtime.Object) ([]byte, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return res.encodeCustom(u)
	}
	if c := res.Convert; c != nil {
		stored, err := c.ToStorage(obj)
		if err != nil {
			return nil, err
		}
		if acc, err := meta.Accessor(stored); err == nil {
			acc.SetResourceVersion("")
		}
		return s.encodeForStore(res.storage, stored)
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv := acc.GetResourceVersion()
	acc.SetResourceVersion("")
	defer acc.SetResourceVersion(rv)
	msg, err := obj.(protoMarshaler).Marshal()
	if err != nil {
		return nil, err
	}
	return protoEnvelope(obj.GetObjectKind().GroupVersionKind(), msg)
}

// decode decodes a stored value into a new typed object with TypeMeta set.
func (r *resource) decode(value []byte) (runtime.Object, error) {
	if r.custom != nil {
		return r.decodeCustom(value)
	}
	if c := r.Convert; c != nil {
		obj, err := r.storage.decode(value)
		if err != nil {
			return nil, err
		}
		return c.FromStorage(obj)
	}
	obj := r.newObject()
	if err := decodeEnvelope(value, obj); err != nil {
		return nil, err
	}
	obj.GetObjectKind().SetGroupVersionKind(r.gvk)
	return obj, nil
}

type protoUnmarshaler interface{ Unmarshal([]byte) error }

func decodeEnvelope(value []byte, into runtime.Object) error {
	if len(value) < len(protoMagic) || string(value[:len(protoMagic)]) != string(protoMagic) {
		return errors.New("stored value is not a protobuf envelope")
	}
	var u runtime.Unknown
	if err := u.Unmarshal(value[len(protoMagic):]); err != nil {
		return err
	}
	m, ok := into.(protoUnmarshaler)
	if !ok {
		return fmt.Errorf("%T cannot be decoded from protobuf", into)
	}
	return m.Unmarshal(u.Raw)
}

// getStored reads an object from the store (a consistent read).
func (s *Server) getStored(ctx context.Context, res *resource, namespace, name string) (runtime.Object, store.KeyValue, error) {
	kv, err := s.store.Get(ctx, res.key(namespace, name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, kv, notFound(res, name)
	}
	if err != nil {
		return nil, kv, err
	}
	o, err := res.decodeStored(kv)
	if err != nil {
		return nil, kv, err
	}
	return o.obj, kv, nil
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request, req *request) error {
	res, in := req.res, req.info
	var obj runtime.Object
	var co *cachedObject
	switch rv := req.query.Get("resourceVersion"); rv {
	case "":
		o, _, err := s.getStored(r.Context(), res, in.Namespace, in.Name)
		if err != nil {
			return err
		}
		obj = o
	default:
		min, err := parseRV(rv)
		if err != nil {
			return err
		}
		co, err = s.cache.get(r.Context(), res.storageResource(), res.key(in.Namespace, in.Name), min)
		if err != nil {
			return err
		}
		co = res.view(co)
		if co == nil {
			return notFound(res, in.Name)
		}
		obj = co.obj
	}
	switch in.Subresource {
	case "scale":
		sc, err := res.scaleOf(obj)
		if err != nil {
			return err
		}
		s.writeObject(w, req, http.StatusOK, sc)
		return nil
	}
	return s.writeOne(w, req, http.StatusOK, obj, co)
}

// writeOne writes a single object, as itself, a Table or metadata.
func (s *Server) writeOne(w http.ResponseWriter, req *request, code int, obj runtime.Object, co *cachedObject) error {
	switch req.out.as {
	case "Table":
		t, err := s.table(req, []runtime.Object{obj}, "", "")
		if err != nil {
			return err
		}
		s.writeObject(w, req, code, t)
		return nil
	case "PartialObjectMetadata":
		s.writeObject(w, req, code, partialMetadata(obj, req.out.asVersion))
		return nil
	case "PartialObjectMetadataList":
		return notAcceptable("PartialObjectMetadataList is for lists")
	}
	if co != nil && req.out.mediaType == mediaJSON {
		b, err := s.objectJSON(co)
		if err != nil {
			return err
		}
		s.writeBytes(w, req, code, mediaJSON, b)
		return nil
	}
	s.writeObject(w, req, code, obj)
	return nil
}

func partialMetadata(obj runtime.Object, version string) *metav1.PartialObjectMetadata {
	acc, _ := meta.Accessor(obj)
	apiVersion, kind := obj.GetObjectKind().GroupVersionKind().ToAPIVersionAndKind()
	p := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}}
	if om, ok := acc.(metav1.ObjectMetaAccessor); ok {
		if m, ok := om.GetObjectMeta().(*metav1.ObjectMeta); ok {
			p.ObjectMeta = *m
		}
	} else if acc != nil {
		p.ObjectMeta = metav1.ObjectMeta{
			Name: acc.GetName(), GenerateName: acc.GetGenerateName(), Namespace: acc.GetNamespace(),
			UID: acc.GetUID(), ResourceVersion: acc.GetResourceVersion(), Generation: acc.GetGeneration(),
			CreationTimestamp: acc.GetCreationTimestamp(), DeletionTimestamp: acc.GetDeletionTimestamp(),
			DeletionGracePeriodSeconds: acc.GetDeletionGracePeriodSeconds(), Labels: acc.GetLabels(),
			Annotations: acc.GetAnnotations(), OwnerReferences: acc.GetOwnerReferences(),
			Finalizers: acc.GetFinalizers(), ManagedFields: acc.GetManagedFields(),
		}
	}
	p.TypeMeta = metav1.TypeMeta{APIVersion: "meta.k8s.io/" + version, Kind: "PartialObjectMetadata"}
	return p
}

func parseRV(rv string) (int64, error) {
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version: %q", rv))
	}
	return n, nil
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request, req *request) error {
	res, in := req.res, req.info
	body, dry, err := readWrite(r, req)
	if err != nil {
		return err
	}
	switch in.Subresource {
	case "binding":
		return s.handleBinding(w, r, req, body, dry)
	case "eviction":
		return s.handleEviction(w, r, req, body, dry)
	case "token":
		return s.handleTokenRequest(w, r, req, body, dry)
	}
	if in.Subresource != "" || in.Name != "" {
		return methodNotSupported(res, "create")
	}
	obj, err := s.decodeBody(r, req, body, res.gvk, res.newObject())
	if err != nil {
		return err
	}
	if res.Ephemeral {
		return s.handleReview(w, r, req, obj)
	}
	out, err := s.create(r.Context(), req, res, in.Namespace, obj, dry)
	if err != nil {
		return err
	}
	return s.writeOne(w, req, http.StatusCreated, out, nil)
}

// create runs the create path for obj in namespace: metadata, defaults,
// validation, admission and the store write (skipped for dry runs).
func (s *Server) create(ctx context.Context, req *request, res *resource, namespace string, obj runtime.Object, dry bool) (runtime.Object, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	if res.Namespaced {
		if acc.GetNamespace() == "" {
			acc.SetNamespace(namespace)
		} else if namespace != "" && acc.GetNamespace() != namespace {
			return nil, badRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	} else {
		acc.SetNamespace("")
	}
	if acc.GetName() == "" && acc.GetGenerateName() != "" {
		acc.SetName(acc.GetGenerateName() + utilrand.String(5))
	}
	acc.SetUID(types.UID(uuid.NewString()))
	acc.SetCreationTimestamp(metav1.NewTime(s.now().Truncate(1e9)))
	acc.SetResourceVersion("")
	acc.SetDeletionTimestamp(nil)
	acc.SetDeletionGracePeriodSeconds(nil)
	acc.SetSelfLink("")
	if hasSpec(obj) {
		acc.SetGeneration(1)
	} else {
		acc.SetGeneration(0)
	}
	prepareForCreate(res, obj)
	if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok {
		prepareCSRCreate(csr, req.user)
	}
	if res.Strategy.Default != nil {
		res.Strategy.Default(obj)
	}
	attrs := s.admissionFor(req, res, admission.Create, acc.GetNamespace(), acc.GetName(), obj, nil, dry)
	if err := s.mutate(ctx, req, attrs); err != nil {
		return nil, err
	}
	if !req.applied {
		if err := s.trackUpdate(req, res, obj, nil); err != nil {
			return nil, err
		}
	}
	if errs := s.validateCreate(res, obj, acc); len(errs) > 0 {
		return nil, invalid(res, acc.GetName(), errs)
	}
	if res.Namespaced {
		if err := s.checkNamespace(ctx, acc.GetNamespace()); err != nil {
			return nil, err
		}
	}
	if err := s.admit(ctx, req, attrs); err != nil {
		return nil, err
	}
	if dry {
		return obj, nil
	}
	undo, err := s.beforeWrite(ctx, res, acc.GetName(), obj, nil)
	if err != nil {
		return nil, err
	}
	value, err := s.encodeForStore(res, obj)
	if err != nil {
		undo()
		return nil, err
	}
	rev, err := s.store.Create(ctx, res.key(acc.GetNamespace(), acc.GetName()), value)
	if err != nil {
		undo()
		if errors.Is(err, store.ErrExists) {
			return nil, alreadyExists(res, acc.GetName())
		}
		return nil, err
	}
	acc.SetResourceVersion(strconv.FormatInt(rev, 10))
	return obj, nil
}

func (s *Server) validateCreate(res *resource, obj runtime.Object, acc metav1.Object) field.ErrorList {
	errs := apivalidation.ValidateObjectMetaAccessor(acc, res.Namespaced, nameValidator(res), field.NewPath("metadata"))
	if res.Strategy.Validate != nil {
		errs = append(errs, res.Strategy.Validate(obj)...)
	}
	return errs
}

func (s *Server) validateUpdate(res *resource, sub string, obj, old runtime.Object) field.ErrorList {
	acc, _ := meta.Accessor(obj)
	oldAcc, _ := meta.Accessor(old)
	errs := apivalidation.ValidateObjectMetaAccessor(acc, res.Namespaced, nameValidator(res), field.NewPath("metadata"))
	errs = append(errs, apivalidation.ValidateObjectMetaAccessorUpdate(acc, oldAcc, field.NewPath("metadata"))...)
	if c := res.custom; c != nil {
		// Custom resources ratchet: values unchanged since old stay valid.
		u, o := obj.(*unstructured.Unstructured).Object, old.(*unstructured.Unstructured).Object
		if sub == "status" {
			return append(errs, c.version.ValidateStatusUpdate(u, o)...)
		}
		return append(errs, c.version.ValidateUpdate(u, o)...)
	}
	if res.Strategy.Validate != nil {
		errs = append(errs, res.Strategy.Validate(obj)...)
	}
	if res.Strategy.ValidateUpdate != nil {
		errs = append(errs, res.Strategy.ValidateUpdate(obj, old)...)
	}
	return errs
}

// nameValidator is the metadata.name rule of a kind, as upstream.
func nameValidator(res *resource) apivalidation.ValidateNameFunc {
	switch {
	case res.Group == "" && (res.name() == "namespaces" || res.name() == "services"):
		if res.name() == "services" {
			return apivalidation.NameIsDNS1035Label
		}
		return apivalidation.ValidateNamespaceName
	case res.Group == "rbac.authorization.k8s.io":
		return func(name string, prefix bool) []string { return pathSegmentName(name, prefix) }
	}
	return apivalidation.NameIsDNSSubdomain
}

// pathSegmentName accepts any name usable as one URL path segment.
func pathSegmentName(name string, prefix bool) []string {
	if !prefix && (name == "." || name == "..") {
		return []string{fmt.Sprintf("may not be '%s'", name)}
	}
	for _, bad := range []string{"/", "%"} {
		for i := range len(name) {
			if string(name[i]) == bad {
				return []string{fmt.Sprintf("may not contain '%s'", bad)}
			}
		}
	}
	return nil
}

// checkNamespace refuses content in a missing or terminating namespace.
func (s *Server) checkNamespace(ctx context.Context, name string) error {
	nsRes := s.lookup(schema.GroupVersion{Version: "v1"}, "namespaces")
	kv, err := s.store.Get(ctx, nsRes.key("", name))
	if errors.Is(err, store.ErrNotFound) {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, name)
	}
	if err != nil {
		return err
	}
	o, err := nsRes.decodeStored(kv)
	if err != nil {
		return err
	}
	if acc, _ := meta.Accessor(o.obj); acc.GetDeletionTimestamp() != nil {
		err := apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, name,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", name))
		// As upstream, the cause tells controllers to stop trying.
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
			Type: corev1.NamespaceTerminatingCause, Message: err.ErrStatus.Message, Field: "metadata.namespace",
		})
		return err
	}
	return nil
}

func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request, req *request) error {
	res, in := req.res, req.info
	body, dry, err := readWrite(r, req)
	if err != nil {
		return err
	}
	if in.Subresource == "scale" {
		return s.updateScale(w, r, req, body, dry)
	}
	obj, err := s.decodeBody(r, req, body, res.gvk, res.newObject())
	if err != nil {
		return err
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return badRequest("%v", err)
	}
	if acc.GetName() != in.Name {
		return badRequest("the name of the object (%s) does not match the name on the URL (%s)", acc.GetName(), in.Name)
	}
	if res.Namespaced && acc.GetNamespace() != "" && acc.GetNamespace() != in.Namespace {
		return badRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	precondition := acc.GetResourceVersion()
	out, code, err := s.update(r.Context(), req, res, in.Namespace, in.Name, precondition, allowCreateOnUpdate(res), dry, func(old runtime.Object) (runtime.Object, error) {
		return obj.DeepCopyObject(), nil
	})
	if err != nil {
		return err
	}
	return s.writeOne(w, req, code, out, nil)
}

// errNoChange is returned by an update function that wants to write nothing.
var errNoChange = errors.New("no change")

// update applies change to the stored object and writes the result; with
// allowCreate, a missing object is created from change(nil). With a
// precondition resourceVersion the write fails with 409 Conflict if the
// object moved on; without one it retries on conflict, as upstream's
// GuaranteedUpdate. change gets a deep copy it may modify and returns the
// new object (whose metadata the server fixes up).
func (s *Server) update(ctx context.Context, req *request, res *resource, namespace, name, precondition string, allowCreate, dry bool, change func(old runtime.Object) (runtime.Object, error)) (runtime.Object, int, error) {
	key := res.key(namespace, name)
	warned := len(req.warnings)
	for attempt := 0; ; attempt++ {
		req.warnings = req.warnings[:warned] // a retry admits again
		old, kv, err := s.getStored(ctx, res, namespace, name)
		if err != nil {
			if apierrors.IsNotFound(err) && allowCreate && precondition == "" {
				obj, err := change(nil)
				if err != nil {
					return nil, 0, err
				}
				out, err := s.create(ctx, req, res, namespace, obj, dry)
				return out, http.StatusCreated, err
			}
			return nil, 0, err
		}
		if precondition != "" && precondition != strconv.FormatInt(kv.ModRevision, 10) {
			return nil, 0, conflict(res, name)
		}
		obj, err := change(old.DeepCopyObject())
		if errors.Is(err, errNoChange) {
			return old, http.StatusOK, nil
		}
		if err != nil {
			return nil, 0, err
		}
		if err := s.prepareUpdate(req, res, obj, old); err != nil {
			return nil, 0, err
		}
		var attrs *admission.Attributes
		if !req.checked {
			attrs = s.admissionFor(req, res, admission.Update, namespace, name, obj, old, dry)
		}
		if err := s.mutate(ctx, req, attrs); err != nil {
			return nil, 0, err
		}
		if acc, err := meta.Accessor(obj); err == nil && acc.GetResourceVersion() == "" {
			// An unconditional update is an update of the current version.
			acc.SetResourceVersion(strconv.FormatInt(kv.ModRevision, 10))
		}
		// (For a binding, the pod update rules' error message alone, a diff
		// of the specs, cost half the CPU of the binding.)
		if !req.checked {
			if errs := s.validateUpdate(res, req.info.Subresource, obj, old); len(errs) > 0 {
				return nil, 0, invalid(res, name, errs)
			}
		}
		if err := s.admit(ctx, req, attrs); err != nil {
			return nil, 0, err
		}
		acc, _ := meta.Accessor(obj)
		// An object being deleted whose last finalizer this update removes
		// is deleted now. A pod in graceful deletion has none to begin
		// with: its status updates keep it until its node deletes it.
		oldAcc, _ := meta.Accessor(old)
		if acc.GetDeletionTimestamp() != nil && hasFinalizers(old, oldAcc) && !hasFinalizers(obj, acc) && !dry {
			_, err := s.store.Delete(ctx, key, kv.ModRevision)
			if errors.Is(err, store.ErrConflict) && precondition == "" && attempt < 20 {
				continue
			}
			if err != nil {
				return nil, 0, storeErr(res, name, err)
			}
			s.afterWrite(ctx, res, nil, old)
			return obj, http.StatusOK, nil
		}
		if dry {
			return obj, http.StatusOK, nil
		}
		undo, err := s.beforeWrite(ctx, res, name, obj, old)
		if err != nil {
			return nil, 0, err
		}
		value, err := s.encodeForStore(res, obj)
		if err != nil {
			undo()
			return nil, 0, err
		}
		if string(value) == string(kv.Value) && !kv.Stale {
			// Nothing changed: no write, the resourceVersion stays, as
			// upstream. A value stored under an old encryption key is
			// rewritten, which is how keys are rotated.
			undo()
			return old, http.StatusOK, nil
		}
		rev, err := s.store.Update(ctx, key, value, kv.ModRevision)
		if err != nil {
			undo()
			if errors.Is(err, store.ErrConflict) && precondition == "" && attempt < 20 {
				continue
			}
			return nil, 0, storeErr(res, name, err)
		}
		s.afterWrite(ctx, res, obj, old)
		acc.SetResourceVersion(strconv.FormatInt(rev, 10))
		return obj, http.StatusOK, nil
	}
}

func storeErr(res *resource, name string, err error) error {
	switch {
	case errors.Is(err, store.ErrConflict):
		return conflict(res, name)
	case errors.Is(err, store.ErrNotFound):
		return notFound(res, name)
	}
	return err
}

// allowCreateOnUpdate lists the kinds upstream lets PUT create.
func allowCreateOnUpdate(res *resource) bool {
	switch res.GroupResource() {
	case schema.GroupResource{Resource: "endpoints"}, schema.GroupResource{Resource: "events"},
		schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}:
		return true
	}
	return false
}

// prepareUpdate makes obj a valid successor of old for the request's
// subresource: server-owned metadata kept, spec/status split, generation.
func (s *Server) prepareUpdate(req *request, res *resource, obj, old runtime.Object) error {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return badRequest("%v", err)
	}
	oldAcc, _ := meta.Accessor(old)
	sub := req.info.Subresource
	if sub == "finalize" {
		// A finalize write changes only a namespace's spec.finalizers.
		fresh := old.DeepCopyObject().(*corev1.Namespace)
		fresh.Spec.Finalizers = obj.(*corev1.Namespace).Spec.Finalizers
		fresh.ManagedFields = acc.GetManagedFields()
		reflectSet(obj, fresh)
		acc, _ = meta.Accessor(obj)
	} else if sub == "status" || sub == "approval" {
		// A status write changes only the status; an approval write only
		// a CSR's conditions (prepareCSRUpdate).
		fresh := old.DeepCopyObject()
		copyStatus(fresh, obj)
		freshAcc, _ := meta.Accessor(fresh)
		freshAcc.SetManagedFields(acc.GetManagedFields())
		reflectSet(obj, fresh)
		acc, _ = meta.Accessor(obj)
	} else if res.Status && sub != "binding" {
		// Binding sets the PodScheduled condition with spec.nodeName.
		copyStatus(obj, old)
	}
	if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok {
		if errs := prepareCSRUpdate(sub, csr, old.(*certificatesv1.CertificateSigningRequest), s.now()); len(errs) > 0 {
			return invalid(res, acc.GetName(), errs)
		}
	}
	acc.SetUID(oldAcc.GetUID())
	acc.SetCreationTimestamp(oldAcc.GetCreationTimestamp())
	acc.SetDeletionTimestamp(oldAcc.GetDeletionTimestamp())
	acc.SetDeletionGracePeriodSeconds(oldAcc.GetDeletionGracePeriodSeconds())
	acc.SetGeneration(oldAcc.GetGeneration())
	acc.SetSelfLink("")
	if res.Namespaced {
		acc.SetNamespace(oldAcc.GetNamespace())
	}
	if sub != "status" && res.Strategy.Default != nil {
		res.Strategy.Default(obj)
	}
	if specChanged(obj, old, res.Status) {
		acc.SetGeneration(oldAcc.GetGeneration() + 1)
	}
	if req.applied {
		return nil
	}
	return s.trackUpdate(req, res, obj, old)
}

// hasFinalizers reports whether obj still waits for finalizers: its
// metadata's, and for a namespace those in its spec.
func hasFinalizers(obj runtime.Object, acc metav1.Object) bool {
	if ns, ok := obj.(*corev1.Namespace); ok && len(ns.Spec.Finalizers) > 0 {
		return true
	}
	return len(acc.GetFinalizers()) > 0
}

// beforeWrite runs the kind's write hook, turning its field errors into 422.
func (s *Server) beforeWrite(ctx context.Context, res *resource, name string, obj, old runtime.Object) (undo func(), err error) {
	h := s.hooks[res.GroupResource()]
	if h == nil {
		return func() {}, nil
	}
	undo, errs, err := h.beforeWrite(ctx, obj, old)
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		undo()
		return nil, invalid(res, name, errs)
	}
	return undo, nil
}

func (s *Server) afterWrite(ctx context.Context, res *resource, obj, old runtime.Object) {
	if h := s.hooks[res.GroupResource()]; h != nil {
		h.afterWrite(ctx, obj, old)
	}
}
