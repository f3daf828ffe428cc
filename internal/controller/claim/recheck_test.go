package claim

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestRecheck(t *testing.T) {
	owner := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ds", UID: "u1"}}
	tests := []struct {
		name string
		live *appsv1.DaemonSet // nil: not found
		err  string
	}{
		{name: "live", live: owner},
		{name: "gone", err: "rechecking DaemonSet before adopting"},
		{name: "replaced", live: &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ds", UID: "u2"}},
			err: "DaemonSet ns/ds was replaced or is being deleted"},
		{name: "deleting", live: &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ds", UID: "u1", DeletionTimestamp: &metav1.Time{}}},
			err: "DaemonSet ns/ds was replaced or is being deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			if tt.live != nil {
				client = fake.NewClientset(tt.live)
			}
			err := Recheck(owner, "DaemonSet", client.AppsV1().DaemonSets("ns").Get)(t.Context())
			if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestPodPatcher(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", Labels: map[string]string{"a": "1"}}}
	client := fake.NewClientset(pod)
	got, err := PodPatcher(client.CoreV1())(t.Context(), pod, []byte(`{"metadata":{"labels":{"b":"2"}}}`))
	if err != nil {
		t.Fatalf("patch: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"a": "1", "b": "2"}, got.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}
