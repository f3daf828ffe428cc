package webhook_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/admission/webhook"
	"berth.dev/berth/internal/apiserver"
	"berth.dev/berth/internal/apiserver/apiservertest"
)

// fakeWebhook answers AdmissionReviews: /mutate adds label mutated=yes
// (and a warning), /validate refuses objects labelled deny=true, and
// /broken answers 500. It counts the requests it got per path.
type fakeWebhook struct {
	mu    sync.Mutex
	calls map[string]int
	last  *admissionv1.AdmissionRequest
}

func (f *fakeWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls[r.URL.Path]++
	f.mu.Unlock()
	if r.URL.Path == "/broken" {
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &ar); err != nil || ar.Request == nil {
		http.Error(w, "bad review", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.last = ar.Request
	f.mu.Unlock()
	resp := &admissionv1.AdmissionResponse{UID: ar.Request.UID, Allowed: true}
	var obj metav1.PartialObjectMetadata
	_ = json.Unmarshal(ar.Request.Object.Raw, &obj)
	switch r.URL.Path {
	case "/mutate":
		patch := `[{"op":"add","path":"/metadata/labels","value":{"mutated":"yes"}}]`
		if obj.Labels != nil {
			patch = `[{"op":"add","path":"/metadata/labels/mutated","value":"yes"}]`
		}
		resp.Patch, resp.PatchType = []byte(patch), ptr.To(admissionv1.PatchTypeJSONPatch)
		resp.Warnings = []string{"mutated by the test"}
	case "/validate":
		if obj.Labels["deny"] == "true" {
			resp.Allowed = false
			resp.Result = &metav1.Status{Code: http.StatusForbidden, Message: "objects labelled deny=true are refused"}
		}
	}
	ar.Response, ar.Request = resp, nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(ar)
}

func (f *fakeWebhook) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[path]
}

type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func TestWebhooks(t *testing.T) {
	fake := &fakeWebhook{calls: map[string]int{}}
	hookSrv := httptest.NewTLSServer(fake)
	t.Cleanup(hookSrv.Close)
	caBundle := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hookSrv.Certificate().Raw})

	s := apiservertest.Start(t, func(c *apiserver.Config) {
		c.Admission = admission.Chain{
			Mutators:   []admission.Mutator{webhook.NewMutating()},
			Validators: []admission.Validator{webhook.NewValidating()},
		}
	})
	warn := &warnings{}
	cfg := rest.CopyConfig(s.Admin)
	cfg.WarningHandler = warn
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	reg := client.AdmissionregistrationV1()

	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
	}}
	hook := func(path string) admissionregistrationv1.WebhookClientConfig {
		return admissionregistrationv1.WebhookClientConfig{URL: ptr.To(hookSrv.URL + path), CABundle: caBundle}
	}
	none := admissionregistrationv1.SideEffectClassNone
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"webhooks": "on"}}
	_, err := reg.MutatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "mutate"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "mutate.test.berth.dev", ClientConfig: hook("/mutate"), Rules: rules, SideEffects: &none,
			AdmissionReviewVersions: []string{"v1"}, NamespaceSelector: selector,
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ignore, fail := admissionregistrationv1.Ignore, admissionregistrationv1.Fail
	_, err = reg.ValidatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "validate"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{
			{Name: "validate.test.berth.dev", ClientConfig: hook("/validate"), Rules: rules, SideEffects: &none,
				AdmissionReviewVersions: []string{"v1"}, NamespaceSelector: selector, FailurePolicy: &fail},
			{Name: "broken-ignored.test.berth.dev", ClientConfig: hook("/broken"), Rules: rules, SideEffects: &none,
				AdmissionReviewVersions: []string{"v1"}, NamespaceSelector: selector, FailurePolicy: &ignore},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"on", "off"} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"webhooks": name}}}
		if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// The configurations reach the server's cache soon after they are written.
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		c, err := client.CoreV1().ConfigMaps("on").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-"}}, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		return c.Labels["mutated"] == "yes", nil
	})
	if err != nil {
		t.Fatalf("mutating webhook never applied: %v", err)
	}
	if !containsWarning(warn, "mutated by the test") {
		t.Errorf("warnings = %q, want the webhook's", warn.msgs)
	}
	if fake.last.UserInfo.Username != "berth-admin" || fake.last.Namespace != "on" || fake.last.Operation != admissionv1.Create {
		t.Errorf("review request = %+v", fake.last)
	}

	// A denial carries the webhook's name and message; nothing is stored.
	_, err = client.CoreV1().ConfigMaps("on").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "denied", Labels: map[string]string{"deny": "true"}}}, metav1.CreateOptions{})
	want := `admission webhook "validate.test.berth.dev" denied the request: objects labelled deny=true are refused`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("denied create: %v\nwant %s", err, want)
	}
	if _, err := client.CoreV1().ConfigMaps("on").Get(ctx, "denied", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("denied object stored: %v", err)
	}
	if fake.count("/broken") == 0 {
		t.Error("the ignored broken webhook was never called")
	}

	// The namespace selector leaves "off" alone.
	before := fake.count("/validate")
	off, err := client.CoreV1().ConfigMaps("off").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "plain", Labels: map[string]string{"deny": "true"}}}, metav1.CreateOptions{})
	if err != nil || off.Labels["mutated"] != "" || fake.count("/validate") != before {
		t.Errorf("unselected namespace: %v, labels %v, calls %d→%d", err, off.Labels, before, fake.count("/validate"))
	}

	// A failing webhook with failurePolicy Fail refuses the request.
	_, err = reg.ValidatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "zz-broken"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "broken.test.berth.dev", ClientConfig: hook("/broken"), Rules: rules,
			SideEffects: &none, AdmissionReviewVersions: []string{"v1"}, NamespaceSelector: selector, FailurePolicy: &fail}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ConfigMaps("on").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "f"}}, metav1.CreateOptions{})
		return apierrors.IsInternalError(err) && strings.Contains(err.Error(), `failed calling webhook "broken.test.berth.dev"`), nil
	})
	if err != nil {
		t.Errorf("failing webhook with policy Fail never refused: %v", err)
	}
}

func containsWarning(w *warnings, msg string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.msgs {
		if m == msg {
			return true
		}
	}
	return false
}
