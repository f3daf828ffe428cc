package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

func TestCreate(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	ctx := context.Background()
	ns := ts.namespace(t, "create")

	t.Run("server-set metadata", func(t *testing.T) {
		before := time.Now().Add(-time.Second)
		d, err := cs.AppsV1().Deployments(ns).Create(ctx, testDeployment("web"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.UID == "" {
			t.Error("uid not set")
		}
		if d.CreationTimestamp.Time.Before(before.Truncate(time.Second)) || d.CreationTimestamp.Time.After(time.Now()) {
			t.Errorf("creationTimestamp %v is not now", d.CreationTimestamp)
		}
		if d.ResourceVersion == "" {
			t.Error("resourceVersion not set")
		}
		if d.Generation != 1 {
			t.Errorf("generation of a kind with spec = %d, want 1", d.Generation)
		}
		if d.Namespace != ns {
			t.Errorf("namespace = %q, want %q", d.Namespace, ns)
		}
		got, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.UID != d.UID || got.ResourceVersion != d.ResourceVersion || !got.CreationTimestamp.Equal(&d.CreationTimestamp) {
			t.Errorf("get returned uid %s rv %s created %v, create returned %s %s %v",
				got.UID, got.ResourceVersion, got.CreationTimestamp, d.UID, d.ResourceVersion, d.CreationTimestamp)
		}

		cm, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, testConfigMap("plain", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cm.Generation != 0 {
			t.Errorf("generation of a kind without spec = %d, want 0", cm.Generation)
		}
	})

	t.Run("client-set metadata is replaced", func(t *testing.T) {
		cm := testConfigMap("forged", nil)
		cm.UID = "forged-uid"
		cm.ResourceVersion = "12345"
		cm.CreationTimestamp = metav1.NewTime(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
		got, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.UID == "forged-uid" || got.CreationTimestamp.Year() == 2000 {
			t.Errorf("server kept client-set uid %q / creationTimestamp %v", got.UID, got.CreationTimestamp)
		}
	})

	t.Run("generateName", func(t *testing.T) {
		pod := testPod("")
		pod.GenerateName = "worker-"
		seen := map[string]bool{}
		for range 3 {
			got, err := cs.CoreV1().Pods(ns).Create(ctx, pod.DeepCopy(), metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got.Name, "worker-") || len(got.Name) != len("worker-")+5 {
				t.Errorf("generated name %q, want worker- and 5 characters", got.Name)
			}
			if got.GenerateName != "worker-" {
				t.Errorf("generateName = %q, want worker-", got.GenerateName)
			}
			if seen[got.Name] {
				t.Errorf("name %q generated twice", got.Name)
			}
			seen[got.Name] = true
		}
	})

	t.Run("existing name is 409 AlreadyExists", func(t *testing.T) {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, testPod("dup"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := cs.CoreV1().Pods(ns).Create(ctx, testPod("dup"), metav1.CreateOptions{})
		st := wantStatus(t, err, http.StatusConflict, metav1.StatusReasonAlreadyExists, `pods "dup" already exists`)
		if diff := cmp.Diff(&metav1.StatusDetails{Name: "dup", Kind: "pods"}, st.Details); diff != "" {
			t.Errorf("details (-want +got):\n%s", diff)
		}
		_, err = cs.AppsV1().Deployments(ns).Create(ctx, testDeployment("web"), metav1.CreateOptions{})
		st = wantStatus(t, err, http.StatusConflict, metav1.StatusReasonAlreadyExists, `deployments.apps "web" already exists`)
		if diff := cmp.Diff(&metav1.StatusDetails{Name: "web", Group: "apps", Kind: "deployments"}, st.Details); diff != "" {
			t.Errorf("details (-want +got):\n%s", diff)
		}
	})

	t.Run("missing namespace is 404", func(t *testing.T) {
		_, err := cs.CoreV1().Pods("nope").Create(ctx, testPod("p"), metav1.CreateOptions{})
		st := wantStatus(t, err, http.StatusNotFound, metav1.StatusReasonNotFound, `namespaces "nope" not found`)
		if diff := cmp.Diff(&metav1.StatusDetails{Name: "nope", Kind: "namespaces"}, st.Details); diff != "" {
			t.Errorf("details (-want +got):\n%s", diff)
		}
		if _, err := cs.CoreV1().Pods("nope").Get(ctx, "p", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the pod exists after a refused create: get err = %v", err)
		}
	})

	t.Run("namespace in body must match the URL", func(t *testing.T) {
		pod := testPod("elsewhere")
		pod.Namespace = "default"
		_, err := cs.CoreV1().RESTClient().Post().Namespace(ns).Resource("pods").Body(pod).Do(ctx).Get()
		wantStatus(t, err, http.StatusBadRequest, metav1.StatusReasonBadRequest,
			"the namespace of the provided object does not match the namespace sent on the request")
	})
}

func TestGetMissing(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	ctx := context.Background()

	_, err := cs.CoreV1().Pods("default").Get(ctx, "x", metav1.GetOptions{})
	st := wantStatus(t, err, http.StatusNotFound, metav1.StatusReasonNotFound, `pods "x" not found`)
	if diff := cmp.Diff(&metav1.StatusDetails{Name: "x", Kind: "pods"}, st.Details); diff != "" {
		t.Errorf("details (-want +got):\n%s", diff)
	}
	if st.Status != metav1.StatusFailure {
		t.Errorf("status = %q, want Failure", st.Status)
	}

	_, err = cs.AppsV1().Deployments("default").Get(ctx, "x", metav1.GetOptions{ResourceVersion: "0"})
	wantStatus(t, err, http.StatusNotFound, metav1.StatusReasonNotFound, `deployments.apps "x" not found`)

	// The raw response is a JSON Status.
	r := ts.do(t, http.MethodGet, "/api/v1/namespaces/default/pods/x", nil)
	if r.code != http.StatusNotFound || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("raw get: %d %q, want 404 application/json", r.code, r.header.Get("Content-Type"))
	}
	if got := decodeStatus(t, r); got.Message != `pods "x" not found` {
		t.Errorf("raw get message %q", got.Message)
	}
}

func TestUpdate(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	ctx := context.Background()
	ns := ts.namespace(t, "update")
	deploys := cs.AppsV1().Deployments(ns)

	d, err := deploys.Create(ctx, testDeployment("web"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("stale resourceVersion is 409 Conflict", func(t *testing.T) {
		cur, err := deploys.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cur.Labels = map[string]string{"v": "1"}
		if _, err := deploys.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		cur.Labels = map[string]string{"v": "2"} // cur still has the old resourceVersion
		_, err = deploys.Update(ctx, cur, metav1.UpdateOptions{})
		wantStatus(t, err, http.StatusConflict, metav1.StatusReasonConflict,
			`Operation cannot be fulfilled on deployments.apps "web": the object has been modified; please apply your changes to the latest version and try again`)
		got, err := deploys.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Labels["v"] != "1" {
			t.Errorf("labels after the refused update = %v, want v=1", got.Labels)
		}
	})

	t.Run("without resourceVersion", func(t *testing.T) {
		cur, err := deploys.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cur.ResourceVersion = ""
		cur.Labels = map[string]string{"v": "unconditional"}
		got, err := deploys.Update(ctx, cur, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Labels["v"] != "unconditional" || got.ResourceVersion == "" {
			t.Errorf("update returned labels %v rv %q", got.Labels, got.ResourceVersion)
		}
	})

	t.Run("no change keeps the resourceVersion", func(t *testing.T) {
		cur, err := deploys.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := deploys.Update(ctx, cur.DeepCopy(), metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.ResourceVersion != cur.ResourceVersion {
			t.Errorf("no-op update moved resourceVersion %s → %s", cur.ResourceVersion, got.ResourceVersion)
		}
		// Also when the client leaves out fields the server defaults.
		bare := testDeployment("web")
		bare.Labels = cur.Labels
		got, err = deploys.Update(ctx, bare, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.ResourceVersion != cur.ResourceVersion {
			t.Errorf("update with only defaulted fields missing moved resourceVersion %s → %s", cur.ResourceVersion, got.ResourceVersion)
		}
	})

	t.Run("generation follows spec changes only", func(t *testing.T) {
		cur, err := deploys.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		gen := cur.Generation
		cur.Labels = map[string]string{"v": "labels-only"}
		cur.Annotations = map[string]string{"a": "b"}
		got, err := deploys.Update(ctx, cur, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Generation != gen {
			t.Errorf("metadata-only update: generation %d → %d, want unchanged", gen, got.Generation)
		}
		if got.ResourceVersion == cur.ResourceVersion {
			t.Error("metadata-only update kept the resourceVersion")
		}
		got.Spec.Replicas = ptr.To[int32](3)
		got, err = deploys.Update(ctx, got, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Generation != gen+1 {
			t.Errorf("spec update: generation %d, want %d", got.Generation, gen+1)
		}
		// A client cannot set generation.
		got.Generation = 100
		got.Labels["v"] = "forged-generation"
		got, err = deploys.Update(ctx, got, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Generation != gen+1 {
			t.Errorf("client-set generation: got %d, want %d", got.Generation, gen+1)
		}
	})

	t.Run("server-owned metadata is kept", func(t *testing.T) {
		cur, err := deploys.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cur.UID = "forged"
		cur.CreationTimestamp = metav1.NewTime(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
		got, err := deploys.Update(ctx, cur, metav1.UpdateOptions{})
		if err == nil && (got.UID != d.UID || !got.CreationTimestamp.Equal(&d.CreationTimestamp)) {
			t.Errorf("update changed uid/creationTimestamp to %s/%v", got.UID, got.CreationTimestamp)
		}
	})

	t.Run("missing object is 404", func(t *testing.T) {
		_, err := deploys.Update(ctx, testDeployment("absent"), metav1.UpdateOptions{})
		wantStatus(t, err, http.StatusNotFound, metav1.StatusReasonNotFound, `deployments.apps "absent" not found`)
	})

	t.Run("name must match the URL", func(t *testing.T) {
		_, err := cs.AppsV1().RESTClient().Put().Namespace(ns).Resource("deployments").Name("other").
			Body(testDeployment("web")).Do(ctx).Get()
		wantStatus(t, err, http.StatusBadRequest, metav1.StatusReasonBadRequest,
			"the name of the object (web) does not match the name on the URL (other)")
	})
}

func TestStatusSubresource(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	ctx := context.Background()
	ns := ts.namespace(t, "status")
	deploys := cs.AppsV1().Deployments(ns)

	created := testDeployment("web")
	created.Status.Replicas = 42 // ignored on create
	d, err := deploys.Create(ctx, created, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.Replicas != 0 {
		t.Errorf("create kept client status replicas %d", d.Status.Replicas)
	}

	// PUT /status changes the status and nothing else.
	d.Status.Replicas, d.Status.ReadyReplicas, d.Status.ObservedGeneration = 1, 1, 1
	d.Spec.Replicas = ptr.To[int32](7)
	d.Labels = map[string]string{"from": "status"}
	s, err := deploys.UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Status.Replicas != 1 || s.Status.ReadyReplicas != 1 || s.Status.ObservedGeneration != 1 {
		t.Errorf("status after UpdateStatus = %+v", s.Status)
	}
	if *s.Spec.Replicas != 1 || s.Labels["from"] == "status" || s.Generation != 1 {
		t.Errorf("UpdateStatus changed spec.replicas %d, labels %v, generation %d", *s.Spec.Replicas, s.Labels, s.Generation)
	}

	// PUT on the main resource keeps the stored status.
	s.Status.Replicas = 99
	s.Spec.Replicas = ptr.To[int32](2)
	m, err := deploys.Update(ctx, s, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Status.Replicas != 1 || *m.Spec.Replicas != 2 || m.Generation != 2 {
		t.Errorf("after main update: status.replicas %d (want 1), spec.replicas %d (want 2), generation %d (want 2)",
			m.Status.Replicas, *m.Spec.Replicas, m.Generation)
	}

	// GET /status returns the whole object.
	var got appsv1.Deployment
	if err := cs.AppsV1().RESTClient().Get().Namespace(ns).Resource("deployments").Name("web").SubResource("status").Do(ctx).Into(&got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Replicas != 1 || got.Name != "web" {
		t.Errorf("GET /status: name %q status.replicas %d", got.Name, got.Status.Replicas)
	}

	// A stale resourceVersion on /status is a conflict.
	s.Status.Replicas = 5
	_, err = deploys.UpdateStatus(ctx, s, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Errorf("stale UpdateStatus: err = %v, want Conflict", err)
	}

	// A kind without a status subresource has none.
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, testConfigMap("cm", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = cs.CoreV1().RESTClient().Get().Namespace(ns).Resource("configmaps").Name("cm").SubResource("status").Do(ctx).Error()
	if !apierrors.IsNotFound(err) {
		t.Errorf("GET configmaps/cm/status: err = %v, want NotFound", err)
	}
}

func TestScaleSubresource(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	ctx := context.Background()
	ns := ts.namespace(t, "scale")
	deploys := cs.AppsV1().Deployments(ns)

	d, err := deploys.Create(ctx, testDeployment("web"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := deploys.GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, UID: d.UID,
			ResourceVersion: d.ResourceVersion, CreationTimestamp: d.CreationTimestamp},
		Spec:   autoscalingv1.ScaleSpec{Replicas: 1},
		Status: autoscalingv1.ScaleStatus{Selector: "app=web"},
	}
	// client-go's typed decoding leaves TypeMeta empty.
	want.TypeMeta = sc.TypeMeta
	if diff := cmp.Diff(want, sc); diff != "" {
		t.Errorf("GetScale (-want +got):\n%s", diff)
	}
	r := ts.do(t, http.MethodGet, "/apis/apps/v1/namespaces/"+ns+"/deployments/web/scale", nil)
	var raw autoscalingv1.Scale
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Kind != "Scale" || raw.APIVersion != "autoscaling/v1" {
		t.Errorf("GET scale answered %s %s, want autoscaling/v1 Scale", raw.APIVersion, raw.Kind)
	}

	sc.Spec.Replicas = 4
	up, err := deploys.UpdateScale(ctx, "web", sc, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if up.Spec.Replicas != 4 || up.ResourceVersion == sc.ResourceVersion {
		t.Errorf("UpdateScale returned replicas %d rv %s (before %s)", up.Spec.Replicas, up.ResourceVersion, sc.ResourceVersion)
	}
	got, err := deploys.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *got.Spec.Replicas != 4 || got.Generation != 2 {
		t.Errorf("after UpdateScale: spec.replicas %d generation %d, want 4 and 2", *got.Spec.Replicas, got.Generation)
	}

	// A stale resourceVersion on the Scale is a conflict.
	sc.Spec.Replicas = 9
	_, err = deploys.UpdateScale(ctx, "web", sc, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Errorf("stale UpdateScale: err = %v, want Conflict", err)
	}

	// Patches on /scale, as kubectl scale and the HPA send them.
	for _, p := range []struct {
		pt   types.PatchType
		body string
		want int32
	}{
		{types.MergePatchType, `{"spec":{"replicas":5}}`, 5},
		{types.StrategicMergePatchType, `{"spec":{"replicas":6}}`, 6},
		{types.JSONPatchType, `[{"op":"replace","path":"/spec/replicas","value":7}]`, 7},
	} {
		r := ts.do(t, http.MethodPatch, "/apis/apps/v1/namespaces/"+ns+"/deployments/web/scale", []byte(p.body), "Content-Type", string(p.pt))
		if r.code != http.StatusOK {
			t.Fatalf("%s patch on scale: %d %s", p.pt, r.code, r.body)
		}
		var out autoscalingv1.Scale
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
		if out.Spec.Replicas != p.want || out.Kind != "Scale" || out.APIVersion != "autoscaling/v1" {
			t.Errorf("%s patch on scale returned %s %s replicas %d, want autoscaling/v1 Scale %d", p.pt, out.APIVersion, out.Kind, out.Spec.Replicas, p.want)
		}
		got, err := deploys.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *got.Spec.Replicas != p.want {
			t.Errorf("after %s patch on scale: spec.replicas %d, want %d", p.pt, *got.Spec.Replicas, p.want)
		}
	}
	if _, err := deploys.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":8}}`), metav1.PatchOptions{}, "scale"); err != nil {
		t.Errorf("client-go patch on scale: %v", err)
	}

	sc.ResourceVersion = ""
	sc.Spec.Replicas = -1
	_, err = deploys.UpdateScale(ctx, "web", sc, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Errorf("negative replicas: err = %v, want Invalid", err)
	}
	_, err = deploys.GetScale(ctx, "absent", metav1.GetOptions{})
	wantStatus(t, err, http.StatusNotFound, metav1.StatusReasonNotFound, `deployments.apps "absent" not found`)
}

func TestDryRun(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	ctx := context.Background()
	ns := ts.namespace(t, "dryrun")
	cms := cs.CoreV1().ConfigMaps(ns)
	dry := []string{metav1.DryRunAll}

	out, err := cms.Create(ctx, testConfigMap("ghost", nil), metav1.CreateOptions{DryRun: dry})
	if err != nil {
		t.Fatal(err)
	}
	if out.Name != "ghost" || out.UID == "" {
		t.Errorf("dry-run create returned name %q uid %q", out.Name, out.UID)
	}
	if _, err := cms.Get(ctx, "ghost", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after dry-run create: get err = %v, want NotFound", err)
	}

	real, err := cms.Create(ctx, testConfigMap("real", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	changed := real.DeepCopy()
	changed.Data = map[string]string{"k": "dry"}
	out, err = cms.Update(ctx, changed, metav1.UpdateOptions{DryRun: dry})
	if err != nil {
		t.Fatal(err)
	}
	if out.Data["k"] != "dry" {
		t.Errorf("dry-run update returned data %v, want the updated object", out.Data)
	}
	got, err := cms.Get(ctx, "real", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["k"] != "v" || got.ResourceVersion != real.ResourceVersion {
		t.Errorf("after dry-run update: data %v rv %s, want unchanged (rv %s)", got.Data, got.ResourceVersion, real.ResourceVersion)
	}

	out, err = cms.Patch(ctx, "real", types.MergePatchType, []byte(`{"data":{"k":"dry"}}`), metav1.PatchOptions{DryRun: dry})
	if err != nil {
		t.Fatal(err)
	}
	if out.Data["k"] != "dry" {
		t.Errorf("dry-run patch returned data %v, want the patched object", out.Data)
	}
	got, err = cms.Get(ctx, "real", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["k"] != "v" || got.ResourceVersion != real.ResourceVersion {
		t.Errorf("after dry-run patch: data %v rv %s, want unchanged", got.Data, got.ResourceVersion)
	}

	// DeleteOptions in the query.
	if r := ts.do(t, http.MethodDelete, "/api/v1/namespaces/"+ns+"/configmaps/real?dryRun=All", nil); r.code != http.StatusOK {
		t.Errorf("dry-run delete (options in the query): %d %s", r.code, r.body)
	}
	if _, err := cms.Get(ctx, "real", metav1.GetOptions{}); err != nil {
		t.Errorf("after dry-run delete (options in the query): %v", err)
	}
	// client-go sends DeleteOptions in the body.
	if err := cms.Delete(ctx, "real", metav1.DeleteOptions{DryRun: dry}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "real", metav1.GetOptions{}); err != nil {
		t.Errorf("after dry-run delete (options in the body): %v", err)
	}

	// Dry-run create in a missing namespace fails as a real one would.
	_, err = cs.CoreV1().ConfigMaps("nope").Create(ctx, testConfigMap("x", nil), metav1.CreateOptions{DryRun: dry})
	wantStatus(t, err, http.StatusNotFound, metav1.StatusReasonNotFound, `namespaces "nope" not found`)

	_, err = cms.Create(ctx, testConfigMap("x", nil), metav1.CreateOptions{DryRun: []string{"Some"}})
	if !apierrors.IsBadRequest(err) {
		t.Errorf("dryRun=Some: err = %v, want BadRequest", err)
	}
}

func TestFieldValidation(t *testing.T) {
	ts := startTestServer(t)
	ctx := context.Background()
	ns := ts.namespace(t, "fv")
	body := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"NAME"},` +
		`"spec":{"foo":1,"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},` +
		`"spec":{"containers":[{"name":"app","image":"busybox"}]}}}}`)
	withName := func(name string) []byte { return []byte(strings.Replace(string(body), "NAME", name, 1)) }
	path := "/apis/apps/v1/namespaces/" + ns + "/deployments"

	t.Run("Strict", func(t *testing.T) {
		r := ts.do(t, http.MethodPost, path+"?fieldValidation=Strict", withName("strict"), "Content-Type", "application/json")
		if r.code != http.StatusBadRequest {
			t.Fatalf("code %d, want 400: %s", r.code, r.body)
		}
		st := decodeStatus(t, r)
		want := `Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.foo"`
		if st.Reason != metav1.StatusReasonBadRequest || st.Message != want {
			t.Errorf("status %s %q, want BadRequest %q", st.Reason, st.Message, want)
		}
		if r := ts.do(t, http.MethodGet, path+"/strict", nil); r.code != http.StatusNotFound {
			t.Errorf("refused object was stored: get answered %d", r.code)
		}
	})

	t.Run("Strict YAML", func(t *testing.T) {
		yml := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: strict-yaml\nspec:\n  foo: 1\n" +
			"  selector:\n    matchLabels: {app: x}\n  template:\n    metadata:\n      labels: {app: x}\n" +
			"    spec:\n      containers: [{name: app, image: busybox}]\n"
		r := ts.do(t, http.MethodPost, path+"?fieldValidation=Strict", []byte(yml), "Content-Type", "application/yaml")
		if r.code != http.StatusBadRequest || !strings.Contains(string(r.body), `unknown field \"spec.foo\"`) {
			t.Errorf("code %d body %s, want 400 naming spec.foo", r.code, r.body)
		}
	})

	t.Run("Warn", func(t *testing.T) {
		r := ts.do(t, http.MethodPost, path+"?fieldValidation=Warn", withName("warn"), "Content-Type", "application/json")
		if r.code != http.StatusCreated {
			t.Fatalf("code %d, want 201: %s", r.code, r.body)
		}
		if diff := cmp.Diff([]string{`299 - "unknown field \"spec.foo\""`}, r.header.Values("Warning")); diff != "" {
			t.Errorf("Warning headers (-want +got):\n%s", diff)
		}
	})

	t.Run("Warn through client-go", func(t *testing.T) {
		var warnings []string
		cfg := rest.CopyConfig(ts.admin)
		cfg.WarningHandler = warningRecorder(func(msg string) { warnings = append(warnings, msg) })
		wcs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = wcs.AppsV1().RESTClient().Post().Namespace(ns).Resource("deployments").SetHeader("Content-Type", "application/json").
			Body(withName("warn-client")).Do(ctx).Error()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{`unknown field "spec.foo"`}, warnings); diff != "" {
			t.Errorf("warnings (-want +got):\n%s", diff)
		}
	})

	t.Run("Ignore", func(t *testing.T) {
		r := ts.do(t, http.MethodPost, path+"?fieldValidation=Ignore", withName("ignore"), "Content-Type", "application/json")
		if r.code != http.StatusCreated || len(r.header.Values("Warning")) != 0 {
			t.Errorf("code %d warnings %q, want 201 and none", r.code, r.header.Values("Warning"))
		}
	})

	t.Run("unknown mode", func(t *testing.T) {
		r := ts.do(t, http.MethodPost, path+"?fieldValidation=Loud", withName("loud"), "Content-Type", "application/json")
		if r.code != http.StatusBadRequest {
			t.Errorf("code %d, want 400", r.code)
		}
	})
}

func TestFinalizers(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	ctx := context.Background()
	ns := ts.namespace(t, "fin")
	cms := cs.CoreV1().ConfigMaps(ns)

	cm := testConfigMap("held", nil)
	cm.Finalizers = []string{"example.com/hold"}
	if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := cms.Get(ctx, "held", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("object with a finalizer is gone after delete: %v", err)
	}
	if got.DeletionTimestamp == nil {
		t.Fatal("deletionTimestamp not set")
	}
	if got.DeletionGracePeriodSeconds == nil || *got.DeletionGracePeriodSeconds != 0 {
		t.Errorf("deletionGracePeriodSeconds = %v, want 0", got.DeletionGracePeriodSeconds)
	}
	// Deleting again changes nothing.
	if err := cms.Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	again, err := cms.Get(ctx, "held", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.ResourceVersion != got.ResourceVersion {
		t.Errorf("second delete moved resourceVersion %s → %s", got.ResourceVersion, again.ResourceVersion)
	}
	// Other updates keep the deletionTimestamp.
	again.Data = map[string]string{"k": "still here"}
	upd, err := cms.Update(ctx, again, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if upd.DeletionTimestamp == nil || !upd.DeletionTimestamp.Equal(got.DeletionTimestamp) {
		t.Errorf("update changed deletionTimestamp %v → %v", got.DeletionTimestamp, upd.DeletionTimestamp)
	}
	// Removing the last finalizer deletes it.
	upd.Finalizers = nil
	if _, err := cms.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "held", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after removing the finalizer: get err = %v, want NotFound", err)
	}

	// The same through a patch, as controllers do.
	cm = testConfigMap("patched", nil)
	cm.Finalizers = []string{"example.com/hold"}
	if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "patched", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Patch(ctx, "patched", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "patched", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after patching the finalizer away: get err = %v, want NotFound", err)
	}

	// Without finalizers delete removes at once.
	if _, err := cms.Create(ctx, testConfigMap("plain", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "plain", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "plain", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after delete: get err = %v, want NotFound", err)
	}
	err = cms.Delete(ctx, "plain", metav1.DeleteOptions{})
	wantStatus(t, err, http.StatusNotFound, metav1.StatusReasonNotFound, `configmaps "plain" not found`)

	// Propagation policies add their finalizer, from the body (client-go)
	// or the query.
	for _, p := range []struct {
		name, query string
		opts        metav1.DeleteOptions
		want        string
	}{
		{"foreground-body", "", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}, metav1.FinalizerDeleteDependents},
		{"orphan-body", "", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationOrphan)}, metav1.FinalizerOrphanDependents},
		{"foreground-query", "?propagationPolicy=Foreground", metav1.DeleteOptions{}, metav1.FinalizerDeleteDependents},
	} {
		if _, err := cms.Create(ctx, testConfigMap(p.name, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var err error
		if p.query != "" {
			if r := ts.do(t, http.MethodDelete, "/api/v1/namespaces/"+ns+"/configmaps/"+p.name+p.query, nil); r.code != http.StatusOK {
				err = fmt.Errorf("%d %s", r.code, r.body)
			}
		} else {
			err = cms.Delete(ctx, p.name, p.opts)
		}
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		got, err := cms.Get(ctx, p.name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s: object gone at once: %v", p.name, err)
			continue
		}
		if got.DeletionTimestamp == nil || !slices.Equal(got.Finalizers, []string{p.want}) {
			t.Errorf("%s: deletionTimestamp %v finalizers %v, want set and [%s]", p.name, got.DeletionTimestamp, got.Finalizers, p.want)
		}
	}

	// Preconditions.
	c, err := cms.Create(ctx, testConfigMap("pre", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = cms.Delete(ctx, "pre", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr.To(types.UID("other"))}})
	if !apierrors.IsConflict(err) {
		t.Errorf("delete with a wrong uid precondition: err = %v, want Conflict", err)
	}
	if err := cms.Delete(ctx, "pre", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &c.UID}}); err != nil {
		t.Errorf("delete with the right uid precondition: %v", err)
	}
}

func TestDeleteCollection(t *testing.T) {
	ts := startTestServer(t)
	cs := ts.clientset(t)
	ctx := context.Background()
	ns := ts.namespace(t, "dc")
	other := ts.namespace(t, "dc-other")
	for _, c := range []struct{ ns, name, tier string }{
		{ns, "a", "web"}, {ns, "b", "web"}, {ns, "c", "db"}, {other, "d", "web"},
	} {
		if _, err := cs.CoreV1().ConfigMaps(c.ns).Create(ctx, testConfigMap(c.name, map[string]string{"tier": c.tier}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cs.CoreV1().ConfigMaps(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "tier=web"}); err != nil {
		t.Fatal(err)
	}
	names := func(namespace string) []string {
		l, err := cs.CoreV1().ConfigMaps(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, i := range l.Items {
			out = append(out, i.Name)
		}
		return out
	}
	if diff := cmp.Diff([]string{"c"}, names(ns)); diff != "" {
		t.Errorf("left in %s (-want +got):\n%s", ns, diff)
	}
	if diff := cmp.Diff([]string{"d"}, names(other)); diff != "" {
		t.Errorf("left in %s (-want +got):\n%s", other, diff)
	}

	// The response lists what was deleted.
	var deleted corev1.ConfigMapList
	if err := cs.CoreV1().RESTClient().Delete().Namespace(ns).Resource("configmaps").Do(ctx).Into(&deleted); err != nil {
		t.Fatal(err)
	}
	if len(deleted.Items) != 1 || deleted.Items[0].Name != "c" {
		t.Errorf("deletecollection returned %d items", len(deleted.Items))
	}
	if got := names(ns); len(got) != 0 {
		t.Errorf("left after deleting all: %v", got)
	}

	// Namespaces do not support deletecollection.
	err := cs.CoreV1().RESTClient().Delete().Resource("namespaces").Do(ctx).Error()
	if !apierrors.IsMethodNotSupported(err) {
		t.Errorf("namespaces deletecollection: err = %v, want MethodNotSupported", err)
	}
}

// warningRecorder is a client-go WarningHandler calling a function.
type warningRecorder func(msg string)

func (f warningRecorder) HandleWarningHeader(_ int, _ string, msg string) { f(msg) }

// TestGracefulPodSurvivesStatusUpdates: a pod on a node in graceful
// deletion has no finalizers, and its node's status updates must not
// delete it; its node's delete with grace period 0 does.
func TestGracefulPodSurvivesStatusUpdates(t *testing.T) {
	ts := startTestServer(t)
	pods := ts.clientset(t).CoreV1().Pods(ts.namespace(t, "grace"))
	ctx := context.Background()
	p, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{
		NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "p", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err = pods.Get(ctx, "p", metav1.GetOptions{})
	if err != nil || p.DeletionTimestamp == nil {
		t.Fatalf("pod on a node after delete: %v, deletionTimestamp %v; want it terminating", err, p.DeletionTimestamp)
	}
	p.Status.Phase = corev1.PodSucceeded
	if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "p", metav1.GetOptions{}); err != nil {
		t.Fatalf("status update deleted the terminating pod: %v", err)
	}
	if err := pods.Delete(ctx, "p", metav1.DeleteOptions{GracePeriodSeconds: new(int64), Preconditions: metav1.NewUIDPreconditions(string(p.UID))}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "p", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pod after its node's delete with grace 0: %v, want NotFound", err)
	}
}
