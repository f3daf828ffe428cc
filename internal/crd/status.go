package crd

import (
	"fmt"
	"slices"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// Status computes the status of crd that upstream's controllers (naming,
// establishing, API approval) arrive at, from its current status and the
// other CRDs (others may include crd itself; it is skipped by name):
//
//   - acceptedNames: each requested name that is already accepted, or not
//     in use by another CRD of the same group (plural, singular and short
//     names share one namespace, kind and listKind another); a name in use
//     keeps the previously accepted one and makes NamesAccepted False with
//     a reason such as PluralConflict and a message like `"foos" is
//     already in use`. Nothing changes while spec.names equals the
//     accepted names.
//   - Established: True (InitialNamesAccepted) once names were accepted;
//     it stays True when a later change of names conflicts.
//   - KubernetesAPIApprovalPolicyConformant, for the groups *.k8s.io and
//     *.kubernetes.io only, from the api-approved.kubernetes.io annotation.
//   - storedVersions: the current list, plus the storage version.
//
// Conditions that change status get now as their lastTransitionTime; the
// result is otherwise a function of its arguments. crd is not modified.
func Status(crd *apiextensionsv1.CustomResourceDefinition, others []*apiextensionsv1.CustomResourceDefinition, now time.Time) apiextensionsv1.CustomResourceDefinitionStatus {
	st := *crd.Status.DeepCopy()
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			if !slices.Contains(st.StoredVersions, v.Name) {
				st.StoredVersions = append(st.StoredVersions, v.Name)
			}
			break
		}
	}
	t := metav1.NewTime(now)
	if !apiequality.Semantic.DeepEqual(crd.Spec.Names, crd.Status.AcceptedNames) {
		names, accepted, established := acceptNames(crd, others)
		st.AcceptedNames = names
		setCondition(&st, accepted, t)
		setCondition(&st, established, t)
	}
	if statusConditionTrue(&st, apiextensionsv1.NamesAccepted) && !statusConditionTrue(&st, apiextensionsv1.Established) {
		setCondition(&st, apiextensionsv1.CustomResourceDefinitionCondition{
			Type:    apiextensionsv1.Established,
			Status:  apiextensionsv1.ConditionTrue,
			Reason:  "InitialNamesAccepted",
			Message: "the initial names have been accepted",
		}, t)
	}
	if c := approvalCondition(crd); c != nil {
		setCondition(&st, *c, t)
	}
	return st
}

func statusConditionTrue(st *apiextensionsv1.CustomResourceDefinitionStatus, t apiextensionsv1.CustomResourceDefinitionConditionType) bool {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}

// setCondition sets the condition of c's type to c; its transition time
// is now unless it had the same status before.
func setCondition(st *apiextensionsv1.CustomResourceDefinitionStatus, c apiextensionsv1.CustomResourceDefinitionCondition, now metav1.Time) {
	for i := range st.Conditions {
		old := &st.Conditions[i]
		if old.Type != c.Type {
			continue
		}
		if old.Status != c.Status || old.LastTransitionTime.IsZero() {
			old.LastTransitionTime = now
		}
		old.Status, old.Reason, old.Message = c.Status, c.Reason, c.Message
		return
	}
	c.LastTransitionTime = now
	st.Conditions = append(st.Conditions, c)
}

// acceptNames decides which requested names of crd can be served given
// the names the other CRDs of its group have been accepted with.
func acceptNames(crd *apiextensionsv1.CustomResourceDefinition, others []*apiextensionsv1.CustomResourceDefinition) (apiextensionsv1.CustomResourceDefinitionNames, apiextensionsv1.CustomResourceDefinitionCondition, apiextensionsv1.CustomResourceDefinitionCondition) {
	resources := map[string]bool{}
	kinds := map[string]bool{}
	use := func(n apiextensionsv1.CustomResourceDefinitionNames) {
		resources[n.Plural] = true
		resources[n.Singular] = true
		for _, s := range n.ShortNames {
			resources[s] = true
		}
		kinds[n.Kind] = true
		kinds[n.ListKind] = true
	}
	use(crd.Status.AcceptedNames)
	for _, o := range others {
		if o.Name != crd.Name && o.Spec.Group == crd.Spec.Group {
			use(o.Status.AcceptedNames)
		}
	}

	cond := apiextensionsv1.CustomResourceDefinitionCondition{Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionUnknown}
	conflict := func(reason string, err error) {
		cond.Status, cond.Reason, cond.Message = apiextensionsv1.ConditionFalse, reason, err.Error()
	}
	requested, accepted := crd.Spec.Names, crd.Status.AcceptedNames
	names := *accepted.DeepCopy()

	if err := freshOrAccepted(requested.Plural, accepted.Plural, resources); err != nil {
		conflict("PluralConflict", err)
	} else {
		names.Plural = requested.Plural
	}
	if err := freshOrAccepted(requested.Singular, accepted.Singular, resources); err != nil {
		conflict("SingularConflict", err)
	} else {
		names.Singular = requested.Singular
	}
	if !slices.Equal(requested.ShortNames, accepted.ShortNames) {
		var errs []error
		for _, s := range requested.ShortNames {
			if slices.Contains(accepted.ShortNames, s) {
				continue
			}
			if err := freshOrAccepted(s, "", resources); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			conflict("ShortNamesConflict", utilerrors.NewAggregate(errs))
		} else {
			names.ShortNames = slices.Clone(requested.ShortNames)
		}
	}
	if err := freshOrAccepted(requested.Kind, accepted.Kind, kinds); err != nil {
		conflict("KindConflict", err)
	} else {
		names.Kind = requested.Kind
	}
	if err := freshOrAccepted(requested.ListKind, accepted.ListKind, kinds); err != nil {
		conflict("ListKindConflict", err)
	} else {
		names.ListKind = requested.ListKind
	}
	names.Categories = slices.Clone(requested.Categories)
	if cond.Status == apiextensionsv1.ConditionUnknown {
		cond.Status, cond.Reason, cond.Message = apiextensionsv1.ConditionTrue, "NoConflicts", "no conflicts found"
	}

	established := apiextensionsv1.CustomResourceDefinitionCondition{
		Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionFalse,
		Reason: "NotAccepted", Message: "not all names are accepted",
	}
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established {
			established = c
		}
	}
	if established.Status != apiextensionsv1.ConditionTrue && cond.Status == apiextensionsv1.ConditionTrue {
		established = apiextensionsv1.CustomResourceDefinitionCondition{
			Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionFalse,
			Reason: "Installing", Message: "the initial names have been accepted",
		}
	}
	return names, cond, established
}

func freshOrAccepted(requested, accepted string, used map[string]bool) error {
	if requested == accepted || !used[requested] {
		return nil
	}
	return fmt.Errorf("%q is already in use", requested)
}

// approvalCondition is the KubernetesAPIApprovalPolicyConformant
// condition of a CRD in a protected group, nil for other groups.
func approvalCondition(crd *apiextensionsv1.CustomResourceDefinition) *apiextensionsv1.CustomResourceDefinitionCondition {
	if !protectedGroup(crd.Spec.Group) {
		return nil
	}
	state, reason := approvalState(crd.Annotations)
	c := &apiextensionsv1.CustomResourceDefinitionCondition{Type: apiextensionsv1.KubernetesAPIApprovalPolicyConformant, Message: reason}
	switch state {
	case approvalInvalid:
		c.Status, c.Reason = apiextensionsv1.ConditionFalse, "InvalidAnnotation"
	case approvalMissing:
		c.Status, c.Reason = apiextensionsv1.ConditionFalse, "MissingAnnotation"
	case approved:
		c.Status, c.Reason = apiextensionsv1.ConditionTrue, "ApprovedAnnotation"
	case approvalBypassed:
		c.Status, c.Reason = apiextensionsv1.ConditionFalse, "UnapprovedAnnotation"
	}
	return c
}
