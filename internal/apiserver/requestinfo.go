package apiserver

import (
	"net/http"
	"strings"
)

// requestInfo is what a request URL addresses, parsed the way upstream's
// RequestInfoFactory does: /api/v1/... for the core group, /apis/G/V/...
// for the others.
type requestInfo struct {
	// IsResource is false for discovery, health and other non-resource paths.
	IsResource  bool
	Path        string
	Verb        string // get list watch create update patch delete deletecollection
	APIPrefix   string // api or apis
	Group       string
	Version     string
	Namespace   string
	Resource    string
	Subresource string
	Name        string
	// Parts are the path segments after the namespace (resource, name, subresource...).
	Parts []string
}

// parseRequestInfo parses r's path and method. Paths that are not resource
// requests come back with IsResource false and the verb in lower case.
func parseRequestInfo(r *http.Request) requestInfo {
	info := requestInfo{Path: r.URL.Path, Verb: strings.ToLower(r.Method)}
	segs := splitPath(r.URL.Path)
	if len(segs) < 3 {
		return info
	}
	switch segs[0] {
	case "api":
		info.APIPrefix, info.Version, segs = "api", segs[1], segs[2:]
	case "apis":
		if len(segs) < 4 {
			return info
		}
		info.APIPrefix, info.Group, info.Version, segs = "apis", segs[1], segs[2], segs[3:]
	default:
		return info
	}
	info.IsResource = true

	// Watch prefix: /api/v1/watch/... (deprecated but still served).
	watchPrefix := false
	if segs[0] == "watch" {
		watchPrefix, segs = true, segs[1:]
		if len(segs) == 0 {
			info.IsResource = false
			return info
		}
	}
	// /namespaces/{ns}/{resource}/..., except the namespace's own
	// subresources. As upstream, a request for a namespace object carries
	// its name as Namespace too.
	if segs[0] == "namespaces" && len(segs) > 1 {
		info.Namespace = segs[1]
		if len(segs) > 2 && segs[2] != "status" && segs[2] != "finalize" {
			segs = segs[2:]
		}
	}
	info.Parts = segs
	info.Resource = segs[0]
	if len(segs) >= 2 {
		info.Name = segs[1]
	}
	if len(segs) >= 3 {
		info.Subresource = segs[2]
	}

	switch r.Method {
	case http.MethodGet, http.MethodHead:
		info.Verb = "get"
		if info.Name == "" {
			info.Verb = "list"
		}
		if watchPrefix || (info.Name == "" && isTrue(r.URL.Query().Get("watch"))) {
			info.Verb = "watch"
		}
	case http.MethodPost:
		info.Verb = "create"
	case http.MethodPut:
		info.Verb = "update"
	case http.MethodPatch:
		info.Verb = "patch"
	case http.MethodDelete:
		info.Verb = "delete"
		if info.Name == "" {
			info.Verb = "deletecollection"
		}
	}
	return info
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func isTrue(s string) bool { return s == "true" || s == "1" }
