package namespace

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// contentReport is what one pass over a terminating namespace's content
// found. Its zero value is a clean pass: everything discovered and deleted.
type contentReport struct {
	// discoveryErr is why discovery failed, for some groups or for all.
	discoveryErr error
	// parseErrs are the group versions in discovery that did not parse.
	parseErrs []error
	// deleteErrs are the resources whose content could not be deleted.
	deleteErrs []error
	// remaining counts the objects still present, by resource.
	remaining map[schema.GroupVersionResource]int
	// finalizers counts the remaining objects holding each finalizer.
	finalizers map[string]int
	// estimate is how many seconds the remaining content is expected to
	// need before it goes; 0 when nothing is expected to go by itself.
	estimate int64
}

// addRemaining records n objects of gvr still present, fins counting the
// finalizers they hold.
func (r *contentReport) addRemaining(gvr schema.GroupVersionResource, n int, fins map[string]int) {
	if n == 0 {
		return
	}
	if r.remaining == nil {
		r.remaining = map[schema.GroupVersionResource]int{}
	}
	r.remaining[gvr] += n
	for f, k := range fins {
		if k == 0 {
			continue
		}
		if r.finalizers == nil {
			r.finalizers = map[string]int{}
		}
		r.finalizers[f] += k
	}
}

// err joins the failures of the pass; nil when there were none.
func (r *contentReport) err() error {
	errs := append([]error{r.discoveryErr}, r.parseErrs...)
	return errors.Join(append(errs, r.deleteErrs...)...)
}

// conditionTypes are the namespace conditions this controller maintains,
// in the order it writes them.
var conditionTypes = []corev1.NamespaceConditionType{
	corev1.NamespaceDeletionDiscoveryFailure,
	corev1.NamespaceDeletionGVParsingFailure,
	corev1.NamespaceDeletionContentFailure,
	corev1.NamespaceContentRemaining,
	corev1.NamespaceFinalizersRemaining,
}

// conditions returns one condition of every type in conditionTypes,
// describing r with upstream's reasons and messages: status True with the
// problem, or False with the all-clear. Each carries transition time now.
func (r *contentReport) conditions(now metav1.Time) []corev1.NamespaceCondition {
	out := make([]corev1.NamespaceCondition, 0, len(conditionTypes))
	add := func(t corev1.NamespaceConditionType, failing bool, reason, message string) {
		status := corev1.ConditionFalse
		if failing {
			status = corev1.ConditionTrue
		}
		out = append(out, corev1.NamespaceCondition{
			Type: t, Status: status, LastTransitionTime: now, Reason: reason, Message: message,
		})
	}

	if r.discoveryErr != nil {
		msg := r.discoveryErr.Error()
		if derr := (*discovery.ErrGroupDiscoveryFailed)(nil); errors.As(r.discoveryErr, &derr) {
			msg = fmt.Sprintf("Discovery failed for some groups, %d failing: %v", len(derr.Groups), derr)
		}
		add(corev1.NamespaceDeletionDiscoveryFailure, true, "DiscoveryFailed", msg)
	} else {
		add(corev1.NamespaceDeletionDiscoveryFailure, false, "ResourcesDiscovered", "All resources successfully discovered")
	}

	if len(r.parseErrs) > 0 {
		add(corev1.NamespaceDeletionGVParsingFailure, true, "GroupVersionParsingFailed", joinSorted(errorStrings(r.parseErrs)))
	} else {
		add(corev1.NamespaceDeletionGVParsingFailure, false, "ParsedGroupVersions", "All legacy kube types successfully parsed")
	}

	if len(r.deleteErrs) > 0 {
		add(corev1.NamespaceDeletionContentFailure, true, "ContentDeletionFailed",
			fmt.Sprintf("Failed to delete all resource types, %d remaining: %s", len(r.deleteErrs), joinSorted(errorStrings(r.deleteErrs))))
	} else {
		add(corev1.NamespaceDeletionContentFailure, false, "ContentDeleted", "All content successfully deleted, may be waiting on finalization")
	}

	if len(r.remaining) > 0 {
		var parts []string
		for gvr, n := range r.remaining {
			parts = append(parts, fmt.Sprintf("%s.%s has %d resource instances", gvr.Resource, gvr.Group, n))
		}
		add(corev1.NamespaceContentRemaining, true, "SomeResourcesRemain", "Some resources are remaining: "+joinSorted(parts))
	} else {
		add(corev1.NamespaceContentRemaining, false, "ContentRemoved", "All content successfully removed")
	}

	if len(r.finalizers) > 0 {
		var parts []string
		for f, n := range r.finalizers {
			parts = append(parts, fmt.Sprintf("%s in %d resource instances", f, n))
		}
		add(corev1.NamespaceFinalizersRemaining, true, "SomeFinalizersRemain",
			"Some content in the namespace has finalizers remaining: "+joinSorted(parts))
	} else {
		add(corev1.NamespaceFinalizersRemaining, false, "ContentHasNoFinalizers", "All content-preserving finalizers finished")
	}
	return out
}

func errorStrings(errs []error) []string {
	out := make([]string, len(errs))
	for i, err := range errs {
		out[i] = err.Error()
	}
	return out
}

// joinSorted joins parts sorted, so that messages are stable across syncs.
func joinSorted(parts []string) string {
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// mergeConditions writes want into status: a condition of a new type is
// appended, one whose status, reason or message differs is rewritten
// (keeping its transition time unless its status changed), others of
// status are kept as they are. It reports whether status changed.
func mergeConditions(status *corev1.NamespaceStatus, want []corev1.NamespaceCondition) bool {
	changed := false
	for _, w := range want {
		i := slices.IndexFunc(status.Conditions, func(c corev1.NamespaceCondition) bool { return c.Type == w.Type })
		if i < 0 {
			status.Conditions = append(status.Conditions, w)
			changed = true
			continue
		}
		old := &status.Conditions[i]
		if old.Status == w.Status && old.Reason == w.Reason && old.Message == w.Message {
			continue
		}
		if old.Status != w.Status {
			old.LastTransitionTime = w.LastTransitionTime
		}
		old.Status, old.Reason, old.Message = w.Status, w.Reason, w.Message
		changed = true
	}
	return changed
}
