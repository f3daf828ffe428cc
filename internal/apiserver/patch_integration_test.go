package apiserver

import (
	"context"
	"errors"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"k8s.io/utils/ptr"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// containerImages returns "name=image" for each container, in order.
func containerImages(d *appsv1.Deployment) []string {
	var out []string
	for _, c := range d.Spec.Template.Spec.Containers {
		out = append(out, c.Name+"="+c.Image)
	}
	return out
}

func TestPatch(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	ctx := context.Background()
	ns := ts.namespace(t, "patch")
	deploys := cs.AppsV1().Deployments(ns)

	// create makes a Deployment with containers app and sidecar.
	create := func(t *testing.T, name string) *appsv1.Deployment {
		t.Helper()
		d := testDeployment(name)
		d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: "sidecar", Image: "envoy"})
		out, err := deploys.Create(ctx, d, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	t.Run("JSON patch", func(t *testing.T) {
		d := create(t, "json")
		p := `[{"op":"replace","path":"/spec/replicas","value":3},` +
			`{"op":"add","path":"/metadata/labels","value":{"patched":"json"}},` +
			`{"op":"remove","path":"/spec/template/spec/containers/1"}]`
		got, err := deploys.Patch(ctx, "json", types.JSONPatchType, []byte(p), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *got.Spec.Replicas != 3 || got.Labels["patched"] != "json" || got.Generation != 2 {
			t.Errorf("replicas %d labels %v generation %d", *got.Spec.Replicas, got.Labels, got.Generation)
		}
		if diff := cmp.Diff([]string{"app=busybox"}, containerImages(got)); diff != "" {
			t.Errorf("containers (-want +got):\n%s", diff)
		}
		if got.UID != d.UID || got.ResourceVersion == d.ResourceVersion {
			t.Errorf("uid %s rv %s after patch (before %s %s)", got.UID, got.ResourceVersion, d.UID, d.ResourceVersion)
		}

		// A failing test operation is 422 and changes nothing.
		_, err = deploys.Patch(ctx, "json", types.JSONPatchType, []byte(`[{"op":"test","path":"/spec/replicas","value":9},{"op":"replace","path":"/spec/replicas","value":1}]`), metav1.PatchOptions{})
		if code := statusCode(err); code != http.StatusUnprocessableEntity {
			t.Errorf("failing test op: err = %v (code %d), want 422", err, code)
		}
		_, err = deploys.Patch(ctx, "json", types.JSONPatchType, []byte(`{"not":"a patch"}`), metav1.PatchOptions{})
		if !apierrors.IsBadRequest(err) {
			t.Errorf("malformed JSON patch: err = %v, want BadRequest", err)
		}
	})

	t.Run("merge patch", func(t *testing.T) {
		create(t, "merge")
		got, err := deploys.Patch(ctx, "merge", types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"a":"1","b":"2"}},"spec":{"replicas":2}}`), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *got.Spec.Replicas != 2 || got.Labels["a"] != "1" || got.Labels["b"] != "2" {
			t.Errorf("after merge patch: replicas %d labels %v", *got.Spec.Replicas, got.Labels)
		}
		got, err = deploys.Patch(ctx, "merge", types.MergePatchType, []byte(`{"metadata":{"labels":{"a":null}}}`), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{"b": "2"}, got.Labels); diff != "" {
			t.Errorf("labels after null (-want +got):\n%s", diff)
		}
		// A JSON merge patch replaces lists whole.
		got, err = deploys.Patch(ctx, "merge", types.MergePatchType,
			[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"envoy:2"}]}}}}`), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"sidecar=envoy:2"}, containerImages(got)); diff != "" {
			t.Errorf("containers after merge patch (-want +got):\n%s", diff)
		}
	})

	t.Run("strategic merge patch merges containers by name", func(t *testing.T) {
		create(t, "smp")
		got, err := deploys.Patch(ctx, "smp", types.StrategicMergePatchType,
			[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"envoy:2"},{"name":"extra","image":"redis"}]}}}}`), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"app=busybox", "sidecar=envoy:2", "extra=redis"}, containerImages(got)); diff != "" {
			t.Errorf("containers after strategic merge patch (-want +got):\n%s", diff)
		}
		// Defaults are filled in the merged container as in the others.
		for _, c := range got.Spec.Template.Spec.Containers {
			if c.TerminationMessagePath == "" || c.ImagePullPolicy == "" {
				t.Errorf("container %s not defaulted: %+v", c.Name, c)
			}
		}
		got, err = deploys.Patch(ctx, "smp", types.StrategicMergePatchType,
			[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"extra","$patch":"delete"}]}}}}`), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"app=busybox", "sidecar=envoy:2"}, containerImages(got)); diff != "" {
			t.Errorf("containers after $patch: delete (-want +got):\n%s", diff)
		}
		_, err = deploys.Patch(ctx, "smp", types.StrategicMergePatchType, []byte(`{"spec":`), metav1.PatchOptions{})
		if !apierrors.IsBadRequest(err) {
			t.Errorf("malformed strategic merge patch: err = %v, want BadRequest", err)
		}
	})

	t.Run("resourceVersion in the patch is a precondition", func(t *testing.T) {
		d := create(t, "locked")
		if _, err := deploys.Patch(ctx, "locked", types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"1"}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, pt := range []types.PatchType{types.MergePatchType, types.StrategicMergePatchType} {
			_, err := deploys.Patch(ctx, "locked", pt,
				[]byte(`{"metadata":{"resourceVersion":"`+d.ResourceVersion+`","labels":{"x":"2"}}}`), metav1.PatchOptions{})
			wantStatus(t, err, http.StatusConflict, metav1.StatusReasonConflict,
				`Operation cannot be fulfilled on deployments.apps "locked": the object has been modified; please apply your changes to the latest version and try again`)
		}
		cur, err := deploys.Get(ctx, "locked", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cur.Labels["x"] != "1" {
			t.Errorf("label x = %q after refused patches, want 1", cur.Labels["x"])
		}
		got, err := deploys.Patch(ctx, "locked", types.MergePatchType,
			[]byte(`{"metadata":{"resourceVersion":"`+cur.ResourceVersion+`","labels":{"x":"3"}}}`), metav1.PatchOptions{})
		if err != nil {
			t.Fatalf("patch with the current resourceVersion: %v", err)
		}
		if got.Labels["x"] != "3" {
			t.Errorf("label x = %q, want 3", got.Labels["x"])
		}
	})

	t.Run("no change keeps the resourceVersion", func(t *testing.T) {
		d := create(t, "noop")
		got, err := deploys.Patch(ctx, "noop", types.MergePatchType, []byte(`{"spec":{"replicas":1}}`), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.ResourceVersion != d.ResourceVersion {
			t.Errorf("no-op patch moved resourceVersion %s → %s", d.ResourceVersion, got.ResourceVersion)
		}
	})

	t.Run("status is kept by patches to the main resource", func(t *testing.T) {
		create(t, "status")
		got, err := deploys.Patch(ctx, "status", types.MergePatchType, []byte(`{"status":{"replicas":5},"spec":{"replicas":4}}`), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Replicas != 0 || *got.Spec.Replicas != 4 {
			t.Errorf("status.replicas %d spec.replicas %d, want 0 and 4", got.Status.Replicas, *got.Spec.Replicas)
		}
		got, err = deploys.Patch(ctx, "status", types.MergePatchType, []byte(`{"status":{"replicas":5},"spec":{"replicas":9}}`), metav1.PatchOptions{}, "status")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Replicas != 5 || *got.Spec.Replicas != 4 {
			t.Errorf("after status patch: status.replicas %d spec.replicas %d, want 5 and 4", got.Status.Replicas, *got.Spec.Replicas)
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := deploys.Patch(ctx, "absent", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{})
		wantStatus(t, err, http.StatusNotFound, metav1.StatusReasonNotFound, `deployments.apps "absent" not found`)

		create(t, "errs")
		r := ts.do(t, http.MethodPatch, "/apis/apps/v1/namespaces/"+ns+"/deployments/errs", []byte(`{}`), "Content-Type", "text/plain")
		if r.code != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain patch: %d, want 415", r.code)
		}

		// Strict field validation of the patched object, as upstream: 422.
		_, err = deploys.Patch(ctx, "errs", types.MergePatchType, []byte(`{"spec":{"foo":1}}`), metav1.PatchOptions{FieldValidation: "Strict"})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `strict decoding error: unknown field "spec.foo"`) {
			t.Errorf("strict patch with an unknown field: err = %v, want 422 Invalid naming spec.foo", err)
		}
		r = ts.do(t, http.MethodPatch, "/apis/apps/v1/namespaces/"+ns+"/deployments/errs?fieldValidation=Warn",
			[]byte(`{"spec":{"foo":1}}`), "Content-Type", string(types.MergePatchType))
		if r.code != http.StatusOK || !strings.Contains(strings.Join(r.header.Values("Warning"), ";"), `unknown field \"spec.foo\"`) {
			t.Errorf("warn patch with an unknown field: %d, warnings %q", r.code, r.header.Values("Warning"))
		}

		// A patch cannot change the name.
		_, err = deploys.Patch(ctx, "errs", types.MergePatchType, []byte(`{"metadata":{"name":"other"}}`), metav1.PatchOptions{})
		if err == nil {
			t.Error("patch renaming the object succeeded")
		}
		if _, err := deploys.Get(ctx, "other", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("renaming patch created %q: %v", "other", err)
		}
	})
}

// statusCode is the HTTP code of an API error, or 0.
func statusCode(err error) int32 {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		return se.Status().Code
	}
	return 0
}

// TestManagedFieldsAcrossConvertedVersions: managers that wrote an HPA in
// autoscaling/v1 and in v2 (one set of objects, converted by the registry)
// keep their managedFields entries, each in its own version.
func TestManagedFieldsAcrossConvertedVersions(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	ctx := context.Background()
	ns := ts.namespace(t, "hpa")
	v1hpa := &autoscalingv1.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MaxReplicas:    5, TargetCPUUtilizationPercentage: ptr.To[int32](50),
		},
	}
	if _, err := cs.AutoscalingV1().HorizontalPodAutoscalers(ns).Create(ctx, v1hpa, metav1.CreateOptions{FieldManager: "kubectl-autoscale"}); err != nil {
		t.Fatal(err)
	}
	cur, err := cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Status.CurrentReplicas, cur.Status.DesiredReplicas = 2, 3
	out, err := cs.AutoscalingV2().HorizontalPodAutoscalers(ns).UpdateStatus(ctx, cur, metav1.UpdateOptions{FieldManager: "autoscaler"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range out.ManagedFields {
		got[m.Manager] = m.APIVersion
	}
	if got["kubectl-autoscale"] != "autoscaling/v1" || got["autoscaler"] != "autoscaling/v2" {
		t.Errorf("managedFields managers = %v, want kubectl-autoscale in autoscaling/v1 and autoscaler in autoscaling/v2", got)
	}
}
