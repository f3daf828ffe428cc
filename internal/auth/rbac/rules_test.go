package rbac

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestCovers ports upstream's policy comparator cases (validation.Covers).
func TestCovers(t *testing.T) {
	tests := []struct {
		name    string
		owner   []rule
		servant []rule
		missing []rule
	}{
		{name: "exact match",
			owner:   []rule{newRule("get", "list").groups("").resources("pods")},
			servant: []rule{newRule("get", "list").groups("").resources("pods")}},
		{name: "owner holds more",
			owner:   []rule{newRule("*").groups("*").resources("*")},
			servant: []rule{newRule("get").groups("apps").resources("deployments", "deployments/scale")}},
		{name: "covered by several rules",
			owner:   []rule{newRule("get").groups("").resources("pods"), newRule("list").groups("").resources("pods")},
			servant: []rule{newRule("get", "list").groups("").resources("pods")}},
		{name: "missing verb",
			owner:   []rule{newRule("get").groups("").resources("pods")},
			servant: []rule{newRule("get", "delete").groups("").resources("pods")},
			missing: []rule{newRule("delete").groups("").resources("pods")}},
		{name: "missing group",
			owner:   []rule{newRule("get").groups("").resources("deployments")},
			servant: []rule{newRule("get").groups("apps").resources("deployments")},
			missing: []rule{newRule("get").groups("apps").resources("deployments")}},
		{name: "named owner does not cover unnamed",
			owner:   []rule{newRule("get").groups("").resources("configmaps").names("a")},
			servant: []rule{newRule("get").groups("").resources("configmaps")},
			missing: []rule{newRule("get").groups("").resources("configmaps")}},
		{name: "named owner covers the same names",
			owner:   []rule{newRule("get").groups("").resources("configmaps").names("a", "b")},
			servant: []rule{newRule("get").groups("").resources("configmaps").names("a")}},
		{name: "named owner misses other names",
			owner:   []rule{newRule("get").groups("").resources("configmaps").names("a")},
			servant: []rule{newRule("get").groups("").resources("configmaps").names("a", "c")},
			missing: []rule{newRule("get").groups("").resources("configmaps").names("c")}},
		{name: "star subresource covers every resource's",
			owner:   []rule{newRule("get").groups("").resources("*/status")},
			servant: []rule{newRule("get").groups("").resources("pods/status", "nodes/status")}},
		{name: "star subresource does not cover the resource",
			owner:   []rule{newRule("get").groups("").resources("*/status")},
			servant: []rule{newRule("get").groups("").resources("pods")},
			missing: []rule{newRule("get").groups("").resources("pods")}},
		{name: "resource does not cover its subresource",
			owner:   []rule{newRule("get").groups("").resources("pods")},
			servant: []rule{newRule("get").groups("").resources("pods/log")},
			missing: []rule{newRule("get").groups("").resources("pods/log")}},
		{name: "non-resource prefix",
			owner:   []rule{newRule("get").urls("/api/*")},
			servant: []rule{newRule("get").urls("/api/v1", "/api/v1/x")}},
		{name: "non-resource exact does not cover deeper paths",
			owner:   []rule{newRule("get").urls("/api")},
			servant: []rule{newRule("get").urls("/api", "/api/v1")},
			missing: []rule{newRule("get").urls("/api/v1")}},
		{name: "non-resource star",
			owner:   []rule{newRule("*").urls("*")},
			servant: []rule{newRule("get", "post").urls("/healthz", "/metrics")}},
		{name: "resource rules do not cover paths",
			owner:   []rule{newRule("*").groups("*").resources("*")},
			servant: []rule{newRule("get").urls("/metrics")},
			missing: []rule{newRule("get").urls("/metrics")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, missing := Covers(rules(tt.owner...), rules(tt.servant...))
			if ok != (len(tt.missing) == 0) {
				t.Errorf("covers = %v, want %v", ok, len(tt.missing) == 0)
			}
			if diff := cmp.Diff(rules(tt.missing...), missing, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("missing (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompactString(t *testing.T) {
	got := []string{}
	for _, r := range compact(rules(
		newRule("get").groups("").resources("pods"),
		newRule("list").groups("").resources("pods"),
		newRule("get").groups("").resources("configmaps").names("a"),
		newRule("get").urls("/metrics"),
	)) {
		got = append(got, compactString(r))
	}
	want := []string{
		`{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}`,
		`{APIGroups:[""], Resources:["configmaps"], ResourceNames:["a"], Verbs:["get"]}`,
		`{NonResourceURLs:["/metrics"], Verbs:["get"]}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
