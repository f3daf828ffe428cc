package apiserver

import (
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseRequestInfo(t *testing.T) {
	tests := []struct {
		method, url string
		want        requestInfo
	}{
		{"GET", "/api/v1/namespaces/default/pods", requestInfo{IsResource: true, Verb: "list", APIPrefix: "api", Version: "v1", Namespace: "default", Resource: "pods"}},
		{"GET", "/api/v1/namespaces/default/pods?watch=true", requestInfo{IsResource: true, Verb: "watch", APIPrefix: "api", Version: "v1", Namespace: "default", Resource: "pods"}},
		{"GET", "/api/v1/watch/namespaces/default/pods", requestInfo{IsResource: true, Verb: "watch", APIPrefix: "api", Version: "v1", Namespace: "default", Resource: "pods"}},
		{"GET", "/api/v1/namespaces/default/pods/p1", requestInfo{IsResource: true, Verb: "get", APIPrefix: "api", Version: "v1", Namespace: "default", Resource: "pods", Name: "p1"}},
		{"PUT", "/api/v1/namespaces/default/pods/p1/status", requestInfo{IsResource: true, Verb: "update", APIPrefix: "api", Version: "v1", Namespace: "default", Resource: "pods", Name: "p1", Subresource: "status"}},
		{"GET", "/api/v1/namespaces", requestInfo{IsResource: true, Verb: "list", APIPrefix: "api", Version: "v1", Resource: "namespaces"}},
		{"GET", "/api/v1/namespaces/kube-system", requestInfo{IsResource: true, Verb: "get", APIPrefix: "api", Version: "v1", Namespace: "kube-system", Resource: "namespaces", Name: "kube-system"}},
		{"PUT", "/api/v1/namespaces/x/finalize", requestInfo{IsResource: true, Verb: "update", APIPrefix: "api", Version: "v1", Namespace: "x", Resource: "namespaces", Name: "x", Subresource: "finalize"}},
		{"DELETE", "/apis/apps/v1/namespaces/ns/deployments", requestInfo{IsResource: true, Verb: "deletecollection", APIPrefix: "apis", Group: "apps", Version: "v1", Namespace: "ns", Resource: "deployments"}},
		{"PATCH", "/apis/apps/v1/namespaces/ns/deployments/d/scale", requestInfo{IsResource: true, Verb: "patch", APIPrefix: "apis", Group: "apps", Version: "v1", Namespace: "ns", Resource: "deployments", Name: "d", Subresource: "scale"}},
		{"GET", "/apis/apps/v1/deployments", requestInfo{IsResource: true, Verb: "list", APIPrefix: "apis", Group: "apps", Version: "v1", Resource: "deployments"}},
		{"GET", "/apis/apps/v1", requestInfo{Verb: "get"}},
		{"GET", "/healthz", requestInfo{Verb: "get"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.url, func(t *testing.T) {
			got := parseRequestInfo(httptest.NewRequest(tt.method, tt.url, nil))
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(requestInfo{}, "Path", "Parts")); diff != "" {
				t.Errorf("parseRequestInfo (-want +got):\n%s", diff)
			}
		})
	}
}
