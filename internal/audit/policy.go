package audit

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"berth.dev/berth/internal/auth"
)

// The apiVersion of policies, events and event lists.
const APIVersion = "audit.k8s.io/v1"

// Level is how much of a request is recorded.
type Level string

const (
	// LevelNone: not recorded.
	LevelNone Level = "None"
	// LevelMetadata: who, what, when and the outcome, no bodies.
	LevelMetadata Level = "Metadata"
	// LevelRequest: Metadata and the request body.
	LevelRequest Level = "Request"
	// LevelRequestResponse: Request and the response body.
	LevelRequestResponse Level = "RequestResponse"
)

func (l Level) rank() int {
	switch l {
	case LevelMetadata:
		return 1
	case LevelRequest:
		return 2
	case LevelRequestResponse:
		return 3
	}
	return 0
}

// AtLeast reports whether l records as much as other.
func (l Level) AtLeast(other Level) bool { return l.rank() >= other.rank() }

// Stage is the point of a request's handling an event is about.
type Stage string

const (
	StageRequestReceived  Stage = "RequestReceived"
	StageResponseStarted  Stage = "ResponseStarted"
	StageResponseComplete Stage = "ResponseComplete"
	StagePanic            Stage = "Panic"
)

// stageSet is a set of stages as bits.
type stageSet uint8

func stageBit(s Stage) stageSet {
	switch s {
	case StageRequestReceived:
		return 1
	case StageResponseStarted:
		return 2
	case StageResponseComplete:
		return 4
	case StagePanic:
		return 8
	}
	return 0
}

func (s stageSet) has(st Stage) bool { return s&stageBit(st) != 0 }

// Policy is upstream's audit.k8s.io/v1 Policy.
type Policy struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name,omitempty"`
	} `json:"metadata,omitzero"`
	// Rules are tried in order; the first that matches decides the level.
	// A request no rule matches is not recorded.
	Rules []PolicyRule `json:"rules"`
	// OmitStages are left out for every request.
	OmitStages []Stage `json:"omitStages,omitempty"`
	// OmitManagedFields drops metadata.managedFields from recorded bodies
	// unless a rule says otherwise.
	OmitManagedFields bool `json:"omitManagedFields,omitempty"`
}

// PolicyRule matches requests; every field set must match.
type PolicyRule struct {
	Level Level `json:"level"`
	// Users and UserGroups: the user's name, or one of its groups.
	Users      []string `json:"users,omitempty"`
	UserGroups []string `json:"userGroups,omitempty"`
	Verbs      []string `json:"verbs,omitempty"`
	// Resources and Namespaces match resource requests only ("" is
	// cluster-scoped); NonResourceURLs match other paths only, exactly
	// or by a trailing "*".
	Resources       []GroupResources `json:"resources,omitempty"`
	Namespaces      []string         `json:"namespaces,omitempty"`
	NonResourceURLs []string         `json:"nonResourceURLs,omitempty"`
	// OmitStages are left out in addition to the policy's.
	OmitStages []Stage `json:"omitStages,omitempty"`
	// OmitManagedFields, when set, overrides the policy's.
	OmitManagedFields *bool `json:"omitManagedFields,omitempty"`
}

// GroupResources matches resources of one API group ("" is core).
type GroupResources struct {
	Group string `json:"group,omitempty"`
	// Resources are names, "name/subresource", "*" (all, with
	// subresources), "*/subresource" and "name/*"; empty means all.
	Resources []string `json:"resources,omitempty"`
	// ResourceNames limits the match to these object names.
	ResourceNames []string `json:"resourceNames,omitempty"`
}

// ParsePolicy decodes and validates a policy file (YAML or JSON).
func ParsePolicy(data []byte) (*Policy, error) {
	var p Policy
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		return nil, fmt.Errorf("decoding audit policy: %w", err)
	}
	if p.APIVersion != APIVersion || p.Kind != "Policy" {
		return nil, fmt.Errorf("audit policy: want apiVersion %s and kind Policy, got %q and %q", APIVersion, p.APIVersion, p.Kind)
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("audit policy: %w", err)
	}
	return &p, nil
}

// LoadPolicy reads and parses the policy file at path.
func LoadPolicy(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading audit policy: %w", err)
	}
	p, err := ParsePolicy(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// defaultPolicy is what berth records without --audit-policy-file.
const defaultPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  # Health checks and the version are asked for constantly, by anyone.
  - level: None
    nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version", "/version/"]
  # Bodies of these hold credentials or often do: never record them,
  # whatever rules are added below.
  - level: Metadata
    resources:
      - group: ""
        resources: [secrets, configmaps, serviceaccounts/token]
      - group: authentication.k8s.io
        resources: [tokenreviews]
  - level: Metadata
`

// DefaultPolicy returns berth's default policy: Metadata for every request
// except health checks and /version, never a body, no RequestReceived stage.
func DefaultPolicy() *Policy {
	p, err := ParsePolicy([]byte(defaultPolicy))
	if err != nil {
		panic("audit: the default policy is invalid: " + err.Error())
	}
	return p
}

func (p *Policy) validate() error {
	if len(p.Rules) == 0 {
		return errors.New("loaded illegal policy with 0 rules")
	}
	if err := validateStages(p.OmitStages); err != nil {
		return fmt.Errorf("omitStages: %w", err)
	}
	for i, r := range p.Rules {
		if err := r.validate(); err != nil {
			return fmt.Errorf("rules[%d]: %w", i, err)
		}
	}
	return nil
}

func (r PolicyRule) validate() error {
	switch r.Level {
	case LevelNone, LevelMetadata, LevelRequest, LevelRequestResponse:
	case "":
		return errors.New("level: Required value")
	default:
		return fmt.Errorf("level: Unsupported value: %q: supported values: None, Metadata, Request, RequestResponse", r.Level)
	}
	if len(r.NonResourceURLs) > 0 && (len(r.Resources) > 0 || len(r.Namespaces) > 0) {
		return errors.New("nonResourceURLs: rules cannot apply to both regular resources and non-resource URLs")
	}
	for _, u := range r.NonResourceURLs {
		if u == "*" {
			continue
		}
		if !strings.HasPrefix(u, "/") {
			return fmt.Errorf("nonResourceURLs: %q: non-resource URL rules must begin with a '/' character", u)
		}
		if strings.Contains(u[:len(u)-1], "*") {
			return fmt.Errorf("nonResourceURLs: %q: non-resource URL wildcards '*' must be the final character of the rule", u)
		}
	}
	for _, gr := range r.Resources {
		if gr.Group != "" && gr.Group != "*" {
			if msgs := validation.IsDNS1123Subdomain(gr.Group); len(msgs) > 0 {
				return fmt.Errorf("resources.group: %q: %s", gr.Group, strings.Join(msgs, ","))
			}
		}
		if len(gr.ResourceNames) > 0 && len(gr.Resources) == 0 {
			return errors.New("resources.resourceNames: using resourceNames requires at least one resource")
		}
	}
	if err := validateStages(r.OmitStages); err != nil {
		return fmt.Errorf("omitStages: %w", err)
	}
	return nil
}

func validateStages(stages []Stage) error {
	for _, s := range stages {
		if stageBit(s) == 0 {
			return fmt.Errorf("%q: allowed stages are RequestReceived,ResponseStarted,ResponseComplete,Panic", s)
		}
	}
	return nil
}

// Decision is what the policy says about one request.
type Decision struct {
	Level             Level
	omit              stageSet
	OmitManagedFields bool
}

// Evaluate returns the level and omitted stages of the first rule that
// matches a, or level None. It does not allocate.
func (p *Policy) Evaluate(a auth.Attributes) Decision {
	for i := range p.Rules {
		r := &p.Rules[i]
		if !r.matches(a) {
			continue
		}
		d := Decision{Level: r.Level, OmitManagedFields: p.OmitManagedFields}
		for _, s := range p.OmitStages {
			d.omit |= stageBit(s)
		}
		for _, s := range r.OmitStages {
			d.omit |= stageBit(s)
		}
		if r.OmitManagedFields != nil {
			d.OmitManagedFields = *r.OmitManagedFields
		}
		return d
	}
	return Decision{Level: LevelNone}
}

// Omits reports whether the decision leaves stage s out.
func (d Decision) Omits(s Stage) bool { return d.omit.has(s) }

func (r *PolicyRule) matches(a auth.Attributes) bool {
	if len(r.Users) > 0 && (a.User.Name == "" || !slices.Contains(r.Users, a.User.Name)) {
		return false
	}
	if len(r.UserGroups) > 0 && !slices.ContainsFunc(a.User.Groups, func(g string) bool { return slices.Contains(r.UserGroups, g) }) {
		return false
	}
	if len(r.Verbs) > 0 && !slices.Contains(r.Verbs, a.Verb) {
		return false
	}
	if len(r.Namespaces) > 0 || len(r.Resources) > 0 {
		return r.matchesResource(a)
	}
	if len(r.NonResourceURLs) > 0 {
		if a.IsResource {
			return false
		}
		return slices.ContainsFunc(r.NonResourceURLs, func(spec string) bool { return pathMatches(a.Path, spec) })
	}
	return true
}

func (r *PolicyRule) matchesResource(a auth.Attributes) bool {
	if !a.IsResource {
		return false
	}
	if len(r.Namespaces) > 0 && !slices.Contains(r.Namespaces, a.Namespace) {
		return false
	}
	if len(r.Resources) == 0 {
		return true
	}
	for _, gr := range r.Resources {
		if gr.Group != a.APIGroup {
			continue
		}
		if len(gr.Resources) == 0 {
			return true
		}
		if len(gr.ResourceNames) > 0 && !slices.Contains(gr.ResourceNames, a.Name) {
			continue
		}
		for _, spec := range gr.Resources {
			if resourceMatches(spec, a.Resource, a.Subresource) {
				return true
			}
		}
	}
	return false
}

// resourceMatches matches "res", "res/sub", "*", "*/sub" and "res/*".
func resourceMatches(spec, resource, subresource string) bool {
	if spec == "*" {
		return true
	}
	if subresource == "" {
		return spec == resource || (strings.HasSuffix(spec, "/*") && spec[:len(spec)-2] == resource)
	}
	specRes, specSub, ok := strings.Cut(spec, "/")
	if !ok {
		return false
	}
	return (specRes == resource || specRes == "*") && (specSub == subresource || (specSub == "*" && specRes == resource))
}

func pathMatches(path, spec string) bool {
	if spec == "*" || spec == path {
		return true
	}
	prefix, ok := strings.CutSuffix(spec, "*")
	return ok && strings.HasPrefix(path, prefix)
}
