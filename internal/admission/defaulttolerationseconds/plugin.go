package defaulttolerationseconds

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/admission"
)

// Plugin is the DefaultTolerationSeconds mutating admission plugin: it
// applies Apply to every new pod.
type Plugin struct{}

var _ admission.Mutator = Plugin{}

// Name is the upstream plugin name.
func (Plugin) Name() string { return "DefaultTolerationSeconds" }

// Admit adds the default tolerations to a new pod.
func (Plugin) Admit(_ context.Context, a *admission.Attributes) error {
	if a.Operation != admission.Create || a.Subresource != "" || a.Resource.GroupResource() != (schema.GroupResource{Resource: "pods"}) {
		return nil
	}
	if pod, ok := a.Object.(*corev1.Pod); ok {
		Apply(pod)
	}
	return nil
}
