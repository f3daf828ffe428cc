package plugins

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// tolerates reports whether any of tolerations tolerates taint. The
// numeric comparison operators (an alpha feature upstream) are off.
func tolerates(tolerations []v1.Toleration, taint *v1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(klog.Background(), taint, false) {
			return true
		}
	}
	return false
}
