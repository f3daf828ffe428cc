package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"berth.dev/berth/internal/auth/pki"
)

func TestAuthentication(t *testing.T) {
	ts := startTestServer(t)
	anon, err := rest.HTTPClientFor(ts.config(nil, nil))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("no client certificate is 401", func(t *testing.T) {
		for _, p := range []string{"/api/v1/namespaces", "/api", "/apis/apps/v1", "/openapi/v2"} {
			r := doWith(t, anon, http.MethodGet, ts.url+p, nil)
			if r.code != http.StatusUnauthorized {
				t.Errorf("anonymous GET %s: %d, want 401", p, r.code)
				continue
			}
			st := decodeStatus(t, r)
			if st.Reason != metav1.StatusReasonUnauthorized || st.Message != "Unauthorized" || st.Code != http.StatusUnauthorized {
				t.Errorf("anonymous GET %s: %+v", p, st)
			}
		}
		// client-go sees the same.
		cs, err := kubernetes.NewForConfig(ts.config(nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		_, err = cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
		wantStatus(t, err, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized")
	})

	t.Run("public endpoints", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz", "/livez"} {
			r := doWith(t, anon, http.MethodGet, ts.url+p, nil)
			if r.code != http.StatusOK || string(r.body) != "ok" {
				t.Errorf("anonymous GET %s: %d %q", p, r.code, r.body)
			}
		}
		r := doWith(t, anon, http.MethodGet, ts.url+"/version", nil)
		var v version.Info
		if err := json.Unmarshal(r.body, &v); err != nil || r.code != http.StatusOK || v.GitVersion == "" || v.Platform == "" {
			t.Errorf("anonymous /version: %d %v %+v", r.code, err, v)
		}
		// client-go's ServerVersion reads it.
		cs, err := kubernetes.NewForConfig(ts.config(nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		if sv, err := cs.Discovery().ServerVersion(); err != nil || sv.GitVersion != v.GitVersion {
			t.Errorf("ServerVersion: %+v %v", sv, err)
		}
	})

	t.Run("certificate from another CA", func(t *testing.T) {
		other, err := pki.Ensure(pki.Config{Dir: filepath.Join(t.TempDir(), "pki")})
		if err != nil {
			t.Fatal(err)
		}
		certPEM, keyPEM, err := other.IssueClientCert("intruder", []string{"system:masters"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		c, err := rest.HTTPClientFor(ts.config(certPEM, keyPEM))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Get(ts.url + "/api/v1/namespaces")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("foreign certificate: %d, want a TLS failure or 401", resp.StatusCode)
			}
		}
	})
}

func TestAuthorization(t *testing.T) {
	ts := startTestServer(t)
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(ts.userConfig(t, "x", "developers"))
	if err != nil {
		t.Fatal(err)
	}

	_, err = cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	st := wantStatus(t, err, http.StatusForbidden, metav1.StatusReasonForbidden,
		`pods is forbidden: User "x" cannot list resource "pods" in API group "" in the namespace "default"`)
	if st.Details == nil || st.Details.Kind != "pods" {
		t.Errorf("details %+v, want kind pods", st.Details)
	}

	_, err = cs.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{})
	wantStatus(t, err, http.StatusForbidden, metav1.StatusReasonForbidden,
		`pods "p" is forbidden: User "x" cannot get resource "pods" in API group "" in the namespace "default"`)

	_, err = cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	wantStatus(t, err, http.StatusForbidden, metav1.StatusReasonForbidden,
		`nodes is forbidden: User "x" cannot list resource "nodes" in API group "" at the cluster scope`)

	_, err = cs.AppsV1().Deployments("ns").GetScale(ctx, "web", metav1.GetOptions{})
	wantStatus(t, err, http.StatusForbidden, metav1.StatusReasonForbidden,
		`deployments.apps "web" is forbidden: User "x" cannot get resource "deployments/scale" in API group "apps" in the namespace "ns"`)

	_, err = cs.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{})
	wantStatus(t, err, http.StatusForbidden, metav1.StatusReasonForbidden,
		`configmaps is forbidden: User "x" cannot watch resource "configmaps" in API group "" in the namespace "default"`)

	// RBAC's system:discovery lets every authenticated user read /apis, not /metrics.
	r := doWith(t, mustHTTPClient(t, ts.userConfig(t, "x")), http.MethodGet, ts.url+"/metrics", nil)
	if st := decodeStatus(t, r); r.code != http.StatusForbidden || st.Message != `forbidden: User "x" cannot get path "/metrics"` {
		t.Errorf("non-resource path: %d %q", r.code, st.Message)
	}

	// Another user in system:masters may do everything.
	root, err := kubernetes.NewForConfig(ts.userConfig(t, "root", "system:masters"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("system:masters member: %v", err)
	}
}

func mustHTTPClient(t *testing.T, cfg *rest.Config) *http.Client {
	t.Helper()
	c, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
