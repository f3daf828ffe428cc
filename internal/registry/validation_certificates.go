package registry

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// knownUsages are the key usages a CSR may request, as upstream.
var knownUsages = sets.New(
	certificatesv1.UsageSigning, certificatesv1.UsageDigitalSignature, certificatesv1.UsageContentCommitment,
	certificatesv1.UsageKeyEncipherment, certificatesv1.UsageKeyAgreement, certificatesv1.UsageDataEncipherment,
	certificatesv1.UsageCertSign, certificatesv1.UsageCRLSign, certificatesv1.UsageEncipherOnly,
	certificatesv1.UsageDecipherOnly, certificatesv1.UsageAny, certificatesv1.UsageServerAuth,
	certificatesv1.UsageClientAuth, certificatesv1.UsageCodeSigning, certificatesv1.UsageEmailProtection,
	certificatesv1.UsageSMIME, certificatesv1.UsageIPsecEndSystem, certificatesv1.UsageIPsecTunnel,
	certificatesv1.UsageIPsecUser, certificatesv1.UsageTimestamping, certificatesv1.UsageOCSPSigning,
	certificatesv1.UsageMicrosoftSGC, certificatesv1.UsageNetscapeSGC,
)

// minExpirationSeconds is the shortest certificate lifetime a CSR may ask for.
const minExpirationSeconds = 600

// validateCertificateSigningRequest checks a CSR as upstream: a PEM
// CERTIFICATE REQUEST that parses, a qualified signerName, known distinct
// usages, expirationSeconds of at least ten minutes, and well-formed
// conditions and certificate.
func validateCertificateSigningRequest(csr *certificatesv1.CertificateSigningRequest) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	if err := parseCSRPEM(csr.Spec.Request); err != nil {
		errs = append(errs, field.Invalid(spec.Child("request"), csr.Spec.Request, err.Error()))
	}
	if len(csr.Spec.Usages) == 0 {
		errs = append(errs, field.Required(spec.Child("usages"), ""))
	}
	seen := sets.New[certificatesv1.KeyUsage]()
	for i, u := range csr.Spec.Usages {
		switch {
		case !knownUsages.Has(u):
			errs = append(errs, field.NotSupported(spec.Child("usages").Index(i), u, sets.List(knownUsages)))
		case seen.Has(u):
			errs = append(errs, field.Duplicate(spec.Child("usages").Index(i), u))
		}
		seen.Insert(u)
	}
	errs = append(errs, validateSignerName(spec.Child("signerName"), csr.Spec.SignerName)...)
	if es := csr.Spec.ExpirationSeconds; es != nil && *es < minExpirationSeconds {
		errs = append(errs, field.Invalid(spec.Child("expirationSeconds"), *es, "may not specify a duration less than 600 seconds (10 minutes)"))
	}
	errs = append(errs, validateCSRConditions(csr.Status.Conditions)...)
	if len(csr.Status.Certificate) > 0 {
		errs = append(errs, validateCSRCertificate(csr)...)
	}
	return errs
}

// parseCSRPEM requires exactly one PEM CERTIFICATE REQUEST block that
// parses and whose signature verifies.
func parseCSRPEM(data []byte) error {
	block, rest := pem.Decode(data)
	if block == nil {
		return errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	if block.Type != "CERTIFICATE REQUEST" {
		return errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return errors.New("the request must contain exactly one PEM block")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return err
	}
	return req.CheckSignature()
}

// validateSignerName requires a name of the form domain/path, as upstream.
func validateSignerName(p *field.Path, name string) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	domain, rest, ok := strings.Cut(name, "/")
	if !ok || rest == "" {
		return field.ErrorList{field.Invalid(p, name, "must be a fully qualified domain and path of the form 'example.com/signer-name'")}
	}
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(domain) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	if len(rest) > 63 {
		errs = append(errs, field.TooLong(p, rest, 63))
	}
	return errs
}

// validateCSRConditions allows each of Approved, Denied and Failed once,
// Approved and Denied only with status True and never together.
func validateCSRConditions(conds []certificatesv1.CertificateSigningRequestCondition) field.ErrorList {
	p := field.NewPath("status", "conditions")
	var errs field.ErrorList
	seen := map[certificatesv1.RequestConditionType]bool{}
	for i, c := range conds {
		cp := p.Index(i)
		if c.Type == "" {
			errs = append(errs, field.Required(cp.Child("type"), ""))
		}
		switch c.Status {
		case corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown:
		case "":
			errs = append(errs, field.Required(cp.Child("status"), ""))
		default:
			errs = append(errs, field.NotSupported(cp.Child("status"), c.Status, []corev1.ConditionStatus{corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown}))
		}
		switch c.Type {
		case certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed:
			if seen[c.Type] {
				errs = append(errs, field.Duplicate(cp.Child("type"), c.Type))
			}
		}
		if (c.Type == certificatesv1.CertificateApproved || c.Type == certificatesv1.CertificateDenied) && c.Status != corev1.ConditionTrue && c.Status != "" {
			errs = append(errs, field.Invalid(cp.Child("status"), c.Status, "must be True"))
		}
		seen[c.Type] = true
	}
	if seen[certificatesv1.CertificateApproved] && seen[certificatesv1.CertificateDenied] {
		errs = append(errs, field.Invalid(p, certificatesv1.CertificateDenied, "Approved and Denied conditions are mutually exclusive"))
	}
	return errs
}

// validateCSRCertificate accepts an issued certificate only on an approved
// request, as one or more PEM CERTIFICATE blocks that parse.
func validateCSRCertificate(csr *certificatesv1.CertificateSigningRequest) field.ErrorList {
	p := field.NewPath("status", "certificate")
	if !hasCSRCondition(csr, certificatesv1.CertificateApproved) {
		return field.ErrorList{field.Invalid(p, "<certificate data>", "certificate can only be set if the Approved condition is present")}
	}
	if hasCSRCondition(csr, certificatesv1.CertificateDenied) || hasCSRCondition(csr, certificatesv1.CertificateFailed) {
		return field.ErrorList{field.Invalid(p, "<certificate data>", "certificate cannot be set if a Denied or Failed condition is present")}
	}
	data, n := csr.Status.Certificate, 0
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return field.ErrorList{field.Invalid(p, "<certificate data>", fmt.Sprintf("only CERTIFICATE PEM blocks are allowed, found %q", block.Type))}
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return field.ErrorList{field.Invalid(p, "<certificate data>", fmt.Sprintf("invalid certificate %d: %v", n, err))}
		}
		n, data = n+1, rest
	}
	if n == 0 || len(bytes.TrimSpace(data)) > 0 {
		return field.ErrorList{field.Invalid(p, "<certificate data>", "must contain at least one CERTIFICATE PEM block and nothing else")}
	}
	return nil
}

// validateCertificateSigningRequestUpdate keeps what upstream makes
// permanent: Approved and Denied conditions once set, and an issued
// certificate.
func validateCertificateSigningRequestUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	var errs field.ErrorList
	for _, t := range []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed} {
		if hasCSRCondition(old, t) && !hasCSRCondition(csr, t) {
			errs = append(errs, field.Forbidden(field.NewPath("status", "conditions"), fmt.Sprintf("updates may not remove a condition of type %q", t)))
		}
	}
	if len(old.Status.Certificate) > 0 && !bytes.Equal(old.Status.Certificate, csr.Status.Certificate) {
		errs = append(errs, field.Forbidden(field.NewPath("status", "certificate"), "updates may not modify existing certificate content"))
	}
	return errs
}

func hasCSRCondition(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == t {
			return true
		}
	}
	return false
}

// defaultCertificateSigningRequest gives conditions without a status the
// status True, as upstream's defaulting.
func defaultCertificateSigningRequest(csr *certificatesv1.CertificateSigningRequest) {
	for i := range csr.Status.Conditions {
		if csr.Status.Conditions[i].Status == "" {
			csr.Status.Conditions[i].Status = corev1.ConditionTrue
		}
	}
}
