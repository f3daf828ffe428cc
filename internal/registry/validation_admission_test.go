package registry

import (
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestValidateWebhookConfiguration(t *testing.T) {
	none := admissionregistrationv1.SideEffectClassNone
	some := admissionregistrationv1.SideEffectClassSome
	good := func() admissionregistrationv1.ValidatingWebhook {
		return admissionregistrationv1.ValidatingWebhook{
			Name:         "check.example.com",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "ns", Name: "svc", Path: ptr.To("/check")}},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
			}},
			SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
		}
	}
	tests := []struct {
		name   string
		mut    func(*admissionregistrationv1.ValidatingWebhook)
		fields []string
	}{
		{name: "valid"},
		{name: "short name", mut: func(w *admissionregistrationv1.ValidatingWebhook) { w.Name = "check" }, fields: []string{"webhooks[0].name"}},
		{name: "url and service", mut: func(w *admissionregistrationv1.ValidatingWebhook) {
			w.ClientConfig.URL = ptr.To("https://x.example.com")
		}, fields: []string{"webhooks[0].clientConfig"}},
		{name: "http url", mut: func(w *admissionregistrationv1.ValidatingWebhook) {
			w.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr.To("http://x.example.com")}
		}, fields: []string{"webhooks[0].clientConfig.url"}},
		{name: "side effects", mut: func(w *admissionregistrationv1.ValidatingWebhook) { w.SideEffects = &some }, fields: []string{"webhooks[0].sideEffects"}},
		{name: "no side effects", mut: func(w *admissionregistrationv1.ValidatingWebhook) { w.SideEffects = nil }, fields: []string{"webhooks[0].sideEffects"}},
		{name: "review versions", mut: func(w *admissionregistrationv1.ValidatingWebhook) { w.AdmissionReviewVersions = []string{"v2"} }, fields: []string{"webhooks[0].admissionReviewVersions"}},
		{name: "timeout", mut: func(w *admissionregistrationv1.ValidatingWebhook) { w.TimeoutSeconds = ptr.To[int32](31) }, fields: []string{"webhooks[0].timeoutSeconds"}},
		{name: "empty rule", mut: func(w *admissionregistrationv1.ValidatingWebhook) { w.Rules[0].Rule.Resources = nil }, fields: []string{"webhooks[0].rules[0].resources"}},
		{name: "bad operation", mut: func(w *admissionregistrationv1.ValidatingWebhook) { w.Rules[0].Operations[0] = "PATCH" }, fields: []string{"webhooks[0].rules[0].operations[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := good()
			if tt.mut != nil {
				tt.mut(&w)
			}
			c := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Webhooks: []admissionregistrationv1.ValidatingWebhook{w}}
			defaultValidatingWebhookConfiguration(c)
			var got []string
			for _, e := range validateValidatingWebhookConfiguration(c) {
				got = append(got, e.Field)
			}
			if len(got) != len(tt.fields) || (len(got) > 0 && got[0] != tt.fields[0]) {
				t.Errorf("errors on %v, want %v", got, tt.fields)
			}
		})
	}
	// Two webhooks of one name are refused; defaults are set.
	c := &admissionregistrationv1.MutatingWebhookConfiguration{Webhooks: []admissionregistrationv1.MutatingWebhook{
		{Name: "a.example.com", ClientConfig: good().ClientConfig, SideEffects: &none, AdmissionReviewVersions: []string{"v1"}},
		{Name: "a.example.com", ClientConfig: good().ClientConfig, SideEffects: &none, AdmissionReviewVersions: []string{"v1"}},
	}}
	defaultMutatingWebhookConfiguration(c)
	if errs := validateMutatingWebhookConfiguration(c); len(errs) != 1 || errs[0].Field != "webhooks[1].name" {
		t.Errorf("duplicate names: %v", errs)
	}
	w := c.Webhooks[0]
	if *w.FailurePolicy != admissionregistrationv1.Fail || *w.TimeoutSeconds != 10 || *w.ReinvocationPolicy != admissionregistrationv1.NeverReinvocationPolicy || w.NamespaceSelector == nil {
		t.Errorf("defaults not set: %+v", w)
	}
}
