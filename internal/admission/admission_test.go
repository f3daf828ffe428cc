package admission

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

type labeler struct{ key string }

func (l labeler) Name() string { return "Labeler" }
func (l labeler) Admit(_ context.Context, a *Attributes) error {
	pod := a.Object.(*corev1.Pod)
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[l.key] = "yes"
	a.Warn("labelled " + l.key)
	return nil
}

type refuser struct{ err error }

func (r refuser) Name() string                                { return "Refuser" }
func (r refuser) Validate(context.Context, *Attributes) error { return r.err }

func TestChainOrderAndRefusals(t *testing.T) {
	pods := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	chain := Chain{Mutators: []Mutator{labeler{"a"}, labeler{"b"}}}
	a := &Attributes{Operation: Create, Resource: pods, Name: "p", Object: &corev1.Pod{}}
	if err := chain.Admit(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if got := a.Object.(*corev1.Pod).Labels; got["a"] != "yes" || got["b"] != "yes" {
		t.Errorf("labels = %v, want both mutators applied", got)
	}
	if w := a.Warnings(); len(w) != 2 || w[0] != "labelled a" {
		t.Errorf("warnings = %q", w)
	}

	plain := Chain{Validators: []Validator{refuser{errors.New("no pods today")}, refuser{apierrors.NewBadRequest("never reached")}}}
	err := plain.Validate(context.Background(), a)
	if !apierrors.IsForbidden(err) || err.Error() != `pods "p" is forbidden: Refuser: no pods today` {
		t.Errorf("plain error = %v, want 403 naming the plugin", err)
	}
	api := Chain{Validators: []Validator{refuser{apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "p", nil)}}}
	if err := api.Validate(context.Background(), a); !apierrors.IsInvalid(err) {
		t.Errorf("API error = %v, want it unchanged", err)
	}
	if err := (Chain{}).Validate(context.Background(), a); err != nil {
		t.Errorf("empty chain: %v", err)
	}
}
