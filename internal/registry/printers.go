package registry

import "k8s.io/apimachinery/pkg/runtime/schema"

// kindPrinters returns the printer columns and selectable fields of each kind.
func kindPrinters() map[schema.GroupKind]Strategy {
	return map[schema.GroupKind]Strategy{}
}
