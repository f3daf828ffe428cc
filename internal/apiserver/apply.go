package apiserver

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/yaml"
)

// fieldManagers builds and keeps one managedfields.FieldManager per
// resource and subresource: the managedFields bookkeeping of every write
// and the server-side apply merge.
type fieldManagers struct {
	tc     managedfields.TypeConverter
	scheme *runtime.Scheme
	// convertor converts between the served versions of one kind,
	// including those the registry converts (managedFields entries name
	// the version each manager wrote).
	convertor runtime.ObjectConvertor

	mu sync.Mutex // guards byKey
	// byKey is keyed by resource and subresource ("", "status", "scale").
	byKey map[fieldManagerKey]*managedfields.FieldManager
}

type fieldManagerKey struct {
	res *resource
	sub string
}

// defaulter adapts a resource's Strategy.Default to runtime.ObjectDefaulter.
type defaulter struct{ res *resource }

func (d defaulter) Default(obj runtime.Object) {
	if d.res.Strategy.Default != nil {
		d.res.Strategy.Default(obj)
	}
}

func (f *fieldManagers) get(res *resource, sub string) (*managedfields.FieldManager, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := fieldManagerKey{res, sub}
	if fm := f.byKey[k]; fm != nil {
		return fm, nil
	}
	// As upstream's strategies: the main resource does not own status, the
	// status subresource owns only status.
	var reset map[fieldpath.APIVersion]fieldpath.Filter
	if res.Status {
		path := "status"
		if sub == "status" {
			path = "spec"
		}
		reset = map[fieldpath.APIVersion]fieldpath.Filter{
			fieldpath.APIVersion(res.groupVersion().String()): fieldpath.NewExcludeSetFilter(fieldpath.NewSet(fieldpath.MakePathOrDie(path))),
		}
	}
	var fm *managedfields.FieldManager
	var err error
	if res.custom != nil {
		// Custom resources are merged with a type converter deduced from
		// the objects themselves: lists are atomic.
		fm, err = managedfields.NewDefaultCRDFieldManager(managedfields.NewDeducedTypeConverter(), customConvertor{}, defaulter{res}, customConvertor{}, res.gvk, res.groupVersion(), sub, reset)
	} else {
		fm, err = managedfields.NewDefaultFieldManager(f.tc, f.convertor, defaulter{res}, f.scheme, res.gvk, res.groupVersion(), sub, reset)
	}
	if err != nil {
		return nil, fmt.Errorf("field manager for %s: %w", res.gvk, err)
	}
	if f.byKey == nil {
		f.byKey = map[fieldManagerKey]*managedfields.FieldManager{}
	}
	f.byKey[k] = fm
	return fm, nil
}

// customConvertor converts and creates custom objects for the field
// manager: versions of one CRD differ only in apiVersion ("None").
type customConvertor struct{}

func (customConvertor) New(gvk schema.GroupVersionKind) (runtime.Object, error) {
	return newUnstructured(gvk), nil
}

func (customConvertor) Convert(in, out, _ any) error {
	u, ok := in.(*unstructured.Unstructured)
	o, ok2 := out.(*unstructured.Unstructured)
	if !ok || !ok2 {
		return fmt.Errorf("cannot convert %T to %T", in, out)
	}
	gvk := o.GroupVersionKind()
	o.Object = runtime.DeepCopyJSON(u.Object)
	if !gvk.Empty() {
		o.SetGroupVersionKind(gvk)
	}
	return nil
}

func (customConvertor) ConvertToVersion(in runtime.Object, gv runtime.GroupVersioner) (runtime.Object, error) {
	u, ok := in.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("cannot convert %T", in)
	}
	target, ok := gv.KindForGroupVersionKinds([]schema.GroupVersionKind{u.GroupVersionKind()})
	if !ok {
		return nil, fmt.Errorf("no version of %s in %v", u.GroupVersionKind(), gv)
	}
	out := u.DeepCopy()
	out.SetGroupVersionKind(target)
	return out, nil
}

func (customConvertor) ConvertFieldLabel(_ schema.GroupVersionKind, label, value string) (string, string, error) {
	return label, value, nil
}

// managerName is the request's field manager: the fieldManager parameter,
// or the first word of the User-Agent, as upstream.
func managerName(req *request) string {
	if m := req.query.Get("fieldManager"); m != "" {
		return m
	}
	ua := req.userAgent
	if i := strings.Index(ua, "/"); i >= 0 {
		ua = ua[:i]
	}
	if len(ua) > 128 {
		ua = ua[:128]
	}
	return ua
}

// validateFieldManager refuses names upstream refuses.
func validateFieldManager(req *request) error {
	m := req.query.Get("fieldManager")
	if len(m) > 128 {
		return badRequest("fieldManager: Too long: may not be longer than 128")
	}
	for _, r := range m {
		if r < 0x20 || r > 0x7e {
			return badRequest("fieldManager: Invalid value: %q: may only contain printable characters", m)
		}
	}
	return nil
}

// trackUpdate records an Update operation of req's manager in obj's
// managedFields. live is the stored object, nil on create.
func (s *Server) trackUpdate(req *request, res *resource, obj, live runtime.Object) error {
	if s.fields == nil {
		return nil
	}
	if err := validateFieldManager(req); err != nil {
		return err
	}
	fm, err := s.fields.get(res, req.info.Subresource)
	if err != nil {
		return err
	}
	if live == nil {
		live = res.newObject()
		live.GetObjectKind().SetGroupVersionKind(res.gvk)
	}
	out := fm.UpdateNoErrors(live, obj, managerName(req))
	if out != obj {
		reflectSet(obj, out)
	}
	return nil
}

// handleApply serves server-side apply (application/apply-patch+yaml):
// the field manager merges the applied configuration into the live
// object, creating it if it does not exist, and refuses with 409 Conflict
// fields another manager owns unless force=true.
func (s *Server) handleApply(w http.ResponseWriter, r *http.Request, req *request) error {
	res, in := req.res, req.info
	if s.fields == nil {
		return unsupportedMediaType("application/apply-patch+yaml")
	}
	manager := req.query.Get("fieldManager")
	if manager == "" {
		return apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "PatchOptions"}, "",
			field.ErrorList{field.Required(field.NewPath("fieldManager"), "is required for apply patch")})
	}
	if err := validateFieldManager(req); err != nil {
		return err
	}
	force := false
	switch v := req.query.Get("force"); v {
	case "", "false":
	case "true":
		force = true
	default:
		return badRequest("force: invalid value %q", v)
	}
	if in.Subresource == "scale" {
		return methodNotSupported(res, "apply to scale")
	}
	body, dry, err := readWrite(r, req)
	if err != nil {
		return err
	}
	patch := &unstructured.Unstructured{}
	doc, err := yaml.YAMLToJSON(body)
	if err != nil {
		return badRequest("error decoding YAML: %v", err)
	}
	// utiljson keeps integers int64, as the typed and custom decoders expect.
	if err := utiljson.Unmarshal(doc, &patch.Object); err != nil {
		return badRequest("error decoding YAML: %v", err)
	}
	if patch.Object == nil {
		return badRequest("the apply patch is empty")
	}
	if gvk := patch.GroupVersionKind(); gvk != res.gvk {
		return badRequest("the API version in the data (%s) does not match the expected API version (%s) and kind (%s)", patch.GetAPIVersion(), res.gvk.GroupVersion(), res.Kind)
	}
	if patch.GetName() != "" && patch.GetName() != in.Name {
		return badRequest("the name of the object (%s) does not match the name on the URL (%s)", patch.GetName(), in.Name)
	}
	if res.Namespaced && patch.GetNamespace() != "" && patch.GetNamespace() != in.Namespace {
		return badRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	fm, err := s.fields.get(res, in.Subresource)
	if err != nil {
		return err
	}
	req.applied = true
	out, code, err := s.update(r.Context(), req, res, in.Namespace, in.Name, "", true, dry, func(old runtime.Object) (runtime.Object, error) {
		live := old
		if live == nil {
			live = res.newObject()
			live.GetObjectKind().SetGroupVersionKind(res.gvk)
			acc, _ := meta.Accessor(live)
			acc.SetName(in.Name)
			acc.SetNamespace(in.Namespace)
		}
		obj, err := fm.Apply(live, patch.DeepCopy(), manager, force)
		if err != nil {
			return nil, applyError(err)
		}
		if rv := patch.GetResourceVersion(); rv != "" && old != nil {
			oldAcc, _ := meta.Accessor(old)
			if rv != oldAcc.GetResourceVersion() {
				return nil, conflict(res, in.Name)
			}
		}
		return obj, nil
	})
	if err != nil {
		return err
	}
	return s.writeOne(w, req, code, out, nil)
}

// applyError passes API errors (409 apply conflicts) through and makes
// the rest 400s, as upstream does for malformed apply configurations.
func applyError(err error) error {
	if _, ok := err.(apierrors.APIStatus); ok {
		return err
	}
	return badRequest("%v", err)
}

// versionConvertor is the scheme's convertor plus the registry's
// conversions between a resource's versions (autoscaling/v1 and v2
// HorizontalPodAutoscalers, events.k8s.io/v1 and core/v1 Events), which
// the scheme does not know.
type versionConvertor struct {
	runtime.ObjectConvertor
	scheme *runtime.Scheme
	// convert holds, by source kind and target group version, how to
	// convert.
	convert map[versionPair]func(runtime.Object) (runtime.Object, error)
}

type versionPair struct {
	from schema.GroupVersionKind
	to   schema.GroupVersion
}

func newVersionConvertor(sch *runtime.Scheme, res []*resource) *versionConvertor {
	c := &versionConvertor{ObjectConvertor: sch, scheme: sch, convert: map[versionPair]func(runtime.Object) (runtime.Object, error){}}
	for _, r := range res {
		if r.Convert == nil || r.storage == nil {
			continue
		}
		c.convert[versionPair{r.gvk, r.storage.groupVersion()}] = r.Convert.ToStorage
		c.convert[versionPair{r.storage.gvk, r.groupVersion()}] = r.Convert.FromStorage
	}
	return c
}

// ConvertToVersion converts with the registry's conversion when there is
// one for in's kind and target, and with the scheme otherwise.
func (c *versionConvertor) ConvertToVersion(in runtime.Object, target runtime.GroupVersioner) (runtime.Object, error) {
	if gv, ok := target.(schema.GroupVersion); ok {
		if kinds, _, err := c.scheme.ObjectKinds(in); err == nil && len(kinds) > 0 {
			if convert := c.convert[versionPair{kinds[0], gv}]; convert != nil {
				out, err := convert(in)
				if err != nil {
					return nil, err
				}
				out.GetObjectKind().SetGroupVersionKind(gv.WithKind(kinds[0].Kind))
				return out, nil
			}
		}
	}
	return c.ObjectConvertor.ConvertToVersion(in, target)
}
