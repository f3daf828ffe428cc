package openapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	openapiv3 "github.com/google/gnostic-models/openapiv3"
	"github.com/munnerz/goautoneg"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"berth.dev/berth/internal/registry"
	"berth.dev/berth/internal/version"
)

// Media types of the OpenAPI documents. Clients ask for the protobuf forms
// by either spelling; the answer uses the first.
const (
	MediaV2Protobuf           = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
	MediaV2ProtobufDeprecated = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
	MediaV3Protobuf           = "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"
	MediaV3ProtobufDeprecated = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"
)

// immutableMaxAge is how long a client may cache a v3 document fetched by
// its hash: a year, as upstream's Expires header says.
const immutableMaxAge = 365 * 24 * time.Hour

// Config configures a Service.
type Config struct {
	// Resources are the built-in resources to describe, usually
	// registry.Builtin(). Each one's kind and list kind must have a
	// generated definition.
	Resources []registry.Resource
}

// Service serves the OpenAPI v2 and v3 documents of the built-in resources
// and of the custom resources set on it, and gives their schemas to
// server-side apply. It is safe for concurrent use.
//
// Each document is built and encoded (JSON, protobuf, gzip) once, on first
// request, and kept; setting or removing a custom resource replaces only
// the v2 document, the v3 index and the v3 document of its group version.
type Service struct {
	version string
	kinds   map[string][]schema.GroupVersionKind // definition name → kinds; read only
	builtin definitions                          // v3 schemas of the built-in types; read only
	// groups maps a group version path (api/v1, apis/apps/v1) to its
	// built-in resources; read only.
	groups map[string][]resourceDoc

	mu sync.Mutex // guards the fields below
	// custom holds the custom resources by kind.
	custom map[schema.GroupVersionKind]customResource
	// docs holds the v3 document of every group version path. A document
	// is never changed; a change replaces it.
	docs  map[string]*document
	v2    *document
	index *document
}

// customResource is one custom resource as documents show it.
type customResource struct {
	res        resourceDoc
	obj, list  *spec.Schema // OpenAPI v3 forms
	objV2      *spec.Schema
	listV2     *spec.Schema
	deps       []string // definitions obj refers to
	groupPath  string
	definition string
}

// New builds the definitions of the built-in types and the routes of
// cfg.Resources. Documents are encoded on first request.
func New(cfg Config) (*Service, error) {
	kinds, err := kindsByDefinition()
	if err != nil {
		return nil, err
	}
	byKind := map[schema.GroupVersionKind]string{}
	for name, gvks := range kinds {
		for _, gvk := range gvks {
			byKind[gvk] = name
		}
	}
	s := &Service{
		version: fmt.Sprintf("v%s.%s.0", version.Major, version.Minor),
		kinds:   kinds,
		builtin: builtinDefinitions(true, kinds),
		groups:  map[string][]resourceDoc{},
		custom:  map[schema.GroupVersionKind]customResource{},
		docs:    map[string]*document{},
	}
	for _, r := range cfg.Resources {
		gvk := r.GroupVersion().WithKind(r.Kind)
		rd := resourceDoc{Resource: r, kindDef: byKind[gvk], listDef: byKind[gvk.GroupVersion().WithKind(r.Kind+"List")]}
		defs := []string{rd.kindDef, rd.listDef}
		if r.Ephemeral { // reviews have no lists
			defs = defs[:1]
		}
		for _, def := range defs {
			if _, ok := s.builtin.schemas[def]; def == "" || !ok {
				return nil, fmt.Errorf("resource %s: no OpenAPI definition for %s or its list", r.GroupVersionResource, gvk)
			}
		}
		key := groupPath(r.GroupVersion())
		s.groups[key] = append(s.groups[key], rd)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for key := range s.groups {
		s.docs[key] = s.groupDocumentLocked(key)
	}
	s.v2 = s.v2DocumentLocked()
	s.index = s.indexLocked()
	return s, nil
}

// groupPath is the path of a group version under /openapi/v3/.
func groupPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

// Models returns the OpenAPI v3 schemas of every built-in type and of
// every custom resource set now, keyed by definition name, each kind
// marked with x-kubernetes-group-version-kind: the input of
// k8s.io/apimachinery/pkg/util/managedfields.NewTypeConverter. The map is
// new on each call; the schemas are shared and must not be modified.
func (s *Service) Models() map[string]*spec.Schema {
	s.mu.Lock()
	custom := s.customLocked()
	s.mu.Unlock()
	return withCustom(s.builtin, custom, false).schemas
}

// customLocked returns the custom resources, sorted by definition name.
func (s *Service) customLocked() []customResource {
	out := slices.Collect(maps.Values(s.custom))
	slices.SortFunc(out, func(a, b customResource) int { return strings.Compare(a.definition, b.definition) })
	return out
}

// withCustom returns the definitions d together with those of the custom
// resources, in their v3 form or, when v2 is set, their v2 form. d's maps
// are not modified.
func withCustom(d definitions, custom []customResource, v2 bool) definitions {
	out := definitions{schemas: maps.Clone(d.schemas), deps: maps.Clone(d.deps)}
	for _, c := range custom {
		obj, list := c.obj, c.list
		if v2 {
			obj, list = c.objV2, c.listV2
		}
		out.schemas[c.definition] = obj
		out.deps[c.definition] = c.deps
		out.schemas[c.definition+"List"] = list
		out.deps[c.definition+"List"] = []string{c.definition, defListMeta}
	}
	return out
}

// resourcesLocked returns the resources of one group version path,
// built-in ones first, custom ones sorted by resource name.
func (s *Service) resourcesLocked(key string) []resourceDoc {
	out := slices.Clone(s.groups[key])
	var custom []resourceDoc
	for _, c := range s.custom {
		if c.groupPath == key {
			custom = append(custom, c.res)
		}
	}
	slices.SortFunc(custom, func(a, b resourceDoc) int { return strings.Compare(a.Resource.Resource, b.Resource.Resource) })
	return append(out, custom...)
}

// groupDocumentLocked makes the v3 document of one group version path
// from the current resources. It is built on first use.
func (s *Service) groupDocumentLocked(key string) *document {
	resources, custom := s.resourcesLocked(key), s.customLocked()
	builtin, version := s.builtin, s.version
	return &document{
		build: func() ([]byte, error) {
			defs := withCustom(builtin, custom, false)
			rs, roots := allRoutes(resources)
			doc := v3Document(version, rs, defs.schemas, defs.closure(roots...))
			return doc.MarshalJSON()
		},
		toProto: func(b []byte) ([]byte, error) {
			d, err := openapiv3.ParseDocument(b)
			if err != nil {
				return nil, err
			}
			return proto.Marshal(d)
		},
	}
}

// v2DocumentLocked makes the v2 document of every resource. Its
// definitions are generated anew when it is built and dropped after
// encoding, so the v2 schemas are not kept in memory.
func (s *Service) v2DocumentLocked() *document {
	var resources []resourceDoc
	for _, key := range slices.Sorted(maps.Keys(s.docs)) {
		resources = append(resources, s.resourcesLocked(key)...)
	}
	custom := s.customLocked()
	kinds, version := s.kinds, s.version
	return &document{
		build: func() ([]byte, error) {
			defs := withCustom(builtinDefinitions(false, kinds), custom, true)
			rs, roots := allRoutes(resources)
			doc := v2Document(version, rs, defs.schemas, defs.closure(roots...))
			return doc.MarshalJSON()
		},
		toProto: func(b []byte) ([]byte, error) {
			d, err := openapiv2.ParseDocument(b)
			if err != nil {
				return nil, err
			}
			return proto.Marshal(d)
		},
	}
}

// v3Index is the body of GET /openapi/v3.
type v3Index struct {
	Paths map[string]v3IndexEntry `json:"paths"`
}

type v3IndexEntry struct {
	ServerRelativeURL string `json:"serverRelativeURL"`
}

// indexLocked makes the v3 index of the current documents. Building it
// builds every group version document, for their hashes.
func (s *Service) indexLocked() *document {
	docs := maps.Clone(s.docs)
	return &document{
		build: func() ([]byte, error) {
			idx := v3Index{Paths: map[string]v3IndexEntry{}}
			for key, d := range docs {
				_, etag, err := d.JSON()
				if err != nil {
					return nil, fmt.Errorf("building %s: %w", key, err)
				}
				idx.Paths[key] = v3IndexEntry{ServerRelativeURL: hashedURL(key, etag)}
			}
			return json.Marshal(idx)
		},
	}
}

func hashedURL(key, etag string) string {
	return "/openapi/v3/" + key + "?" + url.Values{"hash": {etag}}.Encode()
}

// allRoutes returns the routes of the resources and the definitions their
// operations name.
func allRoutes(resources []resourceDoc) ([]route, []string) {
	var rs []route
	var roots []string
	for _, rd := range resources {
		for _, rt := range routes(rd) {
			rs = append(rs, rt)
			for _, o := range rt.ops {
				if o.body != "" {
					roots = append(roots, o.body)
				}
				for _, r := range o.responses {
					if r.def != "" {
						roots = append(roots, r.def)
					}
				}
			}
		}
	}
	return rs, roots
}

// document is one OpenAPI document, encoded on first use and then kept.
type document struct {
	// build makes the JSON encoding; it is dropped once used, with what
	// it holds.
	build   func() ([]byte, error)
	toProto func([]byte) ([]byte, error)

	json      encoding
	proto     encoding
	jsonGzip  encoding
	protoGzip encoding
}

// encoding is one encoding of a document, made once.
type encoding struct {
	once sync.Once
	data []byte
	etag string // of the JSON encoding; set on json only
	err  error
}

// JSON returns the document's JSON encoding and its hash, the upper-case
// hex SHA-512 of that encoding, which serves as ETag and in the v3 index.
func (d *document) JSON() ([]byte, string, error) {
	d.json.once.Do(func() {
		d.json.data, d.json.err = d.build()
		d.build = nil
		if d.json.err == nil {
			d.json.etag = fmt.Sprintf("%X", sha512.Sum512(d.json.data))
		}
	})
	return d.json.data, d.json.etag, d.json.err
}

// encoded returns the document in protobuf or JSON, gzipped or not, with
// the ETag of its content (the same for every encoding, as upstream).
func (d *document) encoded(protobuf, gzipped bool) ([]byte, string, error) {
	data, etag, err := d.JSON()
	if err != nil {
		return nil, "", err
	}
	if protobuf {
		d.proto.once.Do(func() { d.proto.data, d.proto.err = d.toProto(data) })
		if d.proto.err != nil {
			return nil, "", fmt.Errorf("encoding protobuf: %w", d.proto.err)
		}
		data = d.proto.data
	}
	if !gzipped {
		return data, etag, nil
	}
	gz := &d.jsonGzip
	if protobuf {
		gz = &d.protoGzip
	}
	gz.once.Do(func() { gz.data, gz.err = gzipBytes(data) })
	return gz.data, etag, gz.err
}

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	return buf.Bytes(), nil
}

// ServeHTTP answers GET and HEAD for /openapi/v2, /openapi/v3 and
// /openapi/v3/<api/v1 | apis/<group>/<version>>; anything else is 404.
// Mount it at /openapi/ (and /openapi/v2, /openapi/v3 if the mux needs
// exact paths).
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	v2, index := s.v2, s.index
	s.mu.Unlock()
	switch p := r.URL.Path; {
	case p == "/openapi/v2":
		s.serveDocument(w, r, v2, MediaV2Protobuf, MediaV2ProtobufDeprecated, "")
	case p == "/openapi/v3" || p == "/openapi/v3/":
		s.serveDocument(w, r, index, "", "", "")
	case strings.HasPrefix(p, "/openapi/v3/"):
		key := strings.TrimPrefix(p, "/openapi/v3/")
		s.mu.Lock()
		d := s.docs[key]
		s.mu.Unlock()
		if d == nil {
			http.NotFound(w, r)
			return
		}
		s.serveDocument(w, r, d, MediaV3Protobuf, MediaV3ProtobufDeprecated, key)
	default:
		http.NotFound(w, r)
	}
}

// serveDocument writes d in the encoding the request accepts: JSON, or
// protobuf when protoMedia is set and asked for. When groupKey is set, a
// request naming the current hash may be cached forever and one naming an
// old hash is redirected to the current one, as upstream does.
func (s *Service) serveDocument(w http.ResponseWriter, r *http.Request, d *document, protoMedia, protoMediaOld, groupKey string) {
	w.Header().Add("Vary", "Accept")
	protobuf, ok := negotiate(r.Header.Get("Accept"), protoMedia, protoMediaOld)
	if !ok {
		http.Error(w, "only application/json and the OpenAPI protobuf media types are served", http.StatusNotAcceptable)
		return
	}
	gzipped := acceptsGzip(r.Header.Get("Accept-Encoding"))
	data, etag, err := d.encoded(protobuf, gzipped)
	if err != nil {
		http.Error(w, fmt.Sprintf("building OpenAPI document: %v", err), http.StatusInternalServerError)
		return
	}
	if groupKey != "" {
		if hash := r.URL.Query().Get("hash"); hash != "" {
			if hash != etag {
				http.Redirect(w, r, hashedURL(groupKey, etag), http.StatusMovedPermanently)
				return
			}
			w.Header().Set("Cache-Control", "public, immutable, max-age="+strconv.Itoa(int(immutableMaxAge.Seconds())))
		}
	}
	if protobuf {
		w.Header().Set("Content-Type", protoMedia)
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Add("Vary", "Accept-Encoding")
	if gzipped {
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.Header().Set("ETag", strconv.Quote(etag))
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// negotiate picks JSON or protobuf from an Accept header, the first
// acceptable in the client's order of preference. An empty header accepts
// anything; protobuf is offered only when protoMedia is set.
func negotiate(accept, protoMedia, protoMediaOld string) (protobuf, ok bool) {
	if accept == "" {
		accept = "*/*"
	}
	offers := []string{"application/json"}
	if protoMedia != "" {
		offers = append(offers, protoMedia, protoMediaOld)
	}
	for _, clause := range goautoneg.ParseAccept(accept) {
		if clause.Q <= 0 {
			continue
		}
		for i, offer := range offers {
			typ, sub, _ := strings.Cut(offer, "/")
			if (clause.Type == typ || clause.Type == "*") && (clause.SubType == sub || clause.SubType == "*") {
				return i > 0, true
			}
		}
	}
	return false, false
}

// acceptsGzip says whether an Accept-Encoding header allows gzip.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q, found := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if !found {
			return true
		}
		v, err := strconv.ParseFloat(q, 64)
		return err == nil && v > 0
	}
	return false
}
