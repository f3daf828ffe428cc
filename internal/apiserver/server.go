// Package apiserver is berth's Kubernetes API server: the HTTP handler
// chain (authentication, authorization, admission), discovery, and the
// generic REST handlers that turn requests into store operations on typed
// k8s.io/api objects, with the watch cache serving lists and watches.
//
// A request flows: requestInfo → authenticate → authorize → route →
// decode → default → validate → store; reads come from the watch cache,
// which follows the store through one watch.
package apiserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	jsonserializer "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/util/managedfields"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/audit"
	"berth.dev/berth/internal/auth"
	"berth.dev/berth/internal/auth/serviceaccount"
	"berth.dev/berth/internal/registry"
	"berth.dev/berth/internal/store"
	"berth.dev/berth/internal/version"
)

// Config configures a Server.
type Config struct {
	Store store.Store
	// Resources is the table of served built-in resources (registry.Builtin()).
	Resources []registry.Resource
	// Authenticators are asked in order; the first that recognises the
	// request's credentials decides.
	Authenticators []auth.Authenticator
	// Authorizers are asked in order; the first Allow or Deny decides, and
	// a request nobody allows is refused.
	Authorizers []auth.Authorizer
	// Admission is run on every write from a client (not on the server's
	// own writes). Authenticators, authorizers and admission plugins that
	// implement auth.ObjectsUser get the server's object reader in New.
	Admission admission.Chain
	// Audit records requests by its policy; nil records nothing.
	Audit *audit.Auditor
	// Reviewers answer the ephemeral review resources (TokenReview,
	// SubjectAccessReview...); a review without one answers 405.
	// TokenReview and SelfSubjectReview are answered by the server from
	// its Authenticators unless Reviewers has them.
	Reviewers map[schema.GroupResource]Reviewer
	// ServiceAccountIssuer signs the tokens of the serviceaccounts/token
	// subresource and serves its OpenID discovery documents
	// (/.well-known/openid-configuration, /openid/v1/jwks); nil serves
	// neither.
	ServiceAccountIssuer *serviceaccount.Issuer
	// APIAudiences are the audiences of tokens meant for this API: the
	// default audiences of TokenRequests. NewConfig sets the issuer URL.
	APIAudiences []string
	// OpenAPI serves /openapi/v2 and /openapi/v3; nil answers 404 there.
	OpenAPI http.Handler
	// TypeConverter knows the schema of every built-in type (from the
	// OpenAPI models). It enables managedFields and server-side apply;
	// nil turns both off.
	TypeConverter managedfields.TypeConverter
	// CustomSchemas, when set, publishes custom resources' schemas.
	CustomSchemas CustomSchemas
	// Defaults are objects every cluster has beyond the built-in ones (the
	// default RBAC policy): created, and brought up to date, at every
	// start before the server reports ready.
	Defaults []Default
	// BookmarkInterval is how often an idle watch that allows bookmarks
	// gets one; zero means 30 s.
	BookmarkInterval time.Duration
	Logger           *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ServiceCIDR is where Service ClusterIPs come from; its first address
	// is the kubernetes Service's. Zero means 10.43.0.0/16.
	ServiceCIDR netip.Prefix
	// NodePortBase and NodePortSize are the NodePort range; zero means
	// 30000 and 2768 (30000-32767).
	NodePortBase, NodePortSize int
	// AdvertiseAddress and Port are where the default/kubernetes Service
	// sends clients: this server's address as pods reach it. A loopback
	// address (the default) leaves the Service without endpoints.
	AdvertiseAddress netip.Addr
	Port             int
	// NodeTLS connects to nodes' streaming servers for pods/log, exec,
	// attach and portforward: the API server's client certificate
	// (CN=system:apiserver, which nodes accept) and the CA that issued the
	// nodes' serving certificates. nil answers those subresources 503.
	NodeTLS *tls.Config
	// Metrics, when set, serves the resource metrics API
	// (metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics, read-only) from
	// it; nil leaves the group out of discovery.
	Metrics MetricsSource
}

// Server is the API server. Its Handler serves requests once Run has loaded
// the watch cache.
type Server struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	store  store.Store
	scheme *runtime.Scheme
	codecs serializer.CodecFactory
	cache  *cache

	mu sync.RWMutex // guards resources, groups and aggregated
	// resources are the served resources by group version and name.
	resources map[schema.GroupVersion]map[string]*resource
	// groups are the served group versions, in discovery order.
	groups []schema.GroupVersion
	// hiddenOwners hold the cache of CRDs whose storage version is not served.
	hiddenOwners map[string]*resource
	ready        atomic.Bool

	jsonSerializer  *jsonserializer.Serializer
	yamlSerializer  *jsonserializer.Serializer
	protoSerializer *protobuf.Serializer
	strictJSON      *jsonserializer.Serializer
	strictYAML      *jsonserializer.Serializer
	services        *serviceAllocator
	fields          *fieldManagers // nil without a TypeConverter
	// hooks are the kind-specific write hooks.
	hooks map[schema.GroupResource]writeHook
	// aggregated holds the aggregated discovery documents of /api and /apis.
	aggregated map[string]discoveryDoc
	// nodeTransport reaches nodes' streaming servers; nil without NodeTLS.
	nodeTransport *http.Transport
}

// New validates cfg and builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("apiserver: no store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if !cfg.ServiceCIDR.IsValid() {
		cfg.ServiceCIDR = netip.MustParsePrefix("10.43.0.0/16")
	}
	if cfg.BookmarkInterval <= 0 {
		cfg.BookmarkInterval = 30 * time.Second
	}
	if cfg.NodePortBase == 0 {
		cfg.NodePortBase, cfg.NodePortSize = 30000, 2768
	}
	if cfg.NodePortSize <= 0 {
		return nil, errors.New("apiserver: empty NodePort range")
	}
	if !cfg.AdvertiseAddress.IsValid() {
		cfg.AdvertiseAddress = netip.MustParseAddr("127.0.0.1")
	}
	sch, err := newScheme()
	if err != nil {
		return nil, err
	}
	res, err := newResources(sch, cfg.Resources)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:             cfg,
		log:             cfg.Logger.With("component", "apiserver"),
		now:             cfg.Now,
		store:           cfg.Store,
		scheme:          sch,
		codecs:          newCodecs(sch),
		resources:       map[schema.GroupVersion]map[string]*resource{},
		hiddenOwners:    map[string]*resource{},
		jsonSerializer:  jsonserializer.NewSerializerWithOptions(jsonserializer.DefaultMetaFactory, sch, sch, jsonserializer.SerializerOptions{}),
		yamlSerializer:  jsonserializer.NewSerializerWithOptions(jsonserializer.DefaultMetaFactory, sch, sch, jsonserializer.SerializerOptions{Yaml: true}),
		strictJSON:      jsonserializer.NewSerializerWithOptions(jsonserializer.DefaultMetaFactory, sch, sch, jsonserializer.SerializerOptions{Strict: true}),
		strictYAML:      jsonserializer.NewSerializerWithOptions(jsonserializer.DefaultMetaFactory, sch, sch, jsonserializer.SerializerOptions{Yaml: true, Strict: true}),
		protoSerializer: protobuf.NewSerializer(sch, sch),
	}
	s.cfg.Reviewers = s.authenticationReviewers(cfg.Reviewers)
	if cfg.NodeTLS != nil {
		s.nodeTransport = newNodeTransport(cfg.NodeTLS)
	}
	s.cache = newCache(cfg.Store, s.log)
	if cfg.TypeConverter != nil {
		s.fields = &fieldManagers{tc: cfg.TypeConverter, scheme: sch, convertor: newVersionConvertor(sch, res)}
	}
	s.services = newServiceAllocator(cfg.Store, cfg.ServiceCIDR, cfg.NodePortBase, cfg.NodePortSize)
	s.hooks = map[schema.GroupResource]writeHook{{Resource: "services"}: serviceHook{s.services}}
	for _, r := range res {
		r.tokens = r.Group == "" && r.name() == "serviceaccounts" && cfg.ServiceAccountIssuer != nil
		if err := s.serve(context.Background(), r); err != nil {
			return nil, err
		}
	}
	if cfg.Metrics != nil {
		mres, err := newResources(sch, metricsResources())
		if err != nil {
			return nil, err
		}
		for _, r := range mres {
			r.metrics = true
			if err := s.serve(context.Background(), r); err != nil {
				return nil, err
			}
		}
	}
	s.shareObjects()
	return s, nil
}

// shareObjects hands the object reader to the plugins that read objects.
func (s *Server) shareObjects() {
	var plugins []any
	for _, a := range s.cfg.Authenticators {
		plugins = append(plugins, a)
	}
	for _, a := range s.cfg.Authorizers {
		plugins = append(plugins, a)
	}
	plugins = append(plugins, s.cfg.Admission.Plugins()...)
	for _, p := range plugins {
		if u, ok := p.(auth.ObjectsUser); ok {
			u.UseObjects(cacheObjects{s})
		}
		if u, ok := p.(admission.QuotaStoreUser); ok {
			u.UseQuotaStore(quotaStore{s})
		}
	}
}

// serve adds r to the served resources and the cache.
func (s *Server) serve(ctx context.Context, r *resource) error {
	if r.storage == nil && !r.Ephemeral && !r.metrics {
		if err := s.cache.add(ctx, r); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	gv := r.groupVersion()
	if s.resources[gv] == nil {
		s.resources[gv] = map[string]*resource{}
		s.groups = append(s.groups, gv)
	}
	s.resources[gv][r.name()] = r
	return s.buildDiscoveryLocked()
}

// unserve removes r from the served resources and the cache.
func (s *Server) unserve(r *resource) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	gv := r.groupVersion()
	if s.resources[gv][r.name()] != r {
		return nil
	}
	delete(s.resources[gv], r.name())
	if len(s.resources[gv]) == 0 {
		delete(s.resources, gv)
		s.groups = slices.DeleteFunc(s.groups, func(g schema.GroupVersion) bool { return g == gv })
	}
	if r.storage == nil && !r.metrics {
		s.cache.remove(r)
	}
	return s.buildDiscoveryLocked()
}

// lookup finds a served resource.
func (s *Server) lookup(gv schema.GroupVersion, name string) *resource {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.resources[gv][name]
}

// Run loads the watch cache, creates the objects every cluster has, and
// serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		if err := s.cache.Run(ctx); err != nil {
			s.log.Error("watch cache stopped", "err", err)
		}
	})
	wg.Go(func() { s.compactLoop(ctx) })
	if err := s.waitCacheLoaded(ctx); err != nil {
		return err
	}
	crdsSynced := make(chan struct{})
	wg.Go(func() { s.serveCRDs(ctx, crdsSynced) })
	select {
	case <-crdsSynced:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := s.bootstrap(ctx); err != nil {
		return fmt.Errorf("creating default objects: %w", err)
	}
	s.ready.Store(true)
	<-ctx.Done()
	return nil
}

func (s *Server) waitCacheLoaded(ctx context.Context) error {
	rev, _, err := s.store.Revision(ctx)
	if err != nil {
		return err
	}
	for {
		s.cache.mu.RLock()
		err := s.cache.waitForLocked(ctx, rev)
		s.cache.mu.RUnlock()
		if err == nil || ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// Ready reports whether the server has loaded its cache and defaults.
func (s *Server) Ready() bool { return s.ready.Load() }

// request carries what the handlers need about one request.
type request struct {
	info      requestInfo
	res       *resource
	out       outputFormat
	query     url.Values
	user      auth.User
	userAgent string
	// audit is the request's audit record; nil at level None.
	audit    *audit.Recorder
	warnings []string
	// applied marks a server-side apply: its field manager already
	// recorded the managed fields.
	applied bool
	// checked marks a write its handler validated and admitted itself (a
	// binding, which may set spec.nodeName as a pod update may not): the
	// generic update runs neither the kind's update validation nor
	// admission on it.
	checked bool
}

// Handler returns the API server's HTTP handler with the full chain.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	var received time.Time
	if s.cfg.Audit != nil {
		received = s.now()
	}
	req := &request{info: parseRequestInfo(r), query: r.URL.Query(), userAgent: r.UserAgent()}
	defer func() {
		p := recover()
		if p == nil {
			if req.audit != nil {
				req.audit.Complete(s.auditJSON)
			}
			return
		}
		if req.audit != nil {
			req.audit.Panic(p)
		}
		if p == http.ErrAbortHandler {
			panic(p)
		}
		s.log.Error("handler panic", "path", r.URL.Path, "panic", p)
		s.writeError(w, req, apierrors.NewInternalError(fmt.Errorf("internal error")))
	}()
	out, ok := negotiateOutput(r.Header.Get("Accept"))
	if !ok {
		// Non-resource paths (OpenAPI, discovery) negotiate for themselves.
		out = outputFormat{mediaType: mediaJSON}
	}
	if !ok && req.info.IsResource {
		req.out = outputFormat{mediaType: mediaJSON}
		s.writeError(w, req, apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "", schema.GroupResource{}, "", "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf", 0, false))
		return
	}
	req.out = out

	in := req.info
	attrs := auth.Attributes{
		Verb: in.Verb, IsResource: in.IsResource, Namespace: in.Namespace,
		APIGroup: in.Group, APIVersion: in.Version, Resource: in.Resource,
		Subresource: in.Subresource, Name: in.Name, Path: in.Path,
	}
	if attrs.Name == "" && (attrs.Verb == "list" || attrs.Verb == "watch") {
		// A list or watch of one object by name is authorized as for that
		// name, as upstream: how nodes watch the Secrets of their pods.
		if sel, err := fields.ParseSelector(req.query.Get("fieldSelector")); err == nil {
			if name, ok := sel.RequiresExactMatch("metadata.name"); ok && len(path.IsValidPathSegmentName(name)) == 0 {
				attrs.Name = name
			}
		}
	}
	if isPublicPath(r.URL.Path) {
		// Open to everyone: recorded as the anonymous user, allowed.
		attrs.User = anonymousUser
		w = s.startAudit(w, r, req, attrs, received)
		if req.audit != nil {
			req.audit.SetAuthorization(true, "")
		}
		s.servePublic(w, r)
		return
	}
	user, err := s.authenticate(r)
	if err != nil {
		s.cfg.Audit.FailedAuthentication(r, attrs, received)
		s.writeError(w, req, err)
		return
	}
	req.user, attrs.User = user, user
	w = s.startAudit(w, r, req, attrs, received)
	reason, err := s.authorize(r.Context(), req, attrs)
	if req.audit != nil {
		switch {
		case apierrors.IsInternalError(err):
			req.audit.SetAuthorization(false, "internal error")
		default:
			req.audit.SetAuthorization(err == nil, reason)
		}
	}
	if err != nil {
		s.writeError(w, req, err)
		return
	}
	if req.audit != nil {
		req.audit.CaptureRequestBody(r)
	}
	r = r.WithContext(auth.WithUser(r.Context(), user))
	s.route(w, r, req)
}

// anonymousUser is who public paths are served to.
var anonymousUser = auth.User{Name: "system:anonymous", Groups: []string{"system:unauthenticated"}}

// startAudit starts req's audit record when the policy records it, and
// returns the writer to answer through.
func (s *Server) startAudit(w http.ResponseWriter, r *http.Request, req *request, attrs auth.Attributes, received time.Time) http.ResponseWriter {
	d := s.cfg.Audit.Evaluate(attrs)
	if d.Level == audit.LevelNone {
		return w
	}
	req.audit = s.cfg.Audit.Start(d, r, attrs, received)
	return req.audit.WrapWriter(w, isLongRunning(req.info))
}

// isLongRunning: requests whose response streams, as upstream's
// kube-apiserver counts them (watch, proxy; attach, exec, log, portforward).
func isLongRunning(in requestInfo) bool {
	switch in.Verb {
	case "watch", "proxy":
		return true
	}
	switch in.Subresource {
	case "attach", "exec", "proxy", "log", "portforward":
		return true
	}
	return false
}

// isPublicPath lists what anonymous clients may read.
func isPublicPath(p string) bool {
	switch p {
	case "/healthz", "/livez", "/readyz", "/version", "/version/":
		return true
	}
	return false
}

func (s *Server) servePublic(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz", "/livez":
		writeText(w, http.StatusOK, "ok")
	case "/readyz":
		if !s.Ready() {
			writeText(w, http.StatusServiceUnavailable, "[-]cache not ready\nreadyz check failed")
			return
		}
		writeText(w, http.StatusOK, "ok")
	case "/version", "/version/":
		writeJSON(w, http.StatusOK, version.Info())
	}
}

func (s *Server) authenticate(r *http.Request) (auth.User, error) {
	for _, a := range s.cfg.Authenticators {
		u, ok, err := a.Authenticate(r)
		if err != nil {
			s.log.Info("authentication failed", "remote", r.RemoteAddr, "err", err)
			return auth.User{}, apierrors.NewUnauthorized("Unauthorized")
		}
		if ok {
			// As upstream's authentication filter: every authenticated
			// user is in system:authenticated.
			if !slices.Contains(u.Groups, authenticatedGroup) {
				u.Groups = append(slices.Clip(u.Groups), authenticatedGroup)
			}
			return u, nil
		}
	}
	return auth.User{}, apierrors.NewUnauthorized("Unauthorized")
}

// authorize asks the authorizers about a; it returns the deciding
// authorizer's reason, and an error unless the request is allowed.
func (s *Server) authorize(ctx context.Context, req *request, a auth.Attributes) (string, error) {
	// As upstream's union authorizer: a refusal gives the reasons of
	// every authorizer asked, one a line.
	var reasons []string
	for _, z := range s.cfg.Authorizers {
		d, why, err := z.Authorize(ctx, a)
		if err != nil {
			return "", apierrors.NewInternalError(fmt.Errorf("authorizing: %w", err))
		}
		if d == auth.Allow {
			return why, nil
		}
		if d == auth.Deny {
			reasons = []string{why}
			break
		}
		if why != "" {
			reasons = append(reasons, why)
		}
	}
	reason := strings.Join(reasons, "\n")
	return reason, forbidden(req, reason)
}

// forbidden builds upstream's 403 message:
// `pods "x" is forbidden: User "u" cannot get resource "pods" in API group "" in the namespace "ns"`.
func forbidden(req *request, reason string) error {
	in := req.info
	var msg string
	if !in.IsResource {
		msg = fmt.Sprintf("User %q cannot %s path %q", req.user.Name, in.Verb, in.Path)
	} else {
		res := in.Resource
		if in.Subresource != "" {
			res += "/" + in.Subresource
		}
		msg = fmt.Sprintf("User %q cannot %s resource %q in API group %q", req.user.Name, in.Verb, res, in.Group)
		if in.Namespace != "" {
			msg += fmt.Sprintf(" in the namespace %q", in.Namespace)
		} else {
			msg += " at the cluster scope"
		}
	}
	if reason != "" {
		msg += ": " + reason
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: in.Group, Resource: in.Resource}, in.Name, errors.New(msg))
}

// route sends an authorized request to discovery, OpenAPI or a resource.
func (s *Server) route(w http.ResponseWriter, r *http.Request, req *request) {
	in := req.info
	if !in.IsResource {
		s.serveNonResource(w, r, req)
		return
	}
	res := s.lookup(schema.GroupVersion{Group: in.Group, Version: in.Version}, in.Resource)
	if res == nil {
		s.writeError(w, req, errNoResource)
		return
	}
	req.res = res
	if res.custom != nil && req.out.mediaType == mediaProtobuf {
		// Custom resources have no protobuf form: take the client's next choice.
		out, ok := negotiateOutput(withoutProtobuf(r.Header.Get("Accept")))
		if !ok {
			s.writeError(w, req, notAcceptable("custom resources are served as application/json or application/yaml"))
			return
		}
		req.out = out
	}
	s.serveResource(w, r, req)
}

func (s *Server) serveNonResource(w http.ResponseWriter, r *http.Request, req *request) {
	p := r.URL.Path
	switch {
	case p == "/api" || p == "/api/":
		s.serveAPIVersions(w, r, req)
	case p == "/apis" || p == "/apis/":
		s.serveAPIGroups(w, r, req)
	case (p == serviceaccount.OpenIDConfigurationPath || p == serviceaccount.JWKSPath) && s.cfg.ServiceAccountIssuer != nil:
		s.serveOpenIDMetadata(w, req, p)
	case len(p) > len("/openapi/") && p[:len("/openapi/")] == "/openapi/" && s.cfg.OpenAPI != nil:
		s.cfg.OpenAPI.ServeHTTP(w, r)
	default:
		if s.serveGroupDiscovery(w, r, req) {
			return
		}
		s.writeError(w, req, errNoResource)
	}
}

// errNoResource is upstream's 404 for a path nothing is served at.
var errNoResource = apierrors.NewGenericServerResponse(http.StatusNotFound, "", schema.GroupResource{}, "", "", 0, false)

// writeObject encodes obj in the negotiated format.
func (s *Server) writeObject(w http.ResponseWriter, req *request, code int, obj runtime.Object) {
	if obj.GetObjectKind().GroupVersionKind().Empty() {
		s.setTypeMeta(obj)
	}
	var buf bytes.Buffer
	var err error
	ct := req.out.mediaType
	switch ct {
	case mediaYAML:
		err = s.yamlSerializer.Encode(obj, &buf)
	case mediaProtobuf:
		if err = s.protoSerializer.Encode(obj, &buf); err != nil {
			buf.Reset()
			ct, err = mediaJSON, s.jsonSerializer.Encode(obj, &buf)
		}
	default:
		ct = mediaJSON
		err = s.jsonSerializer.Encode(obj, &buf)
	}
	if err != nil {
		s.log.Error("encoding response failed", "err", err)
		http.Error(w, "encoding response failed", http.StatusInternalServerError)
		return
	}
	s.writeBytes(w, req, code, ct, buf.Bytes())
}

func (s *Server) writeBytes(w http.ResponseWriter, req *request, code int, contentType string, b []byte) {
	for _, warning := range req.warnings {
		w.Header().Add("Warning", `299 - `+quoteWarning(warning))
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func quoteWarning(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func writeText(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(text))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", mediaJSON)
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// setTypeMeta sets the apiVersion and kind of a typed object from the scheme.
func (s *Server) setTypeMeta(obj runtime.Object) {
	gvks, _, err := s.scheme.ObjectKinds(obj)
	if err == nil && len(gvks) > 0 {
		obj.GetObjectKind().SetGroupVersionKind(gvks[0])
	}
}

// authenticatedGroup holds every authenticated user.
const authenticatedGroup = "system:authenticated"

// systemUser is the identity of writes the server makes itself.
var systemUser = auth.User{Name: "system:apiserver", Groups: []string{auth.SystemMasters}}
