package policy

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// costLimit bounds one expression's evaluation, as upstream's per-call limit.
const costLimit = 1_000_000

// compiler compiles and caches the policies' expressions.
type compiler struct {
	env      *cel.Env
	mu       sync.Mutex
	programs map[string]cel.Program
}

func newCompiler() (*compiler, error) {
	env, err := cel.NewEnv(
		cel.Variable("object", cel.DynType),
		cel.Variable("oldObject", cel.DynType),
		cel.Variable("request", cel.DynType),
		cel.Variable("params", cel.DynType),
		cel.Variable("namespaceObject", cel.DynType),
		cel.Variable("variables", cel.MapType(cel.StringType, cel.DynType)),
		cel.HomogeneousAggregateLiterals(),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(ext.StringsVersion(2)),
		ext.Sets(),
		ext.TwoVarComprehensions(),
		ext.Lists(ext.ListsVersion(3)),
	)
	if err != nil {
		return nil, fmt.Errorf("building the CEL environment: %w", err)
	}
	return &compiler{env: env, programs: map[string]cel.Program{}}, nil
}

func (c *compiler) program(expr string) (cel.Program, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.programs[expr]; ok {
		return p, nil
	}
	ast, iss := c.env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("compilation failed: %w", iss.Err())
	}
	p, err := c.env.Program(ast, cel.CostLimit(costLimit))
	if err != nil {
		return nil, err
	}
	c.programs[expr] = p
	return p, nil
}

func (c *compiler) eval(expr string, env map[string]any) (any, error) {
	p, err := c.program(expr)
	if err != nil {
		return nil, err
	}
	out, _, err := p.Eval(env)
	if err != nil {
		return nil, fmt.Errorf("expression '%s' resulted in error: %w", expr, err)
	}
	return out.Value(), nil
}

// bind evaluates the policy's variables in order (each may use the ones
// before it) into env["variables"].
func (c *compiler) bind(vars []admissionregistrationv1.Variable, env map[string]any) error {
	values := map[string]any{}
	env["variables"] = values
	for _, v := range vars {
		out, err := c.eval(v.Expression, env)
		if err != nil {
			return fmt.Errorf("variable %q: %w", v.Name, err)
		}
		values[v.Name] = out
	}
	return nil
}

// conditions reports whether every matchCondition holds.
func (c *compiler) conditions(conds []admissionregistrationv1.MatchCondition, env map[string]any) (bool, error) {
	for _, cond := range conds {
		out, err := c.eval(cond.Expression, env)
		if err != nil {
			return false, fmt.Errorf("matchCondition %q: %w", cond.Name, err)
		}
		if ok, isBool := out.(bool); !isBool {
			return false, fmt.Errorf("matchCondition %q: must evaluate to bool", cond.Name)
		} else if !ok {
			return false, nil
		}
	}
	return true, nil
}

// validate evaluates one validation: "" when it holds, else the message
// (messageExpression's, message, or upstream's "failed expression") and
// the reason.
func (c *compiler) validate(v admissionregistrationv1.Validation, env map[string]any) (string, metav1.StatusReason, error) {
	out, err := c.eval(v.Expression, env)
	if err != nil {
		return "", "", err
	}
	ok, isBool := out.(bool)
	if !isBool {
		return "", "", fmt.Errorf("expression '%s' must evaluate to bool", v.Expression)
	}
	if ok {
		return "", "", nil
	}
	reason := metav1.StatusReasonForbidden
	if v.Reason != nil {
		reason = *v.Reason
	}
	msg := v.Message
	if v.MessageExpression != "" {
		if m, err := c.eval(v.MessageExpression, env); err == nil {
			if s, ok := m.(string); ok && strings.TrimSpace(s) != "" && !strings.Contains(s, "\n") {
				msg = s
			}
		}
	}
	if msg == "" {
		msg = fmt.Sprintf("failed expression: %s", v.Expression)
	}
	return msg, reason, nil
}

// variables are the request's CEL values, shared by every binding.
type variables struct{ values map[string]any }

// with returns the activation for one parameter object.
func (v *variables) with(param any) map[string]any {
	env := make(map[string]any, len(v.values)+2)
	for k, x := range v.values {
		env[k] = x
	}
	env["params"] = param
	return env
}

// jsonValue is obj as JSON data, with its apiVersion and kind; nil for none.
func jsonValue(obj runtime.Object, gvk schema.GroupVersionKind) (any, error) {
	if obj == nil || reflect.ValueOf(obj).IsNil() {
		return nil, nil
	}
	if gvk.Kind != "" {
		obj = obj.DeepCopyObject()
		obj.GetObjectKind().SetGroupVersionKind(gvk)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}
