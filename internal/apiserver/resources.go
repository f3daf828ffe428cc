package apiserver

import (
	"fmt"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"berth.dev/berth/internal/crd"
	"berth.dev/berth/internal/registry"
)

// newScheme registers every built-in type berth serves, plus the meta types
// (Status, Table, WatchEvent, PartialObjectMetadata).
func newScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := metricsv1beta1.AddToScheme(s); err != nil {
		return nil, err
	}
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	metav1.AddToGroupVersion(s, metav1.SchemeGroupVersion)
	if err := metav1.AddMetaToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// resource is one served resource with everything the handlers need.
type resource struct {
	registry.Resource
	gvk     schema.GroupVersionKind
	listGVK schema.GroupVersionKind
	// prefix is the store key prefix, ending in "/".
	prefix string
	scheme *runtime.Scheme
	cache  *cache
	// storage is the resource whose objects this one serves in another
	// version; nil when it serves its own.
	storage *resource
	// custom is set for custom resources: unstructured objects, stored as JSON.
	custom *customInfo
	// metrics is set on the metrics.k8s.io resources, which are not
	// stored: Config.Metrics answers them.
	metrics bool
	// tokens is set on serviceaccounts when the server issues tokens
	// (the token subresource).
	tokens bool
}

func (r *resource) groupVersion() schema.GroupVersion { return r.GroupVersionResource.GroupVersion() }

// name is the resource's plural name ("deployments").
func (r *resource) name() string { return r.GroupVersionResource.Resource }

// key returns the store key of one object.
func (r *resource) key(namespace, name string) string {
	if r.Namespaced {
		return r.prefix + namespace + "/" + name
	}
	return r.prefix + name
}

// listPrefix is the store prefix for a list in namespace ("" means all).
func (r *resource) listPrefix(namespace string) string {
	if r.Namespaced && namespace != "" {
		return r.prefix + namespace + "/"
	}
	return r.prefix
}

func (r *resource) newObject() runtime.Object {
	if r.custom != nil {
		return newUnstructured(r.gvk)
	}
	obj, err := r.scheme.New(r.gvk)
	if err != nil {
		panic(fmt.Sprintf("resource %s has no type: %v", r.gvk, err)) // checked in newResources
	}
	return obj
}

func (r *resource) newList() runtime.Object {
	if r.custom != nil {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(r.listGVK)
		return l
	}
	obj, err := r.scheme.New(r.listGVK)
	if err != nil {
		panic(fmt.Sprintf("resource %s has no list type: %v", r.listGVK, err)) // checked in newResources
	}
	return obj
}

// storageKeyPrefix is where a group's resource lives in the store. It does
// not include the version: every version of a resource shares its objects.
func storageKeyPrefix(group, res string) string {
	if group == "" {
		group = "core"
	}
	return "/registry/" + group + "/" + res + "/"
}

// newResources builds the served resources from the registry table. A
// resource with a Conversion shares the objects of its storage resource,
// which must come before it in the table.
func newResources(s *runtime.Scheme, table []registry.Resource) ([]*resource, error) {
	var out []*resource
	byGVR := map[schema.GroupVersionResource]*resource{}
	for _, rr := range table {
		if byGVR[rr.GroupVersionResource] != nil {
			return nil, fmt.Errorf("resource %s listed twice", rr.GroupVersionResource)
		}
		gvk := rr.GroupVersion().WithKind(rr.Kind)
		r := &resource{
			Resource: rr,
			gvk:      gvk,
			listGVK:  rr.GroupVersion().WithKind(rr.Kind + "List"),
			prefix:   storageKeyPrefix(rr.Group, rr.GroupVersionResource.Resource),
			scheme:   s,
		}
		if gvk.GroupKind() == apiextensionsv1.Kind("CustomResourceDefinition") {
			r.Strategy.Default = func(obj runtime.Object) { crd.Default(obj.(*apiextensionsv1.CustomResourceDefinition)) }
			r.Strategy.Validate = func(obj runtime.Object) field.ErrorList {
				return crd.Validate(obj.(*apiextensionsv1.CustomResourceDefinition))
			}
			r.Strategy.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
				return crd.ValidateUpdate(obj.(*apiextensionsv1.CustomResourceDefinition), old.(*apiextensionsv1.CustomResourceDefinition))
			}
		}
		if !s.Recognizes(r.gvk) || !s.Recognizes(r.listGVK) && !r.Ephemeral {
			return nil, fmt.Errorf("resource %s: kind %s or its list is not in the scheme", rr.GroupVersionResource, gvk)
		}
		if c := rr.Convert; c != nil {
			if r.storage = byGVR[c.Storage]; r.storage == nil {
				return nil, fmt.Errorf("resource %s: storage %s is not listed before it", rr.GroupVersionResource, c.Storage)
			}
			r.prefix = r.storage.prefix
		}
		byGVR[rr.GroupVersionResource] = r
		out = append(out, r)
	}
	return out, nil
}

// codecs wraps the scheme's serializers.
func newCodecs(s *runtime.Scheme) serializer.CodecFactory {
	return serializer.NewCodecFactory(s, serializer.EnableStrict)
}

// verbs returns the verbs a resource supports.
func (r *resource) verbs() []string {
	if r.Verbs != nil {
		return r.Verbs
	}
	return []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
}

func (r *resource) supports(verb string) bool {
	for _, v := range r.verbs() {
		if v == verb {
			return true
		}
	}
	return false
}

// qualifiedName is resource.group as used in error messages ("deployments.apps").
func (r *resource) qualifiedName() string {
	if r.Group == "" {
		return r.name()
	}
	return r.name() + "." + r.Group
}

// apiPath is the URL path of the resource's group version.
func apiPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "/api/" + gv.Version
	}
	return strings.Join([]string{"/apis", gv.Group, gv.Version}, "/")
}
