package apiserver

import (
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"berth.dev/berth/internal/auth"
)

// prepareCSRCreate records who asks for the certificate in the spec, as
// upstream: the signer and approver trust these fields, never the client's.
func prepareCSRCreate(csr *certificatesv1.CertificateSigningRequest, u auth.User) {
	csr.Spec.Username, csr.Spec.UID, csr.Spec.Groups = u.Name, u.UID, u.Groups
	csr.Spec.Extra = nil
	for k, v := range u.Extra {
		if csr.Spec.Extra == nil {
			csr.Spec.Extra = map[string]certificatesv1.ExtraValue{}
		}
		csr.Spec.Extra[k] = v
	}
}

// prepareCSRUpdate applies upstream's per-subresource CSR strategies: the
// spec never changes; the approval subresource changes only the
// conditions; the status subresource keeps the Approved and Denied
// conditions (only approval sets them). Condition timestamps a client
// left empty are filled.
func prepareCSRUpdate(sub string, csr, old *certificatesv1.CertificateSigningRequest, now time.Time) field.ErrorList {
	csr.Spec = old.Spec
	var errs field.ErrorList
	switch sub {
	case "approval":
		conds := csr.Status.Conditions
		csr.Status = *old.Status.DeepCopy()
		csr.Status.Conditions = conds
	case "status":
		for _, t := range []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied} {
			if !preserveCSRConditions(csr, old, t) {
				errs = append(errs, field.Forbidden(field.NewPath("status", "conditions"), fmt.Sprintf("updates to the status subresource may not add or remove a condition of type %q: use the approval subresource", t)))
			}
		}
	}
	stampCSRConditions(csr, old, now)
	return errs
}

// preserveCSRConditions puts old's conditions of type t back in place of
// csr's; it reports false when their number differs.
func preserveCSRConditions(csr, old *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) bool {
	var oldIdx, newIdx []int
	for i, c := range old.Status.Conditions {
		if c.Type == t {
			oldIdx = append(oldIdx, i)
		}
	}
	for i, c := range csr.Status.Conditions {
		if c.Type == t {
			newIdx = append(newIdx, i)
		}
	}
	if len(oldIdx) != len(newIdx) {
		return false
	}
	for i := range oldIdx {
		csr.Status.Conditions[newIdx[i]] = old.Status.Conditions[oldIdx[i]]
	}
	return true
}

// stampCSRConditions fills empty lastUpdateTime with now and empty
// lastTransitionTime with old's for an unchanged status, else now.
func stampCSRConditions(csr, old *certificatesv1.CertificateSigningRequest, now time.Time) {
	t := metav1.NewTime(now.Truncate(time.Second))
	for i := range csr.Status.Conditions {
		c := &csr.Status.Conditions[i]
		if c.LastUpdateTime.IsZero() {
			c.LastUpdateTime = t
		}
		if !c.LastTransitionTime.IsZero() {
			continue
		}
		c.LastTransitionTime = t
		for _, o := range old.Status.Conditions {
			if o.Type == c.Type && o.Status == c.Status && !o.LastTransitionTime.IsZero() {
				c.LastTransitionTime = o.LastTransitionTime
				break
			}
		}
	}
}
