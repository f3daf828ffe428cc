package plugins

import (
	v1 "k8s.io/api/core/v1"
)

// tolerates reports whether any of tolerations tolerates taint: the
// toleration's effect is empty or equal, its key empty or equal, and its
// operator Exists, or Equal (the default) with an equal value. The
// numeric Lt and Gt operators (an alpha feature upstream) match nothing.
func tolerates(tolerations []v1.Toleration, taint *v1.Taint) bool {
	for _, t := range tolerations {
		if t.Effect != "" && t.Effect != taint.Effect || t.Key != "" && t.Key != taint.Key {
			continue
		}
		switch t.Operator {
		case v1.TolerationOpExists:
			return true
		case "", v1.TolerationOpEqual:
			if t.Value == taint.Value {
				return true
			}
		}
	}
	return false
}
