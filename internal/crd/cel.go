package crd

import (
	"encoding/base64"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
)

// x-kubernetes-validations rules are evaluated with cel-go as upstream
// evaluates them (self, oldSelf for transition rules, optionalOldSelf,
// message, messageExpression, reason, fieldPath, cost limits, ratcheting),
// with these differences:
//
//   - self and oldSelf are dynamically typed, not typed from the schema:
//     a rule that reads a field the schema does not have is accepted with
//     the CRD and fails when evaluated (upstream rejects the CRD);
//   - the Kubernetes CEL libraries (url, regex find, lists isSorted and
//     sum, quantity, ip, cidr, format, semver, authz) are not there: rules
//     that call them are not enforced, and Version.Warnings names them;
//   - lists of x-kubernetes-list-type set and map compare as plain lists.
//
// Values reach CEL as upstream converts them: strings of format
// date-time and date as timestamps, duration as durations, byte as bytes,
// numbers as doubles, and object fields under their escaped names
// (foo-bar as foo__dash__bar).

const (
	// perCallCostLimit and costBudget are upstream's limits for one rule
	// evaluation and for all rules of one object.
	perCallCostLimit = 1000000
	costBudget       = 10000000
	// maxMessageSize is upstream's limit for an evaluated messageExpression.
	maxMessageSize = 5 * 1024
)

// celEnvs are the environments rules compile in: oldSelf is a plain value,
// or an optional one for rules with optionalOldSelf: true.
type celEnvs struct {
	plain, optional *cel.Env
}

// sharedCELEnvs builds the environments once: they are immutable and
// expensive to make.
var sharedCELEnvs = sync.OnceValues(func() (celEnvs, error) {
	base := []cel.EnvOption{
		cel.Variable("self", cel.DynType),
		cel.HomogeneousAggregateLiterals(),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		cel.ASTValidators(cel.ValidateDurationLiterals(), cel.ValidateTimestampLiterals(), cel.ValidateRegexLiterals(), cel.ValidateHomogeneousAggregateLiterals()),
		ext.Strings(ext.StringsVersion(2)),
		ext.Sets(),
		ext.TwoVarComprehensions(),
		ext.Lists(ext.ListsVersion(3)),
	}
	plain, err := cel.NewEnv(append(base, cel.Variable("oldSelf", cel.DynType))...)
	if err != nil {
		return celEnvs{}, fmt.Errorf("building the CEL environment: %w", err)
	}
	optional, err := cel.NewEnv(append(base, cel.Variable("oldSelf", cel.OptionalType(cel.DynType)))...)
	if err != nil {
		return celEnvs{}, fmt.Errorf("building the CEL environment: %w", err)
	}
	return celEnvs{plain, optional}, nil
})

// compiledRule is one x-kubernetes-validations rule ready to run.
type compiledRule struct {
	rule        apiextensionsv1.ValidationRule
	program     cel.Program
	message     cel.Program // nil without a usable messageExpression
	usesOldSelf bool
	fieldPath   string // the rule's fieldPath, normalized (spec.a[b]); "" for none
}

// ruleProblem is why a rule cannot run. Compile problems are what
// upstream rejects a CRD for; unsupported ones are rules berth cannot
// evaluate (they use functions of upstream's libraries).
type ruleProblem struct {
	compile, messageExpression, unsupported string
}

// compileRule compiles rule, which stands at schema s.
func compileRule(s *apiextensionsv1.JSONSchemaProps, rule apiextensionsv1.ValidationRule) (*compiledRule, ruleProblem) {
	envs, err := sharedCELEnvs()
	if err != nil {
		return nil, ruleProblem{compile: err.Error()}
	}
	env := envs.plain
	if rule.OptionalOldSelf != nil && *rule.OptionalOldSelf {
		env = envs.optional
	}
	ast, iss := env.Compile(rule.Rule)
	if iss.Err() != nil {
		if strings.Contains(iss.String(), "undeclared reference to") {
			return nil, ruleProblem{unsupported: iss.String()}
		}
		return nil, ruleProblem{compile: "compilation failed: " + iss.String()}
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, ruleProblem{compile: "cel expression must evaluate to a bool"}
	}
	r := &compiledRule{rule: rule}
	for _, ref := range ast.NativeRep().ReferenceMap() {
		if ref.Name == "oldSelf" {
			r.usesOldSelf = true
		}
	}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize, cel.OptTrackCost), cel.CostLimit(perCallCostLimit), cel.InterruptCheckFrequency(100)}
	if r.program, err = env.Program(ast, opts...); err != nil {
		return nil, ruleProblem{compile: "program instantiation failed: " + err.Error()}
	}
	if rule.FieldPath != "" {
		if p, _, err := schemaAtPath(rule.FieldPath, s, true); err == nil {
			r.fieldPath = p.String()
		}
	}
	if rule.MessageExpression == "" {
		return r, ruleProblem{}
	}
	mast, iss := env.Compile(rule.MessageExpression)
	switch {
	case iss.Err() != nil && strings.Contains(iss.String(), "undeclared reference to"):
		return r, ruleProblem{unsupported: iss.String()}
	case iss.Err() != nil:
		return r, ruleProblem{messageExpression: "messageExpression compilation failed: " + iss.String()}
	case !mast.OutputType().IsExactType(cel.StringType) && !mast.OutputType().IsExactType(cel.DynType):
		return r, ruleProblem{messageExpression: "messageExpression must evaluate to a string"}
	}
	if r.message, err = env.Program(mast, opts...); err != nil {
		return r, ruleProblem{messageExpression: "messageExpression instantiation failed: " + err.Error()}
	}
	return r, ruleProblem{}
}

// checkRuleCompilation reports, as upstream does when a CRD is written,
// the rules of s that do not compile, and transition rules where old
// values cannot be correlated (uncorrelatable is the list they are in).
func checkRuleCompilation(s *apiextensionsv1.JSONSchemaProps, pth, uncorrelatable *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, rule := range s.XValidations {
		rp := pth.Child("x-kubernetes-validations").Index(i)
		r, problem := compileRule(s, rule)
		if problem.compile != "" {
			errs = append(errs, field.Invalid(rp.Child("rule"), rule, problem.compile))
		}
		if problem.messageExpression != "" {
			errs = append(errs, field.Invalid(rp.Child("messageExpression"), rule, problem.messageExpression))
		}
		if r == nil {
			continue
		}
		if r.usesOldSelf && uncorrelatable != nil {
			errs = append(errs, field.Invalid(rp.Child("rule"), rule.Rule, fmt.Sprintf("oldSelf cannot be used on the uncorrelatable portion of the schema within %v", uncorrelatable)))
		}
		if !r.usesOldSelf && rule.OptionalOldSelf != nil {
			errs = append(errs, field.Invalid(rp.Child("optionalOldSelf"), *rule.OptionalOldSelf, "may not be set if oldSelf is not used in rule"))
		}
	}
	return errs
}

// celNode holds the compiled rules of one schema node and the nodes below
// it that have rules.
type celNode struct {
	schema     *apiextensionsv1.JSONSchemaProps
	resource   bool // the root or an embedded resource
	rules      []*compiledRule
	properties map[string]*celNode
	additional *celNode
	items      *celNode
}

// compileRules compiles the rules of a version's schema; nil when it has
// none. Rules that cannot run are left out; warnings says why.
func compileRules(s *apiextensionsv1.JSONSchemaProps, pth *field.Path, resource bool, warnings *[]string) *celNode {
	if s == nil {
		return nil
	}
	n := &celNode{schema: s, resource: resource || s.XEmbeddedResource}
	for i, rule := range s.XValidations {
		r, problem := compileRule(s, rule)
		switch {
		case problem.unsupported != "":
			*warnings = append(*warnings, fmt.Sprintf("%s: rule %q is not enforced: berth lacks a function it calls: %s", pth.Child("x-kubernetes-validations").Index(i), rule.Rule, problem.unsupported))
		case r == nil:
			*warnings = append(*warnings, fmt.Sprintf("%s: rule %q is not enforced: %s", pth.Child("x-kubernetes-validations").Index(i), rule.Rule, problem.compile))
		default:
			n.rules = append(n.rules, r)
		}
	}
	if s.Items != nil {
		n.items = compileRules(s.Items.Schema, pth.Child("items"), false, warnings)
	}
	for _, k := range sortedKeys(s.Properties) {
		p := s.Properties[k]
		if c := compileRules(&p, pth.Child("properties").Key(k), false, warnings); c != nil {
			if n.properties == nil {
				n.properties = map[string]*celNode{}
			}
			n.properties[k] = c
		}
	}
	if s.AdditionalProperties != nil {
		n.additional = compileRules(s.AdditionalProperties.Schema, pth.Child("additionalProperties"), false, warnings)
	}
	if len(n.rules) == 0 && n.items == nil && n.properties == nil && n.additional == nil {
		return nil
	}
	return n
}

// celRun is one evaluation of the rules over an object.
type celRun struct {
	budget int64
	errs   field.ErrorList
}

// walk evaluates the rules of n on x (old is its counterpart in the old
// object, corr its correlation for ratcheting, parent the nearest
// correlation above) and below it. It returns false once the budget is
// spent.
func (r *celRun) walk(pth *field.Path, x, old any, n *celNode, corr, parent *correlated) bool {
	if n == nil || x == nil {
		return true
	}
	if !r.evaluate(pth, x, old, n, corr, parent) {
		return false
	}
	switch x := x.(type) {
	case map[string]any:
		oldMap, _ := old.(map[string]any)
		for _, k := range sortedKeys(x) {
			child, p := n.properties[k], pth.Child(k)
			if _, ok := n.schema.Properties[k]; !ok {
				child, p = n.additional, pth.Key(k)
			}
			if child == nil {
				continue
			}
			if !r.walk(p, x[k], oldMap[k], child, corr.key(k), corrOrParent(corr, parent)) {
				return false
			}
		}
	case []any:
		if n.items == nil {
			return true
		}
		oldList, _ := old.([]any)
		byKey := oldItemsByKey(n.schema, oldList)
		for i, item := range x {
			var oldItem any
			if k, ok := mapListKey(item, n.schema.XListMapKeys); ok && byKey != nil {
				oldItem = byKey[k]
			}
			if !r.walk(pth.Index(i), item, oldItem, n.items, corr.index(i), corrOrParent(corr, parent)) {
				return false
			}
		}
	}
	return true
}

func corrOrParent(corr, parent *correlated) *correlated {
	if corr != nil {
		return corr
	}
	return parent
}

// oldItemsByKey indexes the old items of a list-type map list by key; nil
// for other lists, whose items do not correlate.
func oldItemsByKey(s *apiextensionsv1.JSONSchemaProps, old []any) map[string]any {
	if s.XListType == nil || *s.XListType != "map" || old == nil {
		return nil
	}
	byKey := make(map[string]any, len(old))
	for _, o := range old {
		if k, ok := mapListKey(o, s.XListMapKeys); ok {
			if _, dup := byKey[k]; !dup {
				byKey[k] = o
			}
		}
	}
	return byKey
}

// evaluate runs the rules of n on x.
func (r *celRun) evaluate(pth *field.Path, x, old any, n *celNode, corr, parent *correlated) bool {
	if len(n.rules) == 0 {
		return true
	}
	typ := n.schema.Type
	if r.budget <= 0 {
		r.errs = append(r.errs, field.Invalid(pth, typ, "validation failed due to running out of cost budget, no further validation rules will be run"))
		return false
	}
	self := types.DefaultTypeAdapter.NativeToValue(celValue(x, n.schema, n.resource))
	var oldSelf ref.Val
	if old != nil {
		oldSelf = types.DefaultTypeAdapter.NativeToValue(celValue(old, n.schema, n.resource))
	}
	ratchet := false
	if c := corrOrParent(corr, parent); c != nil {
		ratchet = c.unchanged()
	}
	for _, cr := range n.rules {
		optional := cr.rule.OptionalOldSelf != nil && *cr.rule.OptionalOldSelf
		if cr.usesOldSelf && oldSelf == nil && !optional {
			continue
		}
		vars := map[string]any{"self": self}
		switch {
		case optional && oldSelf != nil:
			vars["oldSelf"] = types.OptionalOf(oldSelf)
		case optional:
			vars["oldSelf"] = types.OptionalNone
		case oldSelf != nil:
			vars["oldSelf"] = oldSelf
		}
		out, details, err := cr.program.Eval(vars)
		if !r.spend(details) {
			r.errs = append(r.errs, field.Invalid(pth, typ, "validation failed due to running out of cost budget, no further validation rules will be run"))
			return false
		}
		if err != nil {
			switch msg := err.Error(); {
			case strings.HasPrefix(msg, "no such overload"):
				r.errs = append(r.errs, field.Invalid(pth, typ, fmt.Sprintf("'%v': call arguments did not match a supported operator, function or macro signature for rule: %v", err, ruleText(cr.rule))))
			case strings.HasPrefix(msg, "operation cancelled: actual cost limit exceeded"):
				r.errs = append(r.errs, field.Invalid(pth, typ, fmt.Sprintf("'%v': no further validation rules will be run due to call cost exceeds limit for rule: %v", err, ruleText(cr.rule))))
				return false
			default:
				r.errs = append(r.errs, field.Invalid(pth, typ, fmt.Sprintf("%v evaluating rule: %v", err, ruleText(cr.rule))))
			}
			continue
		}
		if out == types.True {
			continue
		}
		if !cr.usesOldSelf && ratchet {
			continue
		}
		errPath := pth
		if cr.fieldPath != "" {
			errPath = pth.Child(cr.fieldPath)
		}
		detail := ""
		if cr.message != nil {
			msg, stop := r.message(cr.message, cr.rule.MessageExpression, vars)
			if stop != "" {
				r.errs = append(r.errs, field.Invalid(errPath, typ, stop))
				return false
			}
			detail = msg
		}
		if detail == "" {
			detail = "failed rule: " + ruleText(cr.rule)
			if cr.rule.Message != "" {
				detail = strings.TrimSpace(cr.rule.Message)
			}
		}
		var value any = x
		if typ == "object" || typ == "array" {
			value = field.OmitValueType{}
		}
		r.errs = append(r.errs, reasonError(errPath, value, detail, cr.rule.Reason))
	}
	return true
}

// message evaluates a messageExpression; "" when it gives no usable
// message (upstream then falls back to the message). stop is the error
// that ends the evaluation of rules, when the cost limits are reached.
func (r *celRun) message(p cel.Program, expr string, vars map[string]any) (msg, stop string) {
	out, details, err := p.Eval(vars)
	if !r.spend(details) {
		return "", "messageExpression evaluation failed due to running out of cost budget, no further validation rules will be run"
	}
	if err != nil {
		if strings.HasPrefix(err.Error(), "operation cancelled: actual cost limit exceeded") {
			return "", fmt.Sprintf("no further validation rules will be run due to call cost exceeds limit for messageExpression: %q", expr)
		}
		return "", ""
	}
	s, ok := out.Value().(string)
	s = strings.TrimSpace(s)
	if !ok || len(s) > maxMessageSize || strings.Contains(s, "\n") {
		return "", ""
	}
	return s, ""
}

// spend takes the cost of an evaluation from the budget; false when the
// budget does not cover it.
func (r *celRun) spend(details *cel.EvalDetails) bool {
	if details == nil || details.ActualCost() == nil {
		return true
	}
	c := *details.ActualCost()
	if c > math.MaxInt64 || int64(c) > r.budget {
		r.budget = -1
		return false
	}
	r.budget -= int64(c)
	return true
}

func ruleText(rule apiextensionsv1.ValidationRule) string {
	if rule.Message != "" {
		return strings.TrimSpace(rule.Message)
	}
	return strings.TrimSpace(rule.Rule)
}

// reasonError is the error a failed rule gives, by its reason.
func reasonError(pth *field.Path, value any, detail string, reason *apiextensionsv1.FieldValueErrorReason) *field.Error {
	if reason == nil {
		return field.Invalid(pth, value, detail)
	}
	switch *reason {
	case apiextensionsv1.FieldValueForbidden:
		return field.Forbidden(pth, detail)
	case apiextensionsv1.FieldValueRequired:
		return field.Required(pth, detail)
	case apiextensionsv1.FieldValueDuplicate:
		return field.Duplicate(pth, value)
	}
	return field.Invalid(pth, value, detail)
}

// celValue converts an unstructured value with schema s to the Go value
// CEL sees, as upstream converts it. resource says s is the root or an
// embedded resource, whose apiVersion, kind, and metadata name and
// generateName are visible too.
func celValue(x any, s *apiextensionsv1.JSONSchemaProps, resource bool) any {
	if x == nil || s == nil {
		return x
	}
	if s.XIntOrString {
		return x
	}
	switch s.Type {
	case "object":
		m, ok := x.(map[string]any)
		if !ok {
			return x
		}
		if len(s.Properties) == 0 && !resource && !s.XEmbeddedResource {
			if s.AdditionalProperties == nil || s.AdditionalProperties.Schema == nil {
				return m
			}
			out := make(map[string]any, len(m))
			for k, v := range m {
				out[k] = celValue(v, s.AdditionalProperties.Schema, s.AdditionalProperties.Schema.XEmbeddedResource)
			}
			return out
		}
		out := make(map[string]any, len(m))
		for k, v := range m {
			name, ok := escapeCELName(k)
			if !ok {
				continue
			}
			if p, ok := s.Properties[k]; ok {
				out[name] = celValue(v, &p, p.XEmbeddedResource)
			} else if (resource || s.XEmbeddedResource) && (k == "apiVersion" || k == "kind") {
				out[name] = v
			} else if (resource || s.XEmbeddedResource) && k == "metadata" {
				out[name] = resourceMetadata(v)
			}
		}
		return out
	case "array":
		l, ok := x.([]any)
		if !ok || s.Items == nil || s.Items.Schema == nil {
			return x
		}
		out := make([]any, len(l))
		for i, v := range l {
			out[i] = celValue(v, s.Items.Schema, s.Items.Schema.XEmbeddedResource)
		}
		return out
	case "string":
		str, ok := x.(string)
		if !ok {
			return x
		}
		switch s.Format {
		case "duration":
			if d, err := strfmt.ParseDuration(str); err == nil {
				return d
			}
		case "date":
			if d, err := time.Parse(strfmt.RFC3339FullDate, str); err == nil {
				return d
			}
		case "date-time":
			if d, err := strfmt.ParseDateTime(str); err == nil {
				return time.Time(d)
			}
		case "byte":
			if b, err := base64.StdEncoding.DecodeString(str); err == nil {
				return b
			}
		}
		return str
	case "number":
		switch v := x.(type) {
		case int64:
			return float64(v)
		}
	}
	return x
}

// resourceMetadata is the metadata of a resource as rules see it: its
// name and generateName only.
func resourceMetadata(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := map[string]any{}
	for _, k := range []string{"name", "generateName"} {
		if x, ok := m[k]; ok {
			out[k] = x
		}
	}
	return out
}

// celReserved are the names CEL reserves; fields so named are reached as
// __name__.
var celReserved = map[string]bool{
	"true": true, "false": true, "null": true, "in": true, "as": true, "break": true, "const": true,
	"continue": true, "else": true, "for": true, "function": true, "if": true, "import": true, "let": true,
	"loop": true, "package": true, "namespace": true, "return": true, "var": true, "void": true, "while": true,
}

// escapeCELName is the name under which rules reach field k, as upstream
// escapes it; false when k cannot be reached.
func escapeCELName(k string) (string, bool) {
	if k == "" || ('0' <= k[0] && k[0] <= '9') {
		return "", false
	}
	if celReserved[k] {
		return "__" + k + "__", true
	}
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '_' && i+1 < len(k) && k[i+1] == '_':
			b.WriteString("__underscores__")
			i++
		case c == '.':
			b.WriteString("__dot__")
		case c == '-':
			b.WriteString("__dash__")
		case c == '/':
			b.WriteString("__slash__")
		case c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9'):
			b.WriteByte(c)
		default:
			return "", false
		}
	}
	return b.String(), true
}

// hasBlockingError says whether errs hold errors after which upstream does
// not run the rules (the object is too far from its schema).
func hasBlockingError(errs field.ErrorList) bool {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

// validateRules evaluates the version's rules on obj (old is nil for a
// create), after the schema errors errs.
func (v *Version) validateRules(errs field.ErrorList, obj, old map[string]any) field.ErrorList {
	if v.rules == nil {
		return nil
	}
	if hasBlockingError(errs) {
		return field.ErrorList{field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation")}
	}
	run := &celRun{budget: costBudget}
	var corr *correlated
	var oldRoot any
	if old != nil {
		corr = &correlated{old: old, new: obj, schema: v.openapi}
		oldRoot = old
	}
	run.walk(nil, obj, oldRoot, v.rules, corr, nil)
	return run.errs
}

// Warnings returns what the version's schema asks for that berth does not
// do: the x-kubernetes-validations rules it does not enforce, and why.
// The API server can pass them on as warnings when the CRD is written.
func (v *Version) Warnings() []string {
	return v.warnings
}
