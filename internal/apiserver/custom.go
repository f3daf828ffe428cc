package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/yaml"

	"berth.dev/berth/internal/crd"
	"berth.dev/berth/internal/openapi"
	"berth.dev/berth/internal/registry"
	"berth.dev/berth/internal/store"
)

// crdCleanupFinalizer holds a CustomResourceDefinition until its custom
// objects are gone, as upstream.
const crdCleanupFinalizer = "customresourcecleanup.apiextensions.k8s.io"

// customInfo is what serving a custom resource needs beyond a resource.
type customInfo struct {
	version *crd.Version
	// crd identifies the definition (uid and generation) this was built from.
	crdUID        string
	crdGeneration int64
}

// customResource builds the served resource of one version of an
// established CRD. storage is nil for the storage version.
func (s *Server) customResource(def *apiextensionsv1.CustomResourceDefinition, v apiextensionsv1.CustomResourceDefinitionVersion, storage *resource) (*resource, error) {
	cv, err := crd.NewVersion(def, v.Name)
	if err != nil {
		return nil, err
	}
	names := def.Status.AcceptedNames
	rr := registry.Resource{
		GroupVersionResource: schema.GroupVersionResource{Group: def.Spec.Group, Version: v.Name, Resource: names.Plural},
		Kind:                 names.Kind,
		Singular:             names.Singular,
		Namespaced:           def.Spec.Scope == apiextensionsv1.NamespaceScoped,
		ShortNames:           names.ShortNames,
		Categories:           names.Categories,
		Status:               cv.HasStatus(),
		Scale:                cv.ScaleSubresource() != nil,
		Strategy: registry.Strategy{
			Default:  func(obj runtime.Object) { cv.Default(obj.(*unstructured.Unstructured).Object) },
			Validate: func(obj runtime.Object) field.ErrorList { return cv.Validate(obj.(*unstructured.Unstructured).Object) },
			Columns:  cv.Columns(),
			Row: func(obj runtime.Object) []any {
				return cv.Row(obj.(*unstructured.Unstructured).Object, s.now())
			},
			Fields: func(obj runtime.Object) fields.Set { return cv.Fields(obj.(*unstructured.Unstructured).Object) },
		},
	}
	gv := rr.GroupVersion()
	return &resource{
		Resource: rr,
		gvk:      gv.WithKind(names.Kind),
		listGVK:  gv.WithKind(names.ListKind),
		prefix:   storageKeyPrefix(def.Spec.Group, names.Plural),
		scheme:   s.scheme,
		storage:  storage,
		custom:   &customInfo{version: cv, crdUID: string(def.UID), crdGeneration: def.Generation},
	}, nil
}

// decodeCustom decodes a stored custom object; the apiVersion becomes the
// resource's ("None" conversion: versions differ only in name).
func (r *resource) decodeCustom(value []byte) (runtime.Object, error) {
	u := &unstructured.Unstructured{}
	if err := utiljson.Unmarshal(value, &u.Object); err != nil {
		return nil, err
	}
	if u.Object == nil {
		return nil, errors.New("stored custom object is not a JSON object")
	}
	u.SetGroupVersionKind(r.gvk)
	return u, nil
}

// encodeCustom encodes a custom object for the store, in the storage
// version and without resourceVersion.
func (r *resource) encodeCustom(u *unstructured.Unstructured) ([]byte, error) {
	c := make(map[string]any, len(u.Object))
	for k, v := range u.Object {
		c[k] = v
	}
	if md, ok := c["metadata"].(map[string]any); ok {
		m := make(map[string]any, len(md))
		for k, v := range md {
			if k != "resourceVersion" {
				m[k] = v
			}
		}
		c["metadata"] = m
	}
	c["apiVersion"] = r.storageResource().gvk.GroupVersion().String()
	return json.Marshal(c)
}

// storageResource is the resource whose cache holds r's objects.
func (r *resource) storageResource() *resource {
	if r.storage != nil {
		return r.storage
	}
	return r
}

// view returns o as r serves it: itself, or a copy in r's version (for
// custom resources the same object under another apiVersion).
func (r *resource) view(o *cachedObject) *cachedObject {
	if o == nil || r.storage == nil {
		return o
	}
	var obj runtime.Object
	if c := r.Convert; c != nil {
		var err error
		if obj, err = c.FromStorage(o.obj); err != nil {
			// The stored object was valid in its own version; a conversion
			// that fails is a bug, shown as the storage version's object.
			return o
		}
	} else {
		obj = o.obj.DeepCopyObject()
	}
	obj.GetObjectKind().SetGroupVersionKind(r.gvk)
	return r.newCachedObject(o.key, obj, o.rev)
}

// decodeCustomBody decodes a request body into a custom object, pruning
// unknown fields: with fieldValidation=Strict they are an error, with Warn
// a warning, as upstream.
func (s *Server) decodeCustomBody(r *http.Request, req *request, body []byte) (runtime.Object, error) {
	mode, err := fieldValidation(req)
	if err != nil {
		return nil, err
	}
	res := req.res
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case mediaJSON, "":
	case mediaYAML:
		if body, err = yaml.YAMLToJSON(body); err != nil {
			return nil, badRequest("error converting YAML to JSON: %v", err)
		}
	default:
		return nil, unsupportedMediaType(ct)
	}
	u := &unstructured.Unstructured{}
	if err := utiljson.Unmarshal(body, &u.Object); err != nil || u.Object == nil {
		return nil, badRequest("the object provided is unrecognized (must be of type %s): %v", res.Kind, err)
	}
	if av, k := u.GetAPIVersion(), u.GetKind(); (av != "" && av != res.gvk.GroupVersion().String()) || (k != "" && k != res.Kind) {
		return nil, badRequest("the API version in the data (%s) does not match the expected API version (%s)", av, res.gvk.GroupVersion())
	}
	u.SetGroupVersionKind(res.gvk)
	if _, err := meta.Accessor(u); err != nil {
		return nil, badRequest("%v", err)
	}
	pruned, err := res.custom.version.Prune(u.Object)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	if len(pruned) > 0 && mode != "Ignore" {
		msgs := make([]string, len(pruned))
		for i, p := range pruned {
			msgs[i] = fmt.Sprintf("unknown field %q", p)
		}
		if mode == "Strict" {
			return nil, &strictError{gvk: res.gvk, err: fmt.Errorf("strict decoding error: %s", strings.Join(msgs, ", "))}
		}
		req.warnings = append(req.warnings, msgs...)
	}
	return u, nil
}

// serveCRDs turns CustomResourceDefinitions into served resources: it
// keeps their status (names accepted, established), serves the versions
// of established ones, and on deletion removes their objects before
// letting the definition go. It closes synced once the definitions that
// existed at start are served, and runs until ctx ends.
func (s *Server) serveCRDs(ctx context.Context, synced chan<- struct{}) {
	crdRes := s.lookup(apiextensionsv1.SchemeGroupVersion, "customresourcedefinitions")
	for ctx.Err() == nil {
		w, first, _, err := s.cache.register(ctx, crdRes, crdRes.prefix, watchStart{initial: true})
		if err != nil {
			sleepCtx(ctx, time.Second)
			continue
		}
		for _, ev := range first {
			s.syncCRD(ctx, ev)
		}
		if synced != nil {
			close(synced)
			synced = nil
		}
		func() {
			defer s.cache.unregister(w)
			for {
				select {
				case <-ctx.Done():
					return
				case <-w.done:
					return
				case ev := <-w.ch:
					s.syncCRD(ctx, ev)
				}
			}
		}()
	}
}

func (s *Server) syncCRD(ctx context.Context, ev cacheEvent) {
	def := ev.obj.obj.(*apiextensionsv1.CustomResourceDefinition)
	if ev.typ == watch.Deleted {
		s.unserveCRD(def.Name, "")
		return
	}
	if err := s.reconcileCRD(ctx, def); err != nil && ctx.Err() == nil {
		s.log.Error("serving CustomResourceDefinition failed", "crd", def.Name, "err", err)
	}
}

func (s *Server) reconcileCRD(ctx context.Context, def *apiextensionsv1.CustomResourceDefinition) error {
	crdRes := s.lookup(apiextensionsv1.SchemeGroupVersion, "customresourcedefinitions")
	if def.DeletionTimestamp != nil {
		s.unserveCRD(def.Name, "")
		return s.finalizeCRD(ctx, crdRes, def)
	}
	others, _, err := s.cache.snapshot(ctx, crdRes, crdRes.prefix, 0)
	if err != nil {
		return err
	}
	var defs []*apiextensionsv1.CustomResourceDefinition
	for _, o := range others {
		if d := o.obj.(*apiextensionsv1.CustomResourceDefinition); d.Name != def.Name {
			defs = append(defs, d)
		}
	}
	status := crd.Status(def, defs, s.now())
	if crdEstablished(&apiextensionsv1.CustomResourceDefinition{Status: status}) {
		// Serve before saying Established, so that a client that waited
		// for the condition finds the resource.
		next := def.DeepCopy()
		next.Status = status
		if err := s.serveCRD(ctx, next); err != nil {
			return err
		}
	}
	if !sameCRDStatus(status, def.Status) {
		req := &request{res: crdRes, info: requestInfo{Subresource: "status"}, user: systemUser}
		_, _, err := s.update(ctx, req, crdRes, "", def.Name, "", false, false, func(old runtime.Object) (runtime.Object, error) {
			if old == nil {
				return nil, notFound(crdRes, def.Name)
			}
			cur := old.(*apiextensionsv1.CustomResourceDefinition)
			cur.Status = crd.Status(cur, defs, s.now())
			return cur, nil
		})
		return err
	}
	return nil
}

// sameCRDStatus compares statuses ignoring condition timestamps.
func sameCRDStatus(a, b apiextensionsv1.CustomResourceDefinitionStatus) bool {
	strip := func(st apiextensionsv1.CustomResourceDefinitionStatus) apiextensionsv1.CustomResourceDefinitionStatus {
		st = *st.DeepCopy()
		for i := range st.Conditions {
			st.Conditions[i].LastTransitionTime = metav1.Time{}
		}
		return st
	}
	return apiequality.Semantic.DeepEqual(strip(a), strip(b))
}

func crdEstablished(def *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range def.Status.Conditions {
		if c.Type == apiextensionsv1.Established {
			return c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}

// serveCRD serves every served version of def, replacing what an older
// generation of it served.
func (s *Server) serveCRD(ctx context.Context, def *apiextensionsv1.CustomResourceDefinition) error {
	if s.servesCRD(def) {
		return nil
	}
	s.unserveCRD(def.Name, "")
	var storage apiextensionsv1.CustomResourceDefinitionVersion
	for _, v := range def.Spec.Versions {
		if v.Storage {
			storage = v
		}
	}
	owner, err := s.customResource(def, storage, nil)
	if err != nil {
		return err
	}
	served := []*resource{owner}
	for _, v := range def.Spec.Versions {
		if v.Served && v.Name != storage.Name {
			r, err := s.customResource(def, v, owner)
			if err != nil {
				return err
			}
			served = append(served, r)
		}
	}
	if !storage.Served {
		// The storage version still owns the cache but is not served.
		if err := s.cache.add(ctx, owner); err != nil {
			return err
		}
		s.mu.Lock()
		s.hiddenOwners[def.Name] = owner
		s.mu.Unlock()
		served = served[1:]
	}
	for _, r := range served {
		if err := s.serve(ctx, r); err != nil {
			return err
		}
		if err := s.publishSchema(r, def); err != nil {
			s.log.Warn("publishing custom resource schema failed", "crd", def.Name, "err", err)
		}
	}
	return nil
}

// servesCRD reports whether def's current generation is what is served.
func (s *Server) servesCRD(def *apiextensionsv1.CustomResourceDefinition) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range def.Spec.Versions {
		r := s.resources[schema.GroupVersion{Group: def.Spec.Group, Version: v.Name}][def.Status.AcceptedNames.Plural]
		if v.Served != (r != nil) {
			return false
		}
		if r != nil && (r.custom == nil || r.custom.crdUID != string(def.UID) || r.custom.crdGeneration != def.Generation) {
			return false
		}
	}
	return true
}

// unserveCRD stops serving every version of the named definition.
func (s *Server) unserveCRD(name, _ string) {
	s.mu.RLock()
	var gone []*resource
	for _, byName := range s.resources {
		for _, r := range byName {
			if r.custom != nil && r.name()+"."+r.Group == name {
				gone = append(gone, r)
			}
		}
	}
	owner := s.hiddenOwners[name]
	s.mu.RUnlock()
	// Alternate versions first: they read through the storage version.
	for _, r := range gone {
		if r.storage != nil {
			_ = s.unserve(r)
		}
	}
	for _, r := range gone {
		if r.storage == nil {
			_ = s.unserve(r)
		}
		if s.cfg.CustomSchemas != nil {
			s.cfg.CustomSchemas.RemoveCustomResource(r.gvk)
		}
	}
	if owner != nil {
		s.cache.remove(owner)
		s.mu.Lock()
		delete(s.hiddenOwners, name)
		s.mu.Unlock()
	}
}

// CustomSchemas publishes the schemas of custom resources in the OpenAPI
// documents (internal/openapi.Service).
type CustomSchemas interface {
	SetCustomResource(res registry.Resource, objSchema *spec.Schema) error
	RemoveCustomResource(gvk schema.GroupVersionKind)
}

func (s *Server) publishSchema(r *resource, def *apiextensionsv1.CustomResourceDefinition) error {
	if s.cfg.CustomSchemas == nil {
		return nil
	}
	var props *apiextensionsv1.JSONSchemaProps
	for _, v := range def.Spec.Versions {
		if v.Name == r.Version && v.Schema != nil {
			props = v.Schema.OpenAPIV3Schema
		}
	}
	sch, err := openapi.CRDSchema(props)
	if err != nil {
		return err
	}
	return s.cfg.CustomSchemas.SetCustomResource(r.Resource, sch)
}

// finalizeCRD deletes every custom object of a definition being deleted,
// then removes the cleanup finalizer so the definition goes.
func (s *Server) finalizeCRD(ctx context.Context, crdRes *resource, def *apiextensionsv1.CustomResourceDefinition) error {
	if !hasString(def.Finalizers, crdCleanupFinalizer) {
		return nil
	}
	prefix := storageKeyPrefix(def.Spec.Group, def.Spec.Names.Plural)
	for {
		page, err := s.store.List(ctx, prefix, store.ListOptions{Limit: 500})
		if err != nil {
			return err
		}
		for _, kv := range page.Items {
			if _, err := s.store.Delete(ctx, kv.Key, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if !page.More {
			break
		}
	}
	req := &request{res: crdRes, user: systemUser}
	_, _, err := s.update(ctx, req, crdRes, "", def.Name, "", false, false, func(old runtime.Object) (runtime.Object, error) {
		if old == nil {
			return nil, notFound(crdRes, def.Name)
		}
		cur := old.(*apiextensionsv1.CustomResourceDefinition)
		cur.Finalizers = removeString(cur.Finalizers, crdCleanupFinalizer)
		return cur, nil
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func removeString(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}
