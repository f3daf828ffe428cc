package apiserver

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/restmapper"
)

// getJSON GETs path as the admin and decodes the JSON answer into v.
func (ts *testServer) getJSON(t *testing.T, path string, v any, header ...string) rawResponse {
	t.Helper()
	r := ts.do(t, http.MethodGet, path, nil, header...)
	if r.code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.code, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("GET %s: decoding: %v", path, err)
	}
	return r
}

// findResource returns the named entry of a resource list.
func findResource(t *testing.T, l metav1.APIResourceList, name string) metav1.APIResource {
	t.Helper()
	for _, r := range l.APIResources {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("%s has no %s", l.GroupVersion, name)
	return metav1.APIResource{}
}

func TestDiscovery(t *testing.T) {
	ts := startTestServer(t)
	allVerbs := metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	subVerbs := metav1.Verbs{"get", "patch", "update"}

	t.Run("/api", func(t *testing.T) {
		var v metav1.APIVersions
		ts.getJSON(t, "/api", &v)
		if v.Kind != "APIVersions" || !slices.Equal(v.Versions, []string{"v1"}) || len(v.ServerAddressByClientCIDRs) == 0 {
			t.Errorf("/api: %+v", v)
		}
	})

	t.Run("/apis", func(t *testing.T) {
		var l metav1.APIGroupList
		ts.getJSON(t, "/apis", &l)
		if l.Kind != "APIGroupList" {
			t.Errorf("kind %q", l.Kind)
		}
		groups := map[string]metav1.APIGroup{}
		for _, g := range l.Groups {
			groups[g.Name] = g
		}
		if _, ok := groups[""]; ok {
			t.Error("/apis lists the core group")
		}
		want := metav1.APIGroup{
			Name:             "apps",
			Versions:         []metav1.GroupVersionForDiscovery{{GroupVersion: "apps/v1", Version: "v1"}},
			PreferredVersion: metav1.GroupVersionForDiscovery{GroupVersion: "apps/v1", Version: "v1"},
		}
		got := groups["apps"]
		got.TypeMeta = metav1.TypeMeta{}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("apps group (-want +got):\n%s", diff)
		}
		for _, g := range []string{"batch", "rbac.authorization.k8s.io", "networking.k8s.io", "coordination.k8s.io", "apiextensions.k8s.io"} {
			if _, ok := groups[g]; !ok {
				t.Errorf("/apis lacks %s", g)
			}
		}
		var apps metav1.APIGroup
		ts.getJSON(t, "/apis/apps", &apps)
		if apps.Name != "apps" || apps.PreferredVersion.GroupVersion != "apps/v1" {
			t.Errorf("/apis/apps: %+v", apps)
		}
	})

	t.Run("/api/v1", func(t *testing.T) {
		var l metav1.APIResourceList
		ts.getJSON(t, "/api/v1", &l)
		if l.Kind != "APIResourceList" || l.GroupVersion != "v1" {
			t.Errorf("%s %s", l.Kind, l.GroupVersion)
		}
		pods := findResource(t, l, "pods")
		want := metav1.APIResource{Name: "pods", SingularName: "pod", Namespaced: true, Kind: "Pod", Verbs: allVerbs,
			ShortNames: []string{"po"}, Categories: []string{"all"}}
		if diff := cmp.Diff(want, pods); diff != "" {
			t.Errorf("pods (-want +got):\n%s", diff)
		}
		status := findResource(t, l, "pods/status")
		if status.Kind != "Pod" || !status.Namespaced || !slices.Equal(status.Verbs, subVerbs) {
			t.Errorf("pods/status: %+v", status)
		}
		ns := findResource(t, l, "namespaces")
		if ns.Namespaced || ns.Kind != "Namespace" || slices.Contains(ns.Verbs, "deletecollection") {
			t.Errorf("namespaces: %+v", ns)
		}
		if fin := findResource(t, l, "namespaces/finalize"); !slices.Equal(fin.Verbs, metav1.Verbs{"update"}) {
			t.Errorf("namespaces/finalize: %+v", fin)
		}
	})

	t.Run("/apis/apps/v1", func(t *testing.T) {
		var l metav1.APIResourceList
		ts.getJSON(t, "/apis/apps/v1", &l)
		if l.GroupVersion != "apps/v1" {
			t.Errorf("groupVersion %q", l.GroupVersion)
		}
		d := findResource(t, l, "deployments")
		if d.Kind != "Deployment" || !d.Namespaced || !slices.Equal(d.Verbs, allVerbs) || !slices.Equal(d.ShortNames, []string{"deploy"}) {
			t.Errorf("deployments: %+v", d)
		}
		want := metav1.APIResource{Name: "deployments/scale", Namespaced: true, Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: subVerbs}
		if diff := cmp.Diff(want, findResource(t, l, "deployments/scale")); diff != "" {
			t.Errorf("deployments/scale (-want +got):\n%s", diff)
		}
		findResource(t, l, "deployments/status")
	})

	t.Run("unknown groups and versions are 404", func(t *testing.T) {
		for _, p := range []string{"/apis/nope", "/apis/apps/v9", "/api/v2", "/apis/nope/v1/things"} {
			if r := ts.do(t, http.MethodGet, p, nil); r.code != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", p, r.code)
			}
		}
	})

	t.Run("aggregated", func(t *testing.T) {
		accept := "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
		for _, c := range []struct{ path, group, version, resource string }{
			{"/api", "", "v1", "pods"},
			{"/apis", "apps", "v1", "deployments"},
		} {
			var l apidiscoveryv2.APIGroupDiscoveryList
			r := ts.getJSON(t, c.path, &l, "Accept", accept)
			if ct := r.header.Get("Content-Type"); ct != "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" {
				t.Errorf("%s: Content-Type %q", c.path, ct)
			}
			if l.Kind != "APIGroupDiscoveryList" || l.APIVersion != "apidiscovery.k8s.io/v2" {
				t.Errorf("%s: %s %s", c.path, l.APIVersion, l.Kind)
			}
			var res *apidiscoveryv2.APIResourceDiscovery
			for _, g := range l.Items {
				if g.Name != c.group {
					continue
				}
				for _, v := range g.Versions {
					if v.Version != c.version {
						continue
					}
					for i := range v.Resources {
						if v.Resources[i].Resource == c.resource {
							res = &v.Resources[i]
						}
					}
				}
			}
			if res == nil {
				t.Errorf("%s: no %s/%s %s", c.path, c.group, c.version, c.resource)
				continue
			}
			if res.Scope != apidiscoveryv2.ScopeNamespace || res.ResponseKind == nil || res.ResponseKind.Kind == "" {
				t.Errorf("%s: %s: %+v", c.path, c.resource, res)
			}
			if c.resource == "deployments" {
				var scale *apidiscoveryv2.APISubresourceDiscovery
				for i := range res.Subresources {
					if res.Subresources[i].Subresource == "scale" {
						scale = &res.Subresources[i]
					}
				}
				if scale == nil || *scale.ResponseKind != (metav1.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}) {
					t.Errorf("deployments/scale: %+v", scale)
				}
			}

			etag := r.header.Get("ETag")
			if etag == "" {
				t.Fatalf("%s: no ETag", c.path)
			}
			r2 := ts.do(t, http.MethodGet, c.path, nil, "Accept", accept, "If-None-Match", etag)
			if r2.code != http.StatusNotModified || len(r2.body) != 0 {
				t.Errorf("%s with If-None-Match: %d with %d bytes, want 304 and none", c.path, r2.code, len(r2.body))
			}
			r3 := ts.do(t, http.MethodGet, c.path, nil, "Accept", accept, "If-None-Match", `"other"`)
			if r3.code != http.StatusOK {
				t.Errorf("%s with another ETag: %d, want 200", c.path, r3.code)
			}
		}
		// Plain JSON first in Accept gets the legacy document.
		var v metav1.APIVersions
		ts.getJSON(t, "/api", &v, "Accept", "application/json,"+accept)
		if v.Kind != "APIVersions" {
			t.Errorf("/api with JSON preferred: kind %q", v.Kind)
		}
	})

	for _, legacy := range []bool{false, true} {
		name := "client-go aggregated"
		if legacy {
			name = "client-go legacy"
		}
		t.Run(name, func(t *testing.T) {
			dc, err := discovery.NewDiscoveryClientForConfig(ts.admin)
			if err != nil {
				t.Fatal(err)
			}
			dc.UseLegacyDiscovery = legacy
			groups, lists, err := dc.ServerGroupsAndResources()
			if err != nil {
				t.Fatal(err)
			}
			if len(groups) < 10 {
				t.Errorf("%d groups", len(groups))
			}
			var appsV1 *metav1.APIResourceList
			for _, l := range lists {
				if l.GroupVersion == "apps/v1" {
					appsV1 = l
				}
			}
			if appsV1 == nil {
				t.Fatal("no apps/v1 resources")
			}
			scale := findResource(t, *appsV1, "deployments/scale")
			if scale.Kind != "Scale" || scale.Group != "autoscaling" || scale.Version != "v1" {
				t.Errorf("deployments/scale: %+v", scale)
			}

			// kubectl's REST mapper on top of it.
			gr, err := restmapper.GetAPIGroupResources(dc)
			if err != nil {
				t.Fatal(err)
			}
			mapper := restmapper.NewShortcutExpander(restmapper.NewDiscoveryRESTMapper(gr), dc, nil)
			m, err := mapper.RESTMapping(schema.GroupKind{Group: "apps", Kind: "Deployment"})
			if err != nil {
				t.Fatal(err)
			}
			if m.Resource != (schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}) || m.Scope.Name() != "namespace" {
				t.Errorf("Deployment mapping: %+v %s", m.Resource, m.Scope.Name())
			}
			gvr, err := mapper.ResourceFor(schema.GroupVersionResource{Resource: "deploy"})
			if err != nil || gvr.Resource != "deployments" {
				t.Errorf("short name deploy: %v %v", gvr, err)
			}
		})
	}
}
