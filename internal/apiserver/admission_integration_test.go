package apiserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/auth"
)

// recorder is a mutating and validating plugin that labels ConfigMaps,
// refuses ConfigMaps carrying data key "forbidden", warns, and records
// every call. It reads the namespace through the server's Objects.
type recorder struct {
	mu      sync.Mutex
	calls   []string
	objects auth.Objects
}

func (r *recorder) Name() string              { return "Recorder" }
func (r *recorder) UseObjects(o auth.Objects) { r.objects = o }
func (r *recorder) record(phase string, a *admission.Attributes) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("%s %s %s/%s %s by %s dry=%v", phase, a.Operation, a.Resource.Resource, a.Subresource, a.Name, a.User.Name, a.DryRun))
}

func (r *recorder) Admit(_ context.Context, a *admission.Attributes) error {
	r.record("mutate", a)
	if cm, ok := a.Object.(*corev1.ConfigMap); ok {
		ns, err := r.objects.Get(schema.GroupResource{Resource: "namespaces"}, a.Namespace, a.Namespace)
		if err != nil {
			return err
		}
		if cm.Labels == nil {
			cm.Labels = map[string]string{}
		}
		cm.Labels["admitted-in"] = ns.(*corev1.Namespace).Name
	}
	return nil
}

func (r *recorder) Validate(_ context.Context, a *admission.Attributes) error {
	r.record("validate", a)
	if cm, ok := a.Object.(*corev1.ConfigMap); ok {
		a.Warn("validated " + cm.Name)
		if _, bad := cm.Data["forbidden"]; bad {
			return errors.New("forbidden key")
		}
	}
	return nil
}

func (r *recorder) seen(call string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.calls {
		if c == call {
			return true
		}
	}
	return false
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

func TestAdmissionChain(t *testing.T) {
	rec := &recorder{}
	ts := startTestServerWith(t, func(c *Config) {
		c.Admission = admission.Chain{Mutators: []admission.Mutator{rec}, Validators: []admission.Validator{rec}}
	})
	warn := &warnings{}
	cfg := rest.CopyConfig(ts.admin)
	cfg.WarningHandler = warn
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	cms := client.CoreV1().ConfigMaps("default")

	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Labels["admitted-in"] != "default" {
		t.Errorf("created labels = %v, want the mutation", cm.Labels)
	}
	if !rec.seen("mutate CREATE configmaps/ a by berth-admin dry=false") || !rec.seen("validate CREATE configmaps/ a by berth-admin dry=false") {
		t.Errorf("calls = %q", rec.calls)
	}
	if len(warn.msgs) != 1 || warn.msgs[0] != "validated a" {
		t.Errorf("warnings = %q, want one from the validator", warn.msgs)
	}

	_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Data: map[string]string{"forbidden": ""}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "Recorder: forbidden key") {
		t.Fatalf("create of a refused object: %v, want 403 naming the plugin", err)
	}
	if _, err := cms.Get(ctx, "b", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("refused object was stored: %v", err)
	}

	cm.Data = map[string]string{"forbidden": "x"}
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("refused update: %v, want 403", err)
	}
	if got, _ := cms.Get(ctx, "a", metav1.GetOptions{}); len(got.Data) != 0 {
		t.Errorf("refused update was stored: %v", got.Data)
	}
	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	if !rec.seen("validate DELETE configmaps/ a by berth-admin dry=true") {
		t.Errorf("delete not admitted: %q", rec.calls)
	}

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}
	if err := client.CoreV1().Pods("default").Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if !rec.seen("validate CREATE pods/binding p by berth-admin dry=false") || rec.seen("validate UPDATE pods/binding p by berth-admin dry=false") {
		t.Errorf("binding admission calls = %q, want one CREATE of pods/binding", rec.calls)
	}
}

func TestReviewers(t *testing.T) {
	ts := startTestServerWith(t, func(c *Config) {
		c.Reviewers = map[schema.GroupResource]Reviewer{
			{Group: "authentication.k8s.io", Resource: "selfsubjectreviews"}: func(_ context.Context, u auth.User, obj runtime.Object) (runtime.Object, error) {
				r := obj.(*authenticationv1.SelfSubjectReview)
				r.Status.UserInfo = authenticationv1.UserInfo{Username: u.Name, Groups: u.Groups}
				return r, nil
			},
		}
	})
	client := kubernetes.NewForConfigOrDie(ts.admin)
	ctx := context.Background()
	got, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.UserInfo.Username != "berth-admin" {
		t.Errorf("review answer = %+v", got.Status)
	}
	// A review without a reviewer, and reads of reviews, are refused.
	_, err = client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: "x", NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/", Verb: "get"}}}, metav1.CreateOptions{})
	if !apierrors.IsMethodNotSupported(err) {
		t.Errorf("review without a reviewer: %v, want 405", err)
	}
	err = client.AuthenticationV1().RESTClient().Get().AbsPath("/apis/authentication.k8s.io/v1/tokenreviews").Do(ctx).Error()
	if !apierrors.IsMethodNotSupported(err) {
		t.Errorf("list of reviews: %v, want 405", err)
	}
}
