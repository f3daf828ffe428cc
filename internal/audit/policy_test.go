package audit

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"berth.dev/berth/internal/auth"
)

const testPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
omitManagedFields: true
rules:
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
  - level: None
    userGroups: ["system:nodes"]
    nonResourceURLs: ["/healthz*", "/version"]
  - level: RequestResponse
    resources:
      - group: ""
        resources: ["pods/log", "*/status"]
    omitStages: [ResponseStarted]
    omitManagedFields: false
  - level: Request
    namespaces: ["kube-system"]
    resources:
      - group: apps
        resources: ["deployments/*"]
  - level: Metadata
    resources:
      - group: ""
        resources: ["configmaps"]
        resourceNames: ["controller-leader"]
  - level: None
    resources:
      - group: ""
        resources: ["configmaps"]
  - level: Request
    resources:
      - group: "rbac.authorization.k8s.io"
  - level: Metadata
    nonResourceURLs: ["*"]
  - level: Metadata
    namespaces: [""]
`

func TestEvaluate(t *testing.T) {
	p, err := ParsePolicy([]byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	alice := auth.User{Name: "alice", Groups: []string{"devs"}}
	res := func(verb, group, resource, sub, ns, name string) auth.Attributes {
		return auth.Attributes{User: alice, Verb: verb, IsResource: true, APIGroup: group, Resource: resource, Subresource: sub, Namespace: ns, Name: name}
	}
	tests := []struct {
		name   string
		attrs  auth.Attributes
		want   Level
		omit   []Stage
		omitMF bool
	}{
		{"user and verb", auth.Attributes{User: auth.User{Name: "system:kube-proxy"}, Verb: "watch", IsResource: true, Resource: "services"}, LevelNone, nil, false},
		{"user matches, verb does not", auth.Attributes{User: auth.User{Name: "system:kube-proxy"}, Verb: "list", IsResource: true, Resource: "services", Namespace: "x"}, LevelNone, nil, false},
		{"group and path prefix", auth.Attributes{User: auth.User{Name: "node1", Groups: []string{"system:nodes"}}, Verb: "get", Path: "/healthz/etcd"}, LevelNone, nil, false},
		{"path without the group", auth.Attributes{User: alice, Verb: "get", Path: "/healthz"}, LevelMetadata, []Stage{StageRequestReceived}, true},
		{"subresource exact", res("get", "", "pods", "log", "ns", "p"), LevelRequestResponse, []Stage{StageRequestReceived, StageResponseStarted}, false},
		{"any resource's status", res("update", "", "nodes", "status", "", "n"), LevelRequestResponse, []Stage{StageRequestReceived, StageResponseStarted}, false},
		{"pods itself does not match pods/log", res("get", "", "pods", "", "", "p"), LevelMetadata, []Stage{StageRequestReceived}, true},
		{"res/* matches the resource", res("get", "apps", "deployments", "", "kube-system", "d"), LevelRequest, []Stage{StageRequestReceived}, true},
		{"res/* matches a subresource", res("update", "apps", "deployments", "scale", "kube-system", "d"), LevelRequest, []Stage{StageRequestReceived}, true},
		{"namespace limits", res("get", "apps", "deployments", "", "default", "d"), LevelNone, nil, false},
		{"resourceNames", res("update", "", "configmaps", "", "kube-system", "controller-leader"), LevelMetadata, []Stage{StageRequestReceived}, true},
		{"other names", res("update", "", "configmaps", "", "kube-system", "other"), LevelNone, nil, false},
		{"whole group", res("create", "rbac.authorization.k8s.io", "roles", "", "ns", "r"), LevelRequest, []Stage{StageRequestReceived}, true},
		{"cluster scoped namespace match", res("list", "", "nodes", "", "", ""), LevelMetadata, []Stage{StageRequestReceived}, true},
		{"namespaced, nothing matches", res("list", "", "pods", "", "ns", ""), LevelNone, nil, false},
		{"failed authentication has no user", auth.Attributes{Verb: "get", Path: "/api"}, LevelMetadata, []Stage{StageRequestReceived}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Evaluate(tt.attrs)
			if d.Level != tt.want {
				t.Fatalf("level %s, want %s", d.Level, tt.want)
			}
			var omitted []Stage
			for _, s := range []Stage{StageRequestReceived, StageResponseStarted, StageResponseComplete, StagePanic} {
				if d.Omits(s) {
					omitted = append(omitted, s)
				}
			}
			if tt.want != LevelNone {
				if diff := cmp.Diff(tt.omit, omitted); diff != "" {
					t.Errorf("omitted stages (-want +got):\n%s", diff)
				}
				if d.OmitManagedFields != tt.omitMF {
					t.Errorf("omitManagedFields %v, want %v", d.OmitManagedFields, tt.omitMF)
				}
			}
		})
	}
}

func TestDefaultPolicy(t *testing.T) {
	p := DefaultPolicy()
	admin := auth.User{Name: "admin", Groups: []string{"system:masters"}}
	tests := []struct {
		name  string
		attrs auth.Attributes
		want  Level
	}{
		{"healthz", auth.Attributes{User: admin, Verb: "get", Path: "/healthz"}, LevelNone},
		{"readyz check", auth.Attributes{User: admin, Verb: "get", Path: "/readyz/ping"}, LevelNone},
		{"livez", auth.Attributes{User: admin, Verb: "get", Path: "/livez"}, LevelNone},
		{"version", auth.Attributes{User: admin, Verb: "get", Path: "/version"}, LevelNone},
		{"discovery", auth.Attributes{User: admin, Verb: "get", Path: "/apis"}, LevelMetadata},
		{"secrets", auth.Attributes{User: admin, Verb: "create", IsResource: true, Resource: "secrets", Namespace: "x"}, LevelMetadata},
		{"tokenreviews", auth.Attributes{User: admin, Verb: "create", IsResource: true, APIGroup: "authentication.k8s.io", Resource: "tokenreviews"}, LevelMetadata},
		{"pods", auth.Attributes{User: admin, Verb: "list", IsResource: true, Resource: "pods"}, LevelMetadata},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Evaluate(tt.attrs)
			if d.Level != tt.want {
				t.Errorf("level %s, want %s", d.Level, tt.want)
			}
			if d.Level != LevelNone && !d.Omits(StageRequestReceived) {
				t.Error("RequestReceived not omitted")
			}
		})
	}
}

func TestEvaluateDoesNotAllocate(t *testing.T) {
	p := DefaultPolicy()
	a := auth.Attributes{User: auth.User{Name: "u", Groups: []string{"g"}}, Verb: "get", IsResource: true, Resource: "pods", Namespace: "ns", Name: "p"}
	if n := testing.AllocsPerRun(100, func() { p.Evaluate(a) }); n != 0 {
		t.Errorf("Evaluate allocates %v times per call", n)
	}
	var nilAuditor *Auditor
	if n := testing.AllocsPerRun(100, func() { nilAuditor.Evaluate(a) }); n != 0 {
		t.Errorf("a nil Auditor's Evaluate allocates %v times per call", n)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	head := "apiVersion: audit.k8s.io/v1\nkind: Policy\n"
	tests := []struct {
		name, in, wantErr string
	}{
		{"wrong kind", "apiVersion: audit.k8s.io/v1\nkind: Other\nrules: [{level: None}]\n", "want apiVersion"},
		{"v1beta1", "apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: [{level: None}]\n", "want apiVersion"},
		{"no rules", head, "0 rules"},
		{"no level", head + "rules: [{verbs: [get]}]\n", "level: Required"},
		{"bad level", head + "rules: [{level: Everything}]\n", "Unsupported value"},
		{"both kinds", head + "rules: [{level: None, nonResourceURLs: [/x], resources: [{group: ''}]}]\n", "both regular resources and non-resource"},
		{"url without slash", head + "rules: [{level: None, nonResourceURLs: [healthz]}]\n", "must begin with a '/'"},
		{"star inside", head + "rules: [{level: None, nonResourceURLs: ['/a*/b']}]\n", "final character"},
		{"bad group", head + "rules: [{level: None, resources: [{group: 'apps/v1'}]}]\n", "resources.group"},
		{"names without resources", head + "rules: [{level: None, resources: [{group: '', resourceNames: [x]}]}]\n", "requires at least one resource"},
		{"bad stage", head + "omitStages: [Later]\nrules: [{level: None}]\n", "allowed stages"},
		{"bad rule stage", head + "rules: [{level: None, omitStages: [Later]}]\n", "allowed stages"},
		{"unknown field", head + "rules: [{level: None, user: [x]}]\n", "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePolicy([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePolicy: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(testPolicy))
	f.Add([]byte(defaultPolicy))
	f.Add([]byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: None, nonResourceURLs: ['*']}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy(data)
		if err != nil {
			return
		}
		p.Evaluate(auth.Attributes{Verb: "get", IsResource: true, Resource: "pods", Subresource: "log"})
		p.Evaluate(auth.Attributes{Verb: "get", Path: "/x"})
	})
}
