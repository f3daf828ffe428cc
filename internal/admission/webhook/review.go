package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"

	"berth.dev/berth/internal/admission"
)

// hooksOf lists the webhooks of a Mutating- or ValidatingWebhookConfiguration
// with upstream's defaults for what they leave unset.
func hooksOf(obj runtime.Object) []hook {
	var out []hook
	switch c := obj.(type) {
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		for _, w := range c.Webhooks {
			h := hook{config: c.Name, name: w.Name, clientConfig: w.ClientConfig, rules: w.Rules, namespaceSelector: w.NamespaceSelector,
				objectSelector: w.ObjectSelector, reviewVersions: w.AdmissionReviewVersions, matchConditions: w.MatchConditions}
			setDefaults(&h, w.FailurePolicy, w.TimeoutSeconds)
			if w.ReinvocationPolicy != nil {
				h.reinvocationPolicy = *w.ReinvocationPolicy
			}
			out = append(out, h)
		}
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		for _, w := range c.Webhooks {
			h := hook{config: c.Name, name: w.Name, clientConfig: w.ClientConfig, rules: w.Rules, namespaceSelector: w.NamespaceSelector,
				objectSelector: w.ObjectSelector, reviewVersions: w.AdmissionReviewVersions, matchConditions: w.MatchConditions}
			setDefaults(&h, w.FailurePolicy, w.TimeoutSeconds)
			out = append(out, h)
		}
	}
	return out
}

func setDefaults(h *hook, policy *admissionregistrationv1.FailurePolicyType, timeout *int32) {
	h.failurePolicy = admissionregistrationv1.Fail
	if policy != nil {
		h.failurePolicy = *policy
	}
	h.timeoutSeconds = 10
	if timeout != nil {
		h.timeoutSeconds = *timeout
	}
}

// review is a webhook's answer.
type review struct {
	allowed  bool
	code     int32
	message  string
	reason   string
	patch    []byte
	warnings []string
}

func (r *review) reasonType() metav1.StatusReason { return metav1.StatusReason(r.reason) }

// call sends a to h and reads its answer.
func (c *caller) call(ctx context.Context, h hook, a *admission.Attributes) (*review, error) {
	url, serverName, err := c.endpoint(h.clientConfig)
	if err != nil {
		return nil, err
	}
	client, err := c.clients.get(h.clientConfig.CABundle, serverName)
	if err != nil {
		return nil, err
	}
	v1 := len(h.reviewVersions) == 0
	for _, v := range h.reviewVersions {
		if v == "v1" {
			v1 = true
		}
	}
	req, err := request(a)
	if err != nil {
		return nil, err
	}
	var body any
	if v1 {
		body = &admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req}
	} else {
		body = map[string]any{"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": req}
	}
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(h.timeoutSeconds)*time.Second)
	defer cancel()
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	httpReq.Header.Set("Content-Type", "application/json")
	httpReq.Header.Set("Accept", "application/json")
	resp, err := client.Do(httpReq)
	if err != nil {
		return nil, fmt.Errorf("failed to call webhook: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 3<<20))
	if err != nil {
		return nil, fmt.Errorf("failed to call webhook: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("failed to call webhook: the server responded with status %d", resp.StatusCode)
	}
	return parseReview(out, req.UID, v1)
}

// request builds the AdmissionRequest for a.
func request(a *admission.Attributes) (*admissionv1.AdmissionRequest, error) {
	gvk := metav1.GroupVersionKind{Group: a.Kind.Group, Version: a.Kind.Version, Kind: a.Kind.Kind}
	gvr := metav1.GroupVersionResource{Group: a.Resource.Group, Version: a.Resource.Version, Resource: a.Resource.Resource}
	obj, err := raw(a.Object, a)
	if err != nil {
		return nil, err
	}
	old, err := raw(a.OldObject, a)
	if err != nil {
		return nil, err
	}
	opts, err := raw(a.Options, nil)
	if err != nil {
		return nil, err
	}
	extra := map[string]authenticationv1.ExtraValue{}
	for k, v := range a.User.Extra {
		extra[k] = v
	}
	return &admissionv1.AdmissionRequest{
		UID: uuid.NewUUID(), Kind: gvk, Resource: gvr, SubResource: a.Subresource,
		RequestKind: &gvk, RequestResource: &gvr, RequestSubResource: a.Subresource,
		Name: a.Name, Namespace: a.Namespace, Operation: admissionv1.Operation(a.Operation),
		UserInfo: authenticationv1.UserInfo{Username: a.User.Name, UID: a.User.UID, Groups: a.User.Groups, Extra: extra},
		Object:   obj, OldObject: old, Options: opts, DryRun: &a.DryRun,
	}, nil
}

// raw encodes obj as JSON with its apiVersion and kind (a's kind, unless
// a is nil and obj carries its own).
func raw(obj runtime.Object, a *admission.Attributes) (runtime.RawExtension, error) {
	if obj == nil || reflect.ValueOf(obj).IsNil() {
		return runtime.RawExtension{}, nil
	}
	if a != nil {
		obj = obj.DeepCopyObject()
		obj.GetObjectKind().SetGroupVersionKind(a.Kind)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return runtime.RawExtension{}, err
	}
	return runtime.RawExtension{Raw: b}, nil
}

// parseReview reads an AdmissionReview answer; its uid must be the
// request's.
func parseReview(body []byte, uid types.UID, v1 bool) (*review, error) {
	var ar struct {
		APIVersion string                         `json:"apiVersion"`
		Kind       string                         `json:"kind"`
		Response   *admissionv1.AdmissionResponse `json:"response"`
	}
	if err := json.Unmarshal(body, &ar); err != nil {
		return nil, fmt.Errorf("received invalid webhook response: %w", err)
	}
	if v1 && (ar.APIVersion != "admission.k8s.io/v1" || ar.Kind != "AdmissionReview") {
		return nil, fmt.Errorf("expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got %s, Kind=%s", ar.APIVersion, ar.Kind)
	}
	r := ar.Response
	if r == nil {
		return nil, fmt.Errorf("webhook response was absent")
	}
	if r.UID != uid {
		return nil, fmt.Errorf("expected response.uid=%q, got %q", uid, r.UID)
	}
	out := &review{allowed: r.Allowed, warnings: r.Warnings, patch: r.Patch}
	if len(r.Patch) > 0 && (r.PatchType == nil || *r.PatchType != admissionv1.PatchTypeJSONPatch) && v1 {
		return nil, fmt.Errorf("webhook returned a patch without patchType JSONPatch")
	}
	if s := r.Result; s != nil {
		out.code, out.message, out.reason = s.Code, s.Message, string(s.Reason)
	}
	return out, nil
}

// encode is the object's JSON, to tell whether webhooks changed it.
func encode(obj runtime.Object) ([]byte, error) {
	if obj == nil {
		return nil, nil
	}
	return json.Marshal(obj)
}

// applyPatch applies a JSON patch to obj in place.
func applyPatch(obj runtime.Object, patch []byte) error {
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return err
	}
	doc, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	patched, err := p.Apply(doc)
	if err != nil {
		return err
	}
	fresh := reflect.New(reflect.TypeOf(obj).Elem())
	dec := json.NewDecoder(bytes.NewReader(patched))
	if err := dec.Decode(fresh.Interface()); err != nil {
		return err
	}
	reflect.ValueOf(obj).Elem().Set(fresh.Elem())
	return nil
}
