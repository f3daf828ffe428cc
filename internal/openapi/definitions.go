package openapi

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	builder3util "k8s.io/kube-openapi/pkg/builder3/util"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/schemamutation"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

const (
	refPrefixV2 = "#/definitions/"
	refPrefixV3 = "#/components/schemas/"

	extGVK    = "x-kubernetes-group-version-kind"
	extAction = "x-kubernetes-action"
)

// Names of the apimachinery definitions the operations refer to.
const (
	defObjectMeta    = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
	defListMeta      = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
	defStatus        = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
	defDeleteOptions = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
	defPatch         = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
	defScale         = "io.k8s.api.autoscaling.v1.Scale"
)

// definitions is a set of named schemas, all of one OpenAPI version, and
// for each name the names its schema refers to.
type definitions struct {
	schemas map[string]*spec.Schema
	deps    map[string][]string
}

// builtinDefinitions returns the generated schemas of the built-in types in
// their OpenAPI v3 form (refs to #/components/schemas/, refs with siblings
// wrapped in allOf) or, when v3 is false, their OpenAPI v2 form. Every
// schema named in kinds carries those group version kinds in
// x-kubernetes-group-version-kind. Each call builds new schemas.
func builtinDefinitions(v3 bool, kinds map[string][]schema.GroupVersionKind) definitions {
	prefix := refPrefixV2
	if v3 {
		prefix = refPrefixV3
	}
	generated := GetOpenAPIDefinitions(func(name string) spec.Ref {
		return spec.MustCreateRef(prefix + common.EscapeJsonPointer(name))
	})
	d := definitions{
		schemas: make(map[string]*spec.Schema, len(generated)),
		deps:    make(map[string][]string, len(generated)),
	}
	for name, def := range generated {
		s := def.Schema
		if v3 {
			delete(s.Extensions, common.ExtensionV2Schema)
			s = *builder3util.WrapRefs(&s)
		} else if v2, ok := s.Extensions[common.ExtensionV2Schema].(spec.Schema); ok {
			s = v2
		}
		if gvks := kinds[name]; len(gvks) > 0 {
			s.AddExtension(extGVK, gvkExtension(gvks))
		}
		d.schemas[name] = &s
		d.deps[name] = def.Dependencies
	}
	return d
}

// closure returns the names of roots and of every definition they reach,
// sorted.
func (d definitions) closure(roots ...string) []string {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if seen[name] {
			return
		}
		if _, ok := d.schemas[name]; !ok {
			return
		}
		seen[name] = true
		for _, dep := range d.deps[name] {
			visit(dep)
		}
	}
	for _, r := range roots {
		visit(r)
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// kindsByDefinition maps each definition name to the group version kinds
// that the Go type behind it is registered as, as upstream's definition
// namer does: a kind is the name of its own version's type, while shared
// types such as DeleteOptions and WatchEvent list every group version.
func kindsByDefinition() (map[string][]schema.GroupVersionKind, error) {
	scheme := runtime.NewScheme()
	adders := []func(*runtime.Scheme) error{
		metav1.AddMetaToScheme,
		corev1.AddToScheme,
		appsv1.AddToScheme,
		batchv1.AddToScheme,
		networkingv1.AddToScheme,
		rbacv1.AddToScheme,
		storagev1.AddToScheme,
		coordinationv1.AddToScheme,
		discoveryv1.AddToScheme,
		eventsv1.AddToScheme,
		policyv1.AddToScheme,
		autoscalingv1.AddToScheme,
		autoscalingv2.AddToScheme,
		nodev1.AddToScheme,
		schedulingv1.AddToScheme,
		authenticationv1.AddToScheme,
		authorizationv1.AddToScheme,
		certificatesv1.AddToScheme,
		admissionregistrationv1.AddToScheme,
		apiextensionsv1.AddToScheme,
	}
	for _, add := range adders {
		if err := add(scheme); err != nil {
			return nil, fmt.Errorf("registering types: %w", err)
		}
	}
	type modelNamer interface{ OpenAPIModelName() string }
	kinds := map[string][]schema.GroupVersionKind{}
	for gvk, t := range scheme.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal {
			continue
		}
		n, ok := reflect.New(t).Interface().(modelNamer)
		if !ok {
			continue
		}
		name := n.OpenAPIModelName()
		kinds[name] = append(kinds[name], gvk)
	}
	for _, gvks := range kinds {
		slices.SortFunc(gvks, func(a, b schema.GroupVersionKind) int {
			return strings.Compare(a.Group+"/"+a.Version+"/"+a.Kind, b.Group+"/"+b.Version+"/"+b.Kind)
		})
	}
	return kinds, nil
}

// gvkExtension is the value of x-kubernetes-group-version-kind on a
// definition: a list of group, version, kind objects. It is built from
// plain maps and slices because that is what readers of the in-memory
// schemas (managedfields' type converter) expect, as after a JSON decode.
func gvkExtension(gvks []schema.GroupVersionKind) []any {
	out := make([]any, len(gvks))
	for i, gvk := range gvks {
		out[i] = gvkObject(gvk)
	}
	return out
}

// gvkObject is the value of x-kubernetes-group-version-kind on an operation.
func gvkObject(gvk schema.GroupVersionKind) map[string]any {
	return map[string]any{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}
}

// refsOf returns the definition names a schema refers to under prefix.
func refsOf(s *spec.Schema, prefix string) []string {
	var names []string
	w := schemamutation.Walker{
		SchemaCallback: schemamutation.SchemaCallBackNoop,
		RefCallback: func(ref *spec.Ref) *spec.Ref {
			if n, ok := strings.CutPrefix(ref.String(), prefix); ok {
				names = append(names, unescapeJSONPointer(n))
			}
			return ref
		},
	}
	w.WalkSchema(s)
	return names
}

func unescapeJSONPointer(p string) string {
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(p)
}
