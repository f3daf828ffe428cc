package history

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func template(image string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
	}
}

func TestPatchRoundTrip(t *testing.T) {
	tmpl := template("nginx:1")
	data, err := Patch(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	var shape map[string]map[string]map[string]any
	if err := json.Unmarshal(data, &shape); err != nil {
		t.Fatalf("patch %s: %v", data, err)
	}
	if got := shape["spec"]["template"]["$patch"]; got != "replace" {
		t.Errorf("$patch = %v, want replace (what kubectl rollout undo applies)", got)
	}
	got, err := Template(&appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: data}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tmpl, got); diff != "" {
		t.Errorf("template (-want +got):\n%s", diff)
	}
}

func TestHash(t *testing.T) {
	a, _ := Patch(template("nginx:1"))
	b, _ := Patch(template("nginx:2"))
	one, two := int32(1), int32(2)
	tests := []struct {
		name string
		x, y string
		same bool
	}{
		{name: "stable", x: Hash(a, nil), y: Hash(a, nil), same: true},
		{name: "data", x: Hash(a, nil), y: Hash(b, nil)},
		{name: "collision count salts", x: Hash(a, &one), y: Hash(a, &two)},
		{name: "nil is not zero", x: Hash(a, nil), y: Hash(a, new(int32))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.x == tt.y) != tt.same {
				t.Errorf("hashes %q and %q: same = %v, want %v", tt.x, tt.y, tt.x == tt.y, tt.same)
			}
		})
	}
}

func TestNewAndEqual(t *testing.T) {
	owner := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "u"}}
	kind := appsv1.SchemeGroupVersion.WithKind("StatefulSet")
	cr, err := New(owner, kind, template("nginx:1"), map[string]string{"note": "x"}, 3, nil, "h")
	if err != nil {
		t.Fatal(err)
	}
	hash := Hash(cr.Data.Raw, nil)
	if cr.Name != "web-"+hash || cr.Namespace != "ns" || cr.Revision != 3 || cr.Labels["h"] != hash || cr.Labels["app"] != "web" || cr.Annotations["note"] != "x" {
		t.Errorf("revision %+v", cr.ObjectMeta)
	}
	if ref := metav1.GetControllerOf(cr); ref == nil || ref.UID != "u" || ref.Kind != "StatefulSet" {
		t.Errorf("controller %+v", ref)
	}
	same, _ := New(owner, kind, template("nginx:1"), nil, 9, nil, "h")
	other, _ := New(owner, kind, template("nginx:2"), nil, 3, nil, "h")
	// The server may store the same JSON with other spacing and key order.
	var v any
	_ = json.Unmarshal(same.Data.Raw, &v)
	reencoded, _ := json.MarshalIndent(v, "", "  ")
	same.Data.Raw = reencoded
	if !Equal(cr, same) {
		t.Error("equal templates are not Equal")
	}
	if Equal(cr, other) {
		t.Error("different templates are Equal")
	}
}

func TestSortNextPrune(t *testing.T) {
	rev := func(name string, n int64) *appsv1.ControllerRevision {
		return &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: name}, Revision: n}
	}
	revs := []*appsv1.ControllerRevision{rev("c", 3), rev("a", 1), rev("e", 5), rev("b", 2), rev("d", 4)}
	Sort(revs)
	var names []string
	for _, r := range revs {
		names = append(names, r.Name)
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "e"}, names); diff != "" {
		t.Errorf("sorted (-want +got):\n%s", diff)
	}
	if got := Next(revs); got != 6 {
		t.Errorf("Next = %d, want 6", got)
	}
	if got := Next(nil); got != 1 {
		t.Errorf("Next(nil) = %d, want 1", got)
	}
	tests := []struct {
		name  string
		live  map[string]bool
		limit int32
		want  []string
	}{
		{name: "within the limit", limit: 5},
		{name: "oldest first", limit: 2, want: []string{"a", "b", "c"}},
		{name: "live ones are kept and not counted", limit: 1, live: map[string]bool{"a": true, "e": true}, want: []string{"b", "c"}},
		{name: "zero keeps only live", limit: 0, live: map[string]bool{"e": true}, want: []string{"a", "b", "c", "d"}},
		{name: "negative keeps all", limit: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range Prune(revs, tt.live, tt.limit) {
				got = append(got, r.Name)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("pruned (-want +got):\n%s", diff)
			}
		})
	}
}
