package apiserver

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"sort"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// aggregatedMediaType is what clients send and expect for aggregated discovery.
const aggregatedMediaType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// discoveryDoc is one pre-encoded aggregated discovery document.
type discoveryDoc struct {
	body []byte
	etag string
}

// buildDiscoveryLocked precomputes the aggregated discovery documents for
// /api and /apis. s.mu is held for writing.
func (s *Server) buildDiscoveryLocked() error {
	core, groups := apidiscoveryv2.APIGroupDiscoveryList{}, apidiscoveryv2.APIGroupDiscoveryList{}
	docs := map[string]discoveryDoc{}
	for _, name := range s.groupNames() {
		g := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: name}}
		for _, gv := range s.groupVersions(name) {
			v := apidiscoveryv2.APIVersionDiscovery{Version: gv.Version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
			for _, r := range s.sortedResources(gv) {
				v.Resources = append(v.Resources, aggregatedResource(r))
			}
			g.Versions = append(g.Versions, v)
		}
		if name == "" {
			core.Items = append(core.Items, g)
		} else {
			groups.Items = append(groups.Items, g)
		}
	}
	for path, list := range map[string]*apidiscoveryv2.APIGroupDiscoveryList{"/api": &core, "/apis": &groups} {
		list.Kind, list.APIVersion = "APIGroupDiscoveryList", "apidiscovery.k8s.io/v2"
		b, err := json.Marshal(list)
		if err != nil {
			return err
		}
		docs[path] = discoveryDoc{body: b, etag: fmt.Sprintf(`"%X"`, sha256.Sum256(b))}
	}
	s.aggregated = docs
	return nil
}

func aggregatedResource(r *resource) apidiscoveryv2.APIResourceDiscovery {
	scope := apidiscoveryv2.ScopeCluster
	if r.Namespaced {
		scope = apidiscoveryv2.ScopeNamespace
	}
	d := apidiscoveryv2.APIResourceDiscovery{
		Resource:         r.name(),
		ResponseKind:     &metav1.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind},
		Scope:            scope,
		SingularResource: r.Singular,
		Verbs:            r.verbs(),
		ShortNames:       r.ShortNames,
		Categories:       r.Categories,
	}
	for _, sub := range r.subresources() {
		d.Subresources = append(d.Subresources, apidiscoveryv2.APISubresourceDiscovery{
			Subresource:  sub.name,
			ResponseKind: &metav1.GroupVersionKind{Group: sub.gvk.Group, Version: sub.gvk.Version, Kind: sub.gvk.Kind},
			Verbs:        sub.verbs,
		})
	}
	return d
}

type subresourceInfo struct {
	name  string
	gvk   schema.GroupVersionKind
	verbs []string
}

// subresources lists the resource's subresources as discovery shows them.
func (r *resource) subresources() []subresourceInfo {
	var out []subresourceInfo
	if r.Status {
		out = append(out, subresourceInfo{"status", r.gvk, []string{"get", "patch", "update"}})
	}
	if r.Scale {
		out = append(out, subresourceInfo{"scale", schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}, []string{"get", "patch", "update"}})
	}
	if r.Group == "" && r.name() == "pods" {
		out = append(out, subresourceInfo{"binding", bindingGVK, []string{"create"}},
			subresourceInfo{"eviction", evictionGVK, []string{"create"}})
	}
	if r.Group == "" && r.name() == "serviceaccounts" && r.tokens {
		out = append(out, subresourceInfo{"token", tokenRequestGVK, []string{"create"}})
	}
	if r.Group == "certificates.k8s.io" && r.name() == "certificatesigningrequests" {
		out = append(out, subresourceInfo{"approval", r.gvk, []string{"get", "patch", "update"}})
	}
	if r.Group == "" && r.name() == "namespaces" {
		out = append(out, subresourceInfo{"finalize", r.gvk, []string{"update"}})
	}
	return out
}

// groupNames lists the served groups, the core group ("") first.
func (s *Server) groupNames() []string {
	var names []string
	seen := map[string]bool{}
	for _, gv := range s.groups {
		if !seen[gv.Group] {
			seen[gv.Group] = true
			names = append(names, gv.Group)
		}
	}
	return names
}

// groupVersions lists a group's versions, preferred first.
func (s *Server) groupVersions(group string) []schema.GroupVersion {
	var out []schema.GroupVersion
	for _, gv := range s.groups {
		if gv.Group == group {
			out = append(out, gv)
		}
	}
	return out
}

func (s *Server) sortedResources(gv schema.GroupVersion) []*resource {
	var out []*resource
	for _, r := range s.resources[gv] {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name() < out[j].name() })
	return out
}

// wantsAggregated reports whether the Accept header asks for aggregated discovery v2.
func wantsAggregated(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if mt == mediaJSON && params["g"] == "apidiscovery.k8s.io" && params["v"] == "v2" && params["as"] == "APIGroupDiscoveryList" {
			return true
		}
		if mt == mediaJSON && params["as"] == "" {
			return false // plain JSON preferred
		}
	}
	return false
}

func (s *Server) serveAggregated(w http.ResponseWriter, r *http.Request, path string) {
	s.mu.RLock()
	doc := s.aggregated[path]
	s.mu.RUnlock()
	w.Header().Set("ETag", doc.etag)
	w.Header().Set("Vary", "Accept")
	if r.Header.Get("If-None-Match") == doc.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", aggregatedMediaType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc.body)
}

func (s *Server) serveAPIVersions(w http.ResponseWriter, r *http.Request, req *request) {
	if wantsAggregated(r.Header.Get("Accept")) {
		s.serveAggregated(w, r, "/api")
		return
	}
	s.writeObject(w, req, http.StatusOK, &metav1.APIVersions{
		TypeMeta:                   metav1.TypeMeta{Kind: "APIVersions"},
		Versions:                   []string{"v1"},
		ServerAddressByClientCIDRs: serverAddresses(r),
	})
}

func serverAddresses(r *http.Request) []metav1.ServerAddressByClientCIDR {
	host := r.Host
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "443")
	}
	return []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: host}}
}

func (s *Server) apiGroup(name string) metav1.APIGroup {
	g := metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: name}
	for _, gv := range s.groupVersions(name) {
		g.Versions = append(g.Versions, metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version})
	}
	g.PreferredVersion = g.Versions[0]
	return g
}

func (s *Server) serveAPIGroups(w http.ResponseWriter, r *http.Request, req *request) {
	if wantsAggregated(r.Header.Get("Accept")) {
		s.serveAggregated(w, r, "/apis")
		return
	}
	list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, name := range s.groupNames() {
		if name != "" {
			list.Groups = append(list.Groups, s.apiGroup(name))
		}
	}
	s.writeObject(w, req, http.StatusOK, list)
}

// serveGroupDiscovery answers /apis/G, /apis/G/V and /api/v1.
func (s *Server) serveGroupDiscovery(w http.ResponseWriter, r *http.Request, req *request) bool {
	segs := splitPath(r.URL.Path)
	var gv schema.GroupVersion
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch {
	case len(segs) == 2 && segs[0] == "api":
		gv = schema.GroupVersion{Version: segs[1]}
	case len(segs) == 2 && segs[0] == "apis":
		if len(s.groupVersions(segs[1])) == 0 {
			return false
		}
		g := s.apiGroup(segs[1])
		s.writeObject(w, req, http.StatusOK, &g)
		return true
	case len(segs) == 3 && segs[0] == "apis":
		gv = schema.GroupVersion{Group: segs[1], Version: segs[2]}
	default:
		return false
	}
	if _, ok := s.resources[gv]; !ok {
		return false
	}
	list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
	for _, res := range s.sortedResources(gv) {
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: res.name(), SingularName: res.Singular, Namespaced: res.Namespaced,
			Kind: res.Kind, Verbs: res.verbs(), ShortNames: res.ShortNames, Categories: res.Categories,
		})
		for _, sub := range res.subresources() {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: res.name() + "/" + sub.name, Namespaced: res.Namespaced,
				Group: sub.gvk.Group, Version: sub.gvk.Version, Kind: sub.gvk.Kind, Verbs: sub.verbs,
			})
		}
	}
	s.writeObject(w, req, http.StatusOK, list)
	return true
}
