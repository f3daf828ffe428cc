package claim

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

func TestClaim(t *testing.T) {
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner", UID: "owner-uid"}}
	kind := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	ours := []metav1.OwnerReference{*metav1.NewControllerRef(owner, kind)}
	theirs := []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "x", UID: "x", Controller: new(true)}}
	pod := func(name string, match bool, refs []metav1.OwnerReference) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name + "-uid"), OwnerReferences: refs}}
		if match {
			p.Labels = map[string]string{"match": "yes"}
		}
		return p
	}
	deleting := func(p *corev1.Pod) *corev1.Pod {
		p.DeletionTimestamp = &metav1.Time{}
		return p
	}
	tests := []struct {
		name          string
		ownerDeleting bool
		canAdopt      error
		notFound      bool
		pods          []*corev1.Pod
		want          []string // claimed
		patched       []string // name: patch kind
		err           string
	}{
		{name: "keeps its own matching pods, ignores others'",
			pods: []*corev1.Pod{pod("mine", true, ours), pod("theirs", true, theirs), pod("stranger", false, nil)},
			want: []string{"mine"}},
		{name: "adopts matching orphans",
			pods: []*corev1.Pod{pod("orphan", true, nil), deleting(pod("dying", true, nil))},
			want: []string{"orphan"}, patched: []string{"orphan:adopt"}},
		{name: "releases pods that no longer match",
			pods:    []*corev1.Pod{pod("strayed", false, ours)},
			patched: []string{"strayed:release"}},
		{name: "an owner being deleted adopts and releases nothing", ownerDeleting: true,
			pods: []*corev1.Pod{pod("orphan", true, nil), pod("strayed", false, ours), pod("mine", true, ours)},
			want: []string{"mine"}},
		{name: "no adoption when the live check fails", canAdopt: errors.New("owner replaced"),
			pods: []*corev1.Pod{pod("o1", true, nil), pod("o2", true, nil)},
			err:  "owner replaced"},
		{name: "vanished pods are skipped", notFound: true,
			pods:    []*corev1.Pod{pod("orphan", true, nil), pod("strayed", false, ours)},
			patched: []string{"orphan:adopt", "strayed:release"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := owner.DeepCopy()
			if tt.ownerDeleting {
				o.DeletionTimestamp = &metav1.Time{}
			}
			var patched []string
			checks := 0
			c := Claimer[*corev1.Pod]{
				Owner: o,
				Kind:  kind,
				Match: func(p *corev1.Pod) bool { return p.Labels["match"] == "yes" },
				CanAdopt: func(context.Context) error {
					checks++
					return tt.canAdopt
				},
				Patch: func(_ context.Context, p *corev1.Pod, patch []byte) (*corev1.Pod, error) {
					body := string(patch)
					if !strings.Contains(body, `"uid":"`+string(p.UID)+`"`) {
						t.Errorf("patch of %s not guarded by its UID: %s", p.Name, body)
					}
					what := "adopt"
					if strings.Contains(body, `"$patch":"delete"`) {
						what = "release"
					}
					patched = append(patched, p.Name+":"+what)
					if tt.notFound {
						return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, p.Name)
					}
					return p, nil
				},
			}
			got, err := c.Claim(t.Context(), tt.pods)
			var names []string
			for _, p := range got {
				names = append(names, p.Name)
			}
			if diff := cmp.Diff(tt.want, names); diff != "" {
				t.Errorf("claimed (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.patched, patched); diff != "" {
				t.Errorf("patched (-want +got):\n%s", diff)
			}
			if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err = %v, want %q", err, tt.err)
			}
			if checks > 1 {
				t.Errorf("CanAdopt called %d times, want at most once", checks)
			}
		})
	}
}
