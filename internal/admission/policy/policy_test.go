package policy_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/admission/policy"
	"berth.dev/berth/internal/apiserver"
	"berth.dev/berth/internal/apiserver/apiservertest"
)

type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func (w *warnings) has(msg string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.msgs {
		if m == msg {
			return true
		}
	}
	return false
}

func deployment(name string, replicas int32, labels map[string]string) *appsv1.Deployment {
	sel := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}},
		},
	}
}

// TestPolicies follows upstream's ValidatingAdmissionPolicy walkthrough: a
// replica limit read from a parameter ConfigMap, denied and warned
// bindings, a namespace selector and a messageExpression.
func TestPolicies(t *testing.T) {
	p, err := policy.New()
	if err != nil {
		t.Fatal(err)
	}
	s := apiservertest.Start(t, func(c *apiserver.Config) {
		c.Admission = admission.Chain{Validators: []admission.Validator{p}}
	})
	warn := &warnings{}
	cfg := rest.CopyConfig(s.Admin)
	cfg.WarningHandler = warn
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	reg := client.AdmissionregistrationV1()

	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "prod", Labels: map[string]string{"env": "prod"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "test", Labels: map[string]string{"env": "test"}}},
	} {
		if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	limits := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "replica-limit", Namespace: "default"}, Data: map[string]string{"max": "3"}}
	if _, err := client.CoreV1().ConfigMaps("default").Create(ctx, limits, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = reg.ValidatingAdmissionPolicies().Create(ctx, &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "replica-limit"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			ParamKind: &admissionregistrationv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"},
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}},
				},
			}}},
			MatchConditions: []admissionregistrationv1.MatchCondition{{Name: "not-exempt", Expression: `!has(object.metadata.labels) || !("exempt" in object.metadata.labels)`}},
			Variables:       []admissionregistrationv1.Variable{{Name: "max", Expression: "int(params.data.max)"}},
			Validations: []admissionregistrationv1.Validation{{
				Expression:        "object.spec.replicas <= variables.max",
				MessageExpression: `"replicas must be no greater than " + string(variables.max)`,
				Reason:            ptr.To(metav1.StatusReasonInvalid),
			}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bind := func(name, env string, actions ...admissionregistrationv1.ValidationAction) {
		t.Helper()
		_, err := reg.ValidatingAdmissionPolicyBindings().Create(ctx, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
				PolicyName:        "replica-limit",
				ValidationActions: actions,
				ParamRef:          &admissionregistrationv1.ParamRef{Name: "replica-limit", Namespace: "default", ParameterNotFoundAction: ptr.To(admissionregistrationv1.DenyAction)},
				MatchResources:    &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": env}}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	bind("prod-deny", "prod", admissionregistrationv1.Deny)
	bind("test-warn", "test", admissionregistrationv1.Warn)

	want := "ValidatingAdmissionPolicy 'replica-limit' with binding 'prod-deny' denied request: replicas must be no greater than 3"
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := client.AppsV1().Deployments("prod").Create(ctx, deployment("big", 5, nil), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil, nil
	})
	if err != nil {
		t.Fatal("the policy never applied")
	}
	_, err = client.AppsV1().Deployments("prod").Create(ctx, deployment("big", 5, nil), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || err.Error() != want {
		t.Errorf("over the limit in prod: %v\nwant %s", err, want)
	}
	if _, err := client.AppsV1().Deployments("prod").Create(ctx, deployment("small", 2, nil), metav1.CreateOptions{}); err != nil {
		t.Errorf("within the limit: %v", err)
	}
	if _, err := client.AppsV1().Deployments("prod").Create(ctx, deployment("exempt", 9, map[string]string{"exempt": "yes"}), metav1.CreateOptions{}); err != nil {
		t.Errorf("matchCondition should exempt it: %v", err)
	}
	if _, err := client.AppsV1().Deployments("test").Create(ctx, deployment("big", 5, nil), metav1.CreateOptions{}); err != nil {
		t.Errorf("warn-only binding refused: %v", err)
	}
	if w := "Validation failed for ValidatingAdmissionPolicy 'replica-limit' with binding 'test-warn': replicas must be no greater than 3"; !warn.has(w) {
		t.Errorf("warnings = %q, want %q", warn.msgs, w)
	}
	if _, err := client.AppsV1().Deployments("default").Create(ctx, deployment("big", 5, nil), metav1.CreateOptions{}); err != nil {
		t.Errorf("unbound namespace refused: %v", err)
	}

	// Without its parameter, a Deny binding refuses.
	if err := client.CoreV1().ConfigMaps("default").Delete(ctx, "replica-limit", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := client.AppsV1().Deployments("prod").Create(ctx, deployment("tiny", 1, nil), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil && strings.Contains(err.Error(), "no params found for policy binding with `Deny` parameterNotFoundAction"), nil
	})
	if err != nil {
		t.Error("a missing parameter did not refuse the request")
	}
}
