package openapi

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/registry"
)

// route is one path and its operations, in a form both OpenAPI versions are
// written from.
type route struct {
	path   string
	params []param // parameters of every operation: path parameters and pretty
	ops    []operation
}

// operation is one HTTP method on a route.
type operation struct {
	method      string // lower case: get, put, post, delete, patch
	id          string
	description string
	action      string // x-kubernetes-action
	gvk         schema.GroupVersionKind
	tag         string
	params      []param
	body        string   // definition name of the request body, or ""
	consumes    []string // media types of the request body
	produces    []string
	responses   []response
}

type response struct {
	code        int
	description string
	def         string // definition name of the response body, or ""
}

type param struct {
	name        string
	in          string // path or query
	typ         string // string, integer or boolean
	description string
	required    bool
}

// Query parameters, named as upstream names them; kubectl looks for some of
// them by name (fieldValidation on PATCH).
var (
	paramPretty = param{name: "pretty", in: "query", typ: "string",
		description: "If 'true', the output is pretty printed."}
	paramDryRun = param{name: "dryRun", in: "query", typ: "string",
		description: "When present, the request is processed but nothing is persisted. Valid values are: - All: every dry run stage is processed."}
	paramFieldManager = param{name: "fieldManager", in: "query", typ: "string",
		description: "fieldManager names the actor making these changes. At most 128 printable characters. Required for apply patches."}
	paramFieldValidation = param{name: "fieldValidation", in: "query", typ: "string",
		description: "fieldValidation says how the server treats unknown and duplicate fields in the request object: Ignore drops them silently, Warn drops them and warns in the response's Warning header (the default), Strict fails the request."}
	paramForce = param{name: "force", in: "query", typ: "boolean",
		description: "Force makes an apply request take over fields that other managers own. Must be unset for patches that are not apply patches."}
	paramGracePeriod = param{name: "gracePeriodSeconds", in: "query", typ: "integer",
		description: "Seconds to wait before the object is deleted; zero deletes at once. Unset uses the kind's default."}
	paramIgnoreStoreReadError = param{name: "ignoreStoreReadErrorWithClusterBreakingPotential", in: "query", typ: "boolean",
		description: "If true, an object that cannot be read from storage (undecryptable or undecodable) is removed without finalizers or preconditions. Use only as a last resort."}
	paramOrphanDependents = param{name: "orphanDependents", in: "query", typ: "boolean",
		description: "Deprecated: use propagationPolicy. Whether dependents are orphaned."}
	paramPropagationPolicy = param{name: "propagationPolicy", in: "query", typ: "string",
		description: "How dependents are garbage collected: Orphan, Background or Foreground."}
	paramAllowWatchBookmarks = param{name: "allowWatchBookmarks", in: "query", typ: "boolean",
		description: "allowWatchBookmarks asks for BOOKMARK watch events; servers may ignore it."}
	paramContinue = param{name: "continue", in: "query", typ: "string",
		description: "The continue token of a previous list response with the same query, to fetch the next page."}
	paramFieldSelector = param{name: "fieldSelector", in: "query", typ: "string",
		description: "A selector on the objects' fields. Defaults to everything."}
	paramLabelSelector = param{name: "labelSelector", in: "query", typ: "string",
		description: "A selector on the objects' labels. Defaults to everything."}
	paramLimit = param{name: "limit", in: "query", typ: "integer",
		description: "The most items to return; when more exist, the list's continue field is set."}
	paramResourceVersion = param{name: "resourceVersion", in: "query", typ: "string",
		description: "Constrains the resource versions the request may be served from. Defaults to unset."}
	paramResourceVersionMatch = param{name: "resourceVersionMatch", in: "query", typ: "string",
		description: "How resourceVersion applies to a list: Exact or NotOlderThan. Defaults to unset."}
	paramSendInitialEvents = param{name: "sendInitialEvents", in: "query", typ: "boolean",
		description: "With watch=true, starts the watch with synthetic ADDED events for the current state, followed by a bookmark."}
	paramTimeoutSeconds = param{name: "timeoutSeconds", in: "query", typ: "integer",
		description: "Timeout for the list or watch call, regardless of activity."}
	paramWatch = param{name: "watch", in: "query", typ: "boolean",
		description: "Watch for changes to the described resources and return them as a stream of add, update and remove notifications."}
)

// Media types of request and response bodies.
const (
	mediaJSON       = "application/json"
	mediaYAML       = "application/yaml"
	mediaProtobuf   = "application/vnd.kubernetes.protobuf"
	mediaJSONPatch  = "application/json-patch+json"
	mediaMergePatch = "application/merge-patch+json"
	mediaSMPatch    = "application/strategic-merge-patch+json"
	mediaApplyPatch = "application/apply-patch+yaml"
	mediaAny        = "*/*"
)

// resourceDoc is what the routes of one resource need beyond the resource
// table: the definition names of its kind and list kind, and whether it is
// a custom resource (JSON and YAML only, no strategic merge patch).
type resourceDoc struct {
	registry.Resource
	kindDef string
	listDef string
	custom  bool
}

// routes returns the paths of one resource: the collection (list, watch,
// create, deletecollection), the collection across namespaces for
// namespaced resources (list), the item (get, replace, patch, delete), and
// the status and scale subresources when the resource has them. Verbs the
// resource does not support have no operation.
func routes(rd resourceDoc) []route {
	r := rd.Resource
	has := func(verb string) bool { return r.Verbs == nil || slices.Contains(r.Verbs, verb) }
	gv := r.GroupVersion()
	gvk := gv.WithKind(r.Kind)
	opGV := operationGroupVersion(gv)
	tag := operationTag(gv)
	scope := ""
	prefix := "/apis/" + gv.Group + "/" + gv.Version
	if gv.Group == "" {
		prefix = "/api/" + gv.Version
	}
	collection := prefix + "/" + r.Resource
	var base []param
	if r.Namespaced {
		scope = "Namespaced"
		collection = prefix + "/namespaces/{namespace}/" + r.Resource
		base = []param{{name: "namespace", in: "path", typ: "string", required: true, description: "The namespace of the objects."}}
	}
	nameParam := param{name: "name", in: "path", typ: "string", required: true, description: "The name of the " + r.Kind + "."}
	produces := []string{mediaJSON, mediaYAML, mediaProtobuf}
	patchTypes := []string{mediaJSONPatch, mediaMergePatch, mediaSMPatch, mediaApplyPatch}
	if rd.custom {
		produces = []string{mediaJSON, mediaYAML}
		patchTypes = []string{mediaJSONPatch, mediaMergePatch, mediaApplyPatch}
	}
	listProduces := append(slices.Clone(produces), mediaJSON+";stream=watch")
	if !rd.custom {
		listProduces = append(listProduces, mediaProtobuf+";stream=watch")
	}
	listParams := []param{paramContinue, paramFieldSelector, paramLabelSelector, paramLimit,
		paramResourceVersion, paramResourceVersionMatch, paramTimeoutSeconds}
	if has("watch") {
		listParams = append(listParams, paramAllowWatchBookmarks, paramSendInitialEvents, paramWatch)
	}
	sortParams(listParams)
	deleteParams := []param{paramDryRun, paramGracePeriod, paramIgnoreStoreReadError, paramOrphanDependents, paramPropagationPolicy}
	writeParams := []param{paramDryRun, paramFieldManager, paramFieldValidation}
	patchParams := []param{paramDryRun, paramFieldManager, paramFieldValidation, paramForce}
	ok := func(def string, codes ...int) []response {
		var out []response
		for _, c := range codes {
			out = append(out, response{code: c, description: statusText(c), def: def})
		}
		return append(out, response{code: 401, description: statusText(401)})
	}
	op := func(method, verb, action, suffix, description string) operation {
		return operation{
			method:      method,
			id:          verb + opGV + scope + r.Kind + suffix,
			description: description,
			action:      action,
			gvk:         gvk,
			tag:         tag,
			produces:    produces,
		}
	}

	var out []route
	coll := route{path: collection, params: append(slices.Clone(base), paramPretty)}
	if has("list") {
		o := op("get", "list", "list", "", "list or watch objects of kind "+r.Kind)
		o.params, o.produces, o.responses = listParams, listProduces, ok(rd.listDef, 200)
		coll.ops = append(coll.ops, o)
	}
	if has("create") {
		o := op("post", "create", "post", "", "create a "+r.Kind)
		o.params, o.body, o.consumes, o.responses = writeParams, rd.kindDef, []string{mediaAny}, ok(rd.kindDef, 200, 201, 202)
		coll.ops = append(coll.ops, o)
	}
	if has("deletecollection") {
		o := op("delete", "delete", "deletecollection", "", "delete collection of "+r.Kind)
		o.id = "delete" + opGV + "Collection" + scope + r.Kind
		o.params = append(slices.Clone(deleteParams), listParams...)
		sortParams(o.params)
		o.body, o.consumes, o.responses = defDeleteOptions, []string{mediaAny}, ok(defStatus, 200)
		coll.ops = append(coll.ops, o)
	}
	if len(coll.ops) > 0 {
		out = append(out, coll)
	}
	if r.Namespaced && has("list") {
		o := op("get", "list", "list", "ForAllNamespaces", "list or watch objects of kind "+r.Kind)
		o.id = "list" + opGV + r.Kind + "ForAllNamespaces"
		o.params, o.produces, o.responses = listParams, listProduces, ok(rd.listDef, 200)
		out = append(out, route{path: prefix + "/" + r.Resource, params: []param{paramPretty}, ops: []operation{o}})
	}

	itemParams := append([]param{nameParam}, base...)
	itemParams = append(itemParams, paramPretty)
	item := route{path: collection + "/{name}", params: itemParams}
	if has("get") {
		o := op("get", "read", "get", "", "read the specified "+r.Kind)
		o.responses = ok(rd.kindDef, 200)
		item.ops = append(item.ops, o)
	}
	if has("update") {
		o := op("put", "replace", "put", "", "replace the specified "+r.Kind)
		o.params, o.body, o.consumes, o.responses = writeParams, rd.kindDef, []string{mediaAny}, ok(rd.kindDef, 200, 201)
		item.ops = append(item.ops, o)
	}
	if has("patch") {
		o := op("patch", "patch", "patch", "", "partially update the specified "+r.Kind)
		o.params, o.body, o.consumes, o.responses = patchParams, defPatch, patchTypes, ok(rd.kindDef, 200, 201)
		item.ops = append(item.ops, o)
	}
	if has("delete") {
		o := op("delete", "delete", "delete", "", "delete a "+r.Kind)
		o.params, o.body, o.consumes, o.responses = deleteParams, defDeleteOptions, []string{mediaAny}, ok(defStatus, 200, 202)
		item.ops = append(item.ops, o)
	}
	if len(item.ops) > 0 {
		out = append(out, item)
	}

	sub := func(name, suffix, def string, kind schema.GroupVersionKind) route {
		rt := route{path: collection + "/{name}/" + name, params: itemParams}
		get := op("get", "read", "get", suffix, "read "+name+" of the specified "+r.Kind)
		get.gvk, get.responses = kind, ok(def, 200)
		put := op("put", "replace", "put", suffix, "replace "+name+" of the specified "+r.Kind)
		put.gvk, put.params, put.body, put.consumes, put.responses = kind, writeParams, def, []string{mediaAny}, ok(def, 200, 201)
		patch := op("patch", "patch", "patch", suffix, "partially update "+name+" of the specified "+r.Kind)
		patch.gvk, patch.params, patch.body, patch.consumes, patch.responses = kind, patchParams, defPatch, patchTypes, ok(def, 200, 201)
		rt.ops = []operation{get, put, patch}
		return rt
	}
	if r.Status {
		out = append(out, sub("status", "Status", rd.kindDef, gvk))
	}
	if r.Group == "certificates.k8s.io" && r.Resource == "certificatesigningrequests" {
		out = append(out, sub("approval", "Approval", rd.kindDef, gvk))
	}
	if r.Scale {
		out = append(out, sub("scale", "Scale", defScale, schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}))
	}
	return out
}

func sortParams(ps []param) {
	slices.SortFunc(ps, func(a, b param) int { return strings.Compare(a.name, b.name) })
}

func statusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 401:
		return "Unauthorized"
	}
	return ""
}

// operationGroupVersion is the group version as upstream spells it inside
// operation IDs: CoreV1, AppsV1, RbacAuthorizationV1, StableExampleComV1.
func operationGroupVersion(gv schema.GroupVersion) string {
	return upperFirst(groupWord(gv.Group)) + upperFirst(gv.Version)
}

// operationTag is the group version as upstream spells it in tags:
// core_v1, apps_v1, rbacAuthorization_v1.
func operationTag(gv schema.GroupVersion) string {
	return groupWord(gv.Group) + "_" + gv.Version
}

// groupWord is the group in lower camel case without ".k8s.io"; the core
// group is "core".
func groupWord(group string) string {
	if group == "" {
		return "core"
	}
	parts := strings.Split(strings.TrimSuffix(group, ".k8s.io"), ".")
	for i := 1; i < len(parts); i++ {
		parts[i] = upperFirst(parts[i])
	}
	return strings.Join(parts, "")
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
