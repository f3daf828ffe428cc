package registry

import (
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

func webhooksColumn() TableColumn {
	return column("Webhooks", "integer", "Webhooks indicates the number of webhooks the configuration has.")
}

func mutatingWebhookConfigurationTable() table {
	return table{
		columns: []TableColumn{nameColumn(), webhooksColumn(), ageColumn()},
		row: rowOf(func(c *admissionregistrationv1.MutatingWebhookConfiguration, now time.Time) []any {
			return []any{c.Name, int64(len(c.Webhooks)), since(c.CreationTimestamp, now)}
		}),
	}
}

func validatingWebhookConfigurationTable() table {
	return table{
		columns: []TableColumn{nameColumn(), webhooksColumn(), ageColumn()},
		row: rowOf(func(c *admissionregistrationv1.ValidatingWebhookConfiguration, now time.Time) []any {
			return []any{c.Name, int64(len(c.Webhooks)), since(c.CreationTimestamp, now)}
		}),
	}
}

func validatingAdmissionPolicyTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Validations", "integer", "Validations indicates the number of validation rules defined in this configuration"),
			column("ParamKind", "string", "ParamKind specifies the kind of resources used to parameterize this policy"),
			ageColumn(),
		},
		row: rowOf(func(p *admissionregistrationv1.ValidatingAdmissionPolicy, now time.Time) []any {
			paramKind := "<unset>"
			if k := p.Spec.ParamKind; k != nil {
				paramKind = k.APIVersion + "/" + k.Kind
			}
			return []any{p.Name, int64(len(p.Spec.Validations)), paramKind, since(p.CreationTimestamp, now)}
		}),
	}
}

func validatingAdmissionPolicyBindingTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("PolicyName", "string", "PolicyName indicates the policy definition which the policy binding binded to"),
			column("ParamRef", "string", "ParamRef indicates the param resource which sets the configration param"),
			ageColumn(),
		},
		row: rowOf(func(b *admissionregistrationv1.ValidatingAdmissionPolicyBinding, now time.Time) []any {
			paramRef := "<unset>"
			if r := b.Spec.ParamRef; r != nil {
				paramRef = r.Name
				if r.Namespace != "" {
					paramRef = r.Namespace + "/" + r.Name
				}
				if r.Name == "" {
					paramRef = "*"
				}
			}
			return []any{b.Name, b.Spec.PolicyName, paramRef, since(b.CreationTimestamp, now)}
		}),
	}
}

func certificateSigningRequestTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			ageColumn(),
			column("SignerName", "string", certificatesv1.CertificateSigningRequestSpec{}.SwaggerDoc()["signerName"]),
			column("Requestor", "string", "Name of the user who requested the CSR."),
			column("RequestedDuration", "string", certificatesv1.CertificateSigningRequestSpec{}.SwaggerDoc()["expirationSeconds"]),
			column("Condition", "string", certificatesv1.CertificateSigningRequestStatus{}.SwaggerDoc()["conditions"]),
		},
		row: rowOf(func(c *certificatesv1.CertificateSigningRequest, now time.Time) []any {
			requested := "<none>"
			if s := c.Spec.ExpirationSeconds; s != nil {
				requested = duration.HumanDuration(time.Duration(*s) * time.Second)
			}
			return []any{c.Name, since(c.CreationTimestamp, now), c.Spec.SignerName, c.Spec.Username, requested, csrCondition(c.Status)}
		}),
	}
}

// csrCondition joins the CSR's condition types, "Pending" when it has
// none and "Issued" added once a certificate is there, as upstream prints.
func csrCondition(s certificatesv1.CertificateSigningRequestStatus) string {
	var conds []string
	for _, c := range s.Conditions {
		conds = append(conds, string(c.Type))
	}
	if len(conds) == 0 {
		conds = append(conds, "Pending")
	}
	if len(s.Certificate) > 0 {
		conds = append(conds, "Issued")
	}
	return strings.Join(conds, ",")
}
