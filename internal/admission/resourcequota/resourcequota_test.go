package resourcequota

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/admission/admissiontest"
)

// store is an admission.QuotaStore over one quota; conflicts, when set,
// is how many writes fail with a Conflict, each after another writer
// raised used pods by one.
type store struct {
	q         *corev1.ResourceQuota
	conflicts int
	writes    int
}

func (s *store) ResourceQuotas(context.Context, string) ([]*corev1.ResourceQuota, error) {
	return []*corev1.ResourceQuota{s.q}, nil
}

func (s *store) UpdateQuotaStatus(_ context.Context, q *corev1.ResourceQuota) error {
	if s.conflicts > 0 {
		s.conflicts--
		c := s.q.DeepCopy()
		used := c.Status.Used[corev1.ResourcePods]
		used.Add(resource.MustParse("1"))
		c.Status.Used[corev1.ResourcePods] = used
		c.ResourceVersion += "x"
		s.q = c
		return apierrors.NewConflict(schema.GroupResource{Resource: "resourcequotas"}, q.Name, nil)
	}
	if q.ResourceVersion != s.q.ResourceVersion {
		return apierrors.NewConflict(schema.GroupResource{Resource: "resourcequotas"}, q.Name, nil)
	}
	s.writes++
	s.q = q.DeepCopy()
	return nil
}

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func strs(l corev1.ResourceList) map[string]string {
	out := map[string]string{}
	for k, v := range l {
		out[string(k)] = v.String()
	}
	return out
}

func claim(size string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns", ResourceVersion: "5"},
		Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: rl("storage", size)}}}
}

func TestValidate(t *testing.T) {
	podOf := func(requests corev1.ResourceList) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: requests}}}}}
	}
	pods := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	claims := schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
	tests := []struct {
		name      string
		hard      corev1.ResourceList
		used      corev1.ResourceList
		scopes    []corev1.ResourceQuotaScope
		attrs     admission.Attributes
		conflicts int
		wantErr   string
		wantUsed  map[string]string // nil: no write
	}{{
		name:     "pod charged",
		hard:     rl("pods", "2", "requests.cpu", "1"),
		used:     rl("pods", "1", "requests.cpu", "500m"),
		attrs:    admission.Attributes{Operation: admission.Create, Resource: pods, Namespace: "ns", Name: "p", Object: podOf(rl("cpu", "250m"))},
		wantUsed: map[string]string{"pods": "2", "requests.cpu": "750m"},
	}, {
		name:    "over the pod count",
		hard:    rl("pods", "2"),
		used:    rl("pods", "2"),
		attrs:   admission.Attributes{Operation: admission.Create, Resource: pods, Namespace: "ns", Name: "p", Object: podOf(nil)},
		wantErr: `pods "p" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2`,
	}, {
		name:    "several exceeded",
		hard:    rl("pods", "5", "requests.cpu", "1", "requests.memory", "1Gi"),
		used:    rl("pods", "1", "requests.cpu", "900m", "requests.memory", "1Gi"),
		attrs:   admission.Attributes{Operation: admission.Create, Resource: pods, Namespace: "ns", Name: "p", Object: podOf(rl("cpu", "200m", "memory", "1Mi"))},
		wantErr: `pods "p" is forbidden: exceeded quota: q, requested: requests.cpu=200m,requests.memory=1Mi, used: requests.cpu=900m,requests.memory=1Gi, limited: requests.cpu=1,requests.memory=1Gi`,
	}, {
		name:    "must specify",
		hard:    rl("limits.memory", "1Gi"),
		used:    rl("limits.memory", "0"),
		attrs:   admission.Attributes{Operation: admission.Create, Resource: pods, Namespace: "ns", Name: "p", Object: podOf(nil)},
		wantErr: `pods "p" is forbidden: failed quota: q: must specify limits.memory for: c`,
	}, {
		name:    "status not yet counted",
		hard:    rl("pods", "2"),
		attrs:   admission.Attributes{Operation: admission.Create, Resource: pods, Namespace: "ns", Name: "p", Object: podOf(nil)},
		wantErr: `pods "p" is forbidden: status unknown for quota: q, resources: pods`,
	}, {
		name:   "out of scope",
		hard:   rl("pods", "0"),
		used:   rl("pods", "0"),
		scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotBestEffort},
		attrs:  admission.Attributes{Operation: admission.Create, Resource: pods, Namespace: "ns", Name: "p", Object: podOf(nil)},
	}, {
		name:  "dry run checked, not charged",
		hard:  rl("pods", "2"),
		used:  rl("pods", "0"),
		attrs: admission.Attributes{Operation: admission.Create, Resource: pods, Namespace: "ns", Name: "p", Object: podOf(nil), DryRun: true},
	}, {
		name:     "claim resize charges the difference",
		hard:     rl("requests.storage", "10Gi"),
		used:     rl("requests.storage", "4Gi"),
		attrs:    admission.Attributes{Operation: admission.Update, Resource: claims, Namespace: "ns", Name: "data", Object: claim("3Gi"), OldObject: claim("1Gi")},
		wantUsed: map[string]string{"requests.storage": "6Gi"},
	}, {
		name:    "claim resize over quota",
		hard:    rl("requests.storage", "10Gi"),
		used:    rl("requests.storage", "9Gi"),
		attrs:   admission.Attributes{Operation: admission.Update, Resource: claims, Namespace: "ns", Name: "data", Object: claim("3Gi"), OldObject: claim("1Gi")},
		wantErr: `persistentvolumeclaims "data" is forbidden: exceeded quota: q, requested: requests.storage=2Gi, used: requests.storage=9Gi, limited: requests.storage=10Gi`,
	}, {
		name:  "claim shrink charges nothing",
		hard:  rl("requests.storage", "10Gi"),
		used:  rl("requests.storage", "9Gi"),
		attrs: admission.Attributes{Operation: admission.Update, Resource: claims, Namespace: "ns", Name: "data", Object: claim("1Gi"), OldObject: claim("3Gi")},
	}, {
		name:      "conflict decided again on the stored quota",
		hard:      rl("pods", "3"),
		used:      rl("pods", "1"),
		conflicts: 1,
		attrs:     admission.Attributes{Operation: admission.Create, Resource: pods, Namespace: "ns", Name: "p", Object: podOf(nil)},
		wantUsed:  map[string]string{"pods": "3"},
	}, {
		name:      "conflict taking the last slot refuses",
		hard:      rl("pods", "2"),
		used:      rl("pods", "1"),
		conflicts: 1,
		attrs:     admission.Attributes{Operation: admission.Create, Resource: pods, Namespace: "ns", Name: "p", Object: podOf(nil)},
		wantErr:   `pods "p" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2`,
	}, {
		name:  "other resources count only when named",
		hard:  rl("count/deployments.apps", "1"),
		used:  rl("count/deployments.apps", "1"),
		attrs: admission.Attributes{Operation: admission.Create, Resource: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "configmaps"}, Namespace: "ns", Name: "x", Object: &metav1.PartialObjectMetadata{}},
	}, {
		name:    "count of any resource",
		hard:    rl("count/deployments.apps", "1"),
		used:    rl("count/deployments.apps", "1"),
		attrs:   admission.Attributes{Operation: admission.Create, Resource: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, Namespace: "ns", Name: "d", Object: &metav1.PartialObjectMetadata{}},
		wantErr: `deployments.apps "d" is forbidden: exceeded quota: q, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "ns", ResourceVersion: "1"},
				Spec:   corev1.ResourceQuotaSpec{Hard: tt.hard, Scopes: tt.scopes},
				Status: corev1.ResourceQuotaStatus{Hard: tt.hard, Used: tt.used}}
			s := &store{q: q, conflicts: tt.conflicts}
			p := &Plugin{}
			p.UseObjects(admissiontest.Objects{quotasResource: []runtime.Object{q}})
			p.UseQuotaStore(s)
			a := tt.attrs
			got := ""
			if err := p.Validate(t.Context(), &a); err != nil {
				got = err.Error()
				if !apierrors.IsForbidden(err) {
					t.Errorf("error %v is not Forbidden", err)
				}
			}
			if got != tt.wantErr {
				t.Errorf("Validate = %q, want %q", got, tt.wantErr)
			}
			if tt.wantUsed == nil {
				if s.writes != 0 {
					t.Errorf("quota written: used %v", strs(s.q.Status.Used))
				}
				return
			}
			if diff := cmp.Diff(tt.wantUsed, strs(s.q.Status.Used)); diff != "" {
				t.Errorf("used (-want +got):\n%s", diff)
			}
		})
	}
}

// stores is an admission.QuotaStore over several quotas; the first write
// to conflictOn fails once, after another writer charged it a pod.
type stores struct {
	qs         []*corev1.ResourceQuota
	conflictOn string
}

func (s *stores) ResourceQuotas(context.Context, string) ([]*corev1.ResourceQuota, error) {
	return s.qs, nil
}

func (s *stores) UpdateQuotaStatus(_ context.Context, q *corev1.ResourceQuota) error {
	for i, cur := range s.qs {
		if cur.Name != q.Name {
			continue
		}
		if q.Name == s.conflictOn {
			s.conflictOn = ""
			c := cur.DeepCopy()
			used := c.Status.Used[corev1.ResourcePods]
			used.Add(resource.MustParse("1"))
			c.Status.Used[corev1.ResourcePods] = used
			c.ResourceVersion += "x"
			s.qs[i] = c
			return apierrors.NewConflict(quotasResource, q.Name, nil)
		}
		if q.ResourceVersion != cur.ResourceVersion {
			return apierrors.NewConflict(quotasResource, q.Name, nil)
		}
		s.qs[i] = q.DeepCopy()
		return nil
	}
	return apierrors.NewNotFound(quotasResource, q.Name)
}

func TestConflictChargesEachQuotaOnce(t *testing.T) {
	quotaOf := func(name string) *corev1.ResourceQuota {
		return &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", ResourceVersion: "1"},
			Status: corev1.ResourceQuotaStatus{Hard: rl("pods", "5"), Used: rl("pods", "1")}}
	}
	s := &stores{qs: []*corev1.ResourceQuota{quotaOf("a"), quotaOf("b")}, conflictOn: "b"}
	p := &Plugin{}
	p.UseObjects(admissiontest.Objects{quotasResource: []runtime.Object{s.qs[0], s.qs[1]}})
	p.UseQuotaStore(s)
	a := &admission.Attributes{Operation: admission.Create, Resource: schema.GroupVersionResource{Version: "v1", Resource: "pods"}, Namespace: "ns", Name: "p",
		Object: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}}
	if err := p.Validate(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, q := range s.qs {
		u := q.Status.Used[corev1.ResourcePods]
		got[q.Name] = u.String()
	}
	// a: 1 + ours; b: 1 + the other writer's + ours.
	if diff := cmp.Diff(map[string]string{"a": "2", "b": "3"}, got); diff != "" {
		t.Errorf("used pods (-want +got):\n%s", diff)
	}
}
