package auth

import (
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Objects reads the API server's current objects (its watch cache) without
// a request: what authenticators, authorizers and admission plugins consult
// (Roles, ServiceAccounts, Namespaces, Secrets...). Objects it returns are
// shared and must not be modified. Before the server is ready, reads wait
// for the cache to load.
type Objects interface {
	// Get returns one object, or a NotFound API error.
	Get(gr schema.GroupResource, namespace, name string) (runtime.Object, error)
	// List returns the objects of gr in namespace ("" for all namespaces,
	// and for cluster-scoped resources) whose labels match sel (nil for all).
	List(gr schema.GroupResource, namespace string, sel labels.Selector) ([]runtime.Object, error)
}

// ObjectsUser is implemented by authenticators, authorizers and admission
// plugins that read objects: the API server hands them its Objects when it
// is built, before it serves any request.
type ObjectsUser interface {
	UseObjects(Objects)
}
