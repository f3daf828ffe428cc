package webhook

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"berth.dev/berth/internal/admission"
)

// conditions compiles and caches matchCondition expressions.
type conditions struct {
	mu       sync.Mutex
	env      *cel.Env
	programs map[string]cel.Program
}

// newConditions declares the variables upstream gives matchConditions:
// object, oldObject and request.
func newConditions() *conditions {
	env, err := cel.NewEnv(
		cel.Variable("object", cel.DynType),
		cel.Variable("oldObject", cel.DynType),
		cel.Variable("request", cel.DynType),
	)
	if err != nil {
		panic(fmt.Sprintf("webhook: CEL environment: %v", err)) // fixed declarations: cannot fail
	}
	return &conditions{env: env, programs: map[string]cel.Program{}}
}

func (c *conditions) program(expr string) (cel.Program, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.programs[expr]; ok {
		return p, nil
	}
	ast, iss := c.env.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if t := ast.OutputType(); t != cel.BoolType && t != cel.DynType {
		return nil, fmt.Errorf("must evaluate to bool, not %v", t)
	}
	p, err := c.env.Program(ast, cel.CostLimit(1_000_000))
	if err != nil {
		return nil, err
	}
	c.programs[expr] = p
	return p, nil
}

// match reports whether every condition holds for a; an expression that
// fails to compile or evaluate is an error, as upstream.
func (c *conditions) match(conds []admissionregistrationv1.MatchCondition, a *admission.Attributes) (bool, error) {
	if len(conds) == 0 {
		return true, nil
	}
	vars, err := celVariables(a)
	if err != nil {
		return false, err
	}
	for _, cond := range conds {
		p, err := c.program(cond.Expression)
		if err != nil {
			return false, fmt.Errorf("matchCondition %q: %w", cond.Name, err)
		}
		out, _, err := p.Eval(vars)
		if err != nil {
			return false, fmt.Errorf("matchCondition %q: %w", cond.Name, err)
		}
		if ok, isBool := out.Value().(bool); !isBool || !ok {
			return false, nil
		}
	}
	return true, nil
}

// celVariables are object, oldObject and the rest of the AdmissionRequest
// as JSON values.
func celVariables(a *admission.Attributes) (map[string]any, error) {
	req, err := request(a)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var r map[string]any
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	vars := map[string]any{"object": r["object"], "oldObject": r["oldObject"], "request": r}
	delete(r, "object")
	delete(r, "oldObject")
	return vars, nil
}
