package registry

import "k8s.io/apimachinery/pkg/runtime/schema"

// kindChecks returns the defaulting and validation of each kind.
func kindChecks() map[schema.GroupKind]Strategy {
	return map[schema.GroupKind]Strategy{}
}
