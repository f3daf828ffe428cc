package deployment

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// condSummary is what the tests compare of a condition.
type condSummary struct {
	Type   appsv1.DeploymentConditionType
	Status corev1.ConditionStatus
	Reason string
}

func summarize(cs []appsv1.DeploymentCondition) []condSummary {
	var out []condSummary
	for _, c := range cs {
		out = append(out, condSummary{c.Type, c.Status, c.Reason})
	}
	return out
}

func withProgressing(d *appsv1.Deployment, reason string, updated time.Time) *appsv1.Deployment {
	d.Status.Conditions = []appsv1.DeploymentCondition{
		newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reason, "", updated),
	}
	return d
}

func TestComputeStatus(t *testing.T) {
	d := deploy(3).rolling(intstr.FromInt32(1), intstr.FromInt32(0)).obj()
	d.Generation = 4
	d.Status.CollisionCount = new(int32)
	newRS, old := rs("new", 2, 2, 1), rs("old", 1, 2, 2)
	got := computeStatus(d, newRS, []*appsv1.ReplicaSet{newRS, old}, epoch)
	conds := got.Conditions
	got.Conditions = nil
	want := appsv1.DeploymentStatus{
		ObservedGeneration: 4, Replicas: 4, UpdatedReplicas: 2, ReadyReplicas: 3, AvailableReplicas: 3,
		UnavailableReplicas: 1, CollisionCount: new(int32),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]condSummary{{appsv1.DeploymentAvailable, corev1.ConditionTrue, reasonMinimumAvailable}}, summarize(conds)); diff != "" {
		t.Errorf("conditions mismatch (-want +got):\n%s", diff)
	}
	low := rs("new", 2, 3, 1)
	if c := condition(computeStatus(d, low, []*appsv1.ReplicaSet{low}, epoch), appsv1.DeploymentAvailable); c.Status != corev1.ConditionFalse || c.Reason != reasonMinimumUnavailable {
		t.Errorf("Available with 1 of 3 = %v %s, want False %s", c.Status, c.Reason, reasonMinimumUnavailable)
	}
}

func TestRolloutStatusProgressing(t *testing.T) {
	ru := func() *appsv1.Deployment { return deploy(3).rolling(intstr.FromInt32(1), intstr.FromInt32(0)).obj() }
	now := epoch.Add(time.Hour)
	for _, tc := range []struct {
		name  string
		d     *appsv1.Deployment
		newRS *appsv1.ReplicaSet
		old   []*appsv1.ReplicaSet
		want  condSummary
		// fresh: lastUpdateTime must be now.
		fresh bool
	}{
		{"complete", withProgressing(ru(), reasonRSUpdated, epoch), rs("new", 2, 3, 3), []*appsv1.ReplicaSet{rs("old", 1, 0, 0)},
			condSummary{appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSAvailable}, true},
		{"progress refreshes", withProgressing(ru(), reasonNewRSCreated, epoch), rs("new", 2, 1, 0), []*appsv1.ReplicaSet{rs("old", 1, 3, 3)},
			condSummary{appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonRSUpdated}, true},
		{"no progress past deadline", func() *appsv1.Deployment {
			d := withProgressing(ru(), reasonRSUpdated, epoch)
			d.Status = appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1, ReadyReplicas: 3, AvailableReplicas: 3, Conditions: d.Status.Conditions}
			return d
		}(), rs("new", 2, 1, 0), []*appsv1.ReplicaSet{rs("old", 1, 3, 3)},
			condSummary{appsv1.DeploymentProgressing, corev1.ConditionFalse, reasonTimedOut}, true},
		{"no progress within deadline", func() *appsv1.Deployment {
			d := withProgressing(ru(), reasonRSUpdated, now.Add(-time.Minute))
			d.Status = appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1, ReadyReplicas: 3, AvailableReplicas: 3, Conditions: d.Status.Conditions}
			return d
		}(), rs("new", 2, 1, 0), []*appsv1.ReplicaSet{rs("old", 1, 3, 3)},
			condSummary{appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonRSUpdated}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all := append([]*appsv1.ReplicaSet{tc.newRS}, tc.old...)
			st := rolloutStatus(tc.d, tc.newRS, all, now)
			c := condition(st, appsv1.DeploymentProgressing)
			if c == nil {
				t.Fatalf("no Progressing condition in %v", st.Conditions)
			}
			if diff := cmp.Diff(tc.want, condSummary{c.Type, c.Status, c.Reason}); diff != "" {
				t.Errorf("Progressing mismatch (-want +got):\n%s", diff)
			}
			if got := c.LastUpdateTime.Time.Equal(now); got != tc.fresh {
				t.Errorf("lastUpdateTime = %v, fresh = %v, want %v", c.LastUpdateTime, got, tc.fresh)
			}
		})
	}
}

func TestProgressRecheck(t *testing.T) {
	d := withProgressing(deploy(3).obj(), reasonRSUpdated, epoch)
	st := d.Status
	got, ok := progressRecheck(d, st, epoch.Add(time.Minute))
	if want := 9*time.Minute + time.Second; !ok || got != want {
		t.Errorf("progressRecheck = %v, %v, want %v, true", got, ok, want)
	}
	done := withProgressing(deploy(3).obj(), reasonNewRSAvailable, epoch)
	if _, ok := progressRecheck(done, done.Status, epoch); ok {
		t.Errorf("complete rollout rechecked")
	}
}

func TestPausedCondition(t *testing.T) {
	d := withProgressing(deploy(3).obj(), reasonRSUpdated, epoch)
	if c := pausedCondition(d, epoch); c != nil {
		t.Errorf("running deployment: condition %v, want none", c)
	}
	d.Spec.Paused = true
	c := pausedCondition(d, epoch)
	if c == nil || c.Status != corev1.ConditionUnknown || c.Reason != reasonPaused {
		t.Fatalf("paused: condition %v, want Unknown %s", c, reasonPaused)
	}
	d.Status.Conditions = []appsv1.DeploymentCondition{*c}
	if c := pausedCondition(d, epoch); c != nil {
		t.Errorf("already paused: condition %v, want none", c)
	}
	d.Spec.Paused = false
	if c := pausedCondition(d, epoch); c == nil || c.Reason != reasonResumed {
		t.Errorf("resumed: condition %v, want %s", c, reasonResumed)
	}
	d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Reason: reasonTimedOut, LastUpdateTime: metav1.NewTime(epoch)}}
	d.Spec.Paused = true
	if c := pausedCondition(d, epoch); c != nil {
		t.Errorf("timed out: condition %v, want none", c)
	}
}
