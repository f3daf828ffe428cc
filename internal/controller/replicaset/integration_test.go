package replicaset_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"berth.dev/berth/internal/controller/controllertest"
	"berth.dev/berth/internal/controller/replicaset"
)

// env is a running API server with the controller, and a namespace for one test.
type env struct {
	t      *testing.T
	ctx    context.Context
	client kubernetes.Interface
	ns     string
}

func start(t *testing.T) *env {
	t.Helper()
	cl := controllertest.Start(t)
	c, err := replicaset.New(replicaset.Config{Client: cl.Client, Informers: cl.Informers, Logger: cl.Logger})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &env{t: t, ctx: controllertest.Run(t, cl.Informers, c), client: cl.Client}
}

// namespace creates a fresh namespace for one subtest.
func (e *env) namespace(t *testing.T, name string) *env {
	t.Helper()
	controllertest.CreateNamespace(e.ctx, t, e.client, name)
	return &env{t: t, ctx: e.ctx, client: e.client, ns: name}
}

func template(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func (e *env) createRS(name string, replicas, minReady int32) *appsv1.ReplicaSet {
	e.t.Helper()
	rs, err := e.client.AppsV1().ReplicaSets(e.ns).Create(e.ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas, MinReadySeconds: minReady,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: template(name),
		},
	}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating ReplicaSet: %v", err)
	}
	return rs
}

func (e *env) scaleRS(name string, replicas int32) {
	e.t.Helper()
	replicaSets := e.client.AppsV1().ReplicaSets(e.ns)
	controllertest.Update(e.ctx, e.t, name, replicaSets.Get, replicaSets.Update, func(rs *appsv1.ReplicaSet) {
		rs.Spec.Replicas = &replicas
	})
}

// owned returns the active pods whose controller has uid, sorted by name.
func (e *env) owned(uid types.UID) ([]corev1.Pod, error) {
	list, err := e.client.CoreV1().Pods(e.ns).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		ref := metav1.GetControllerOf(&p)
		active := p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded
		if ref != nil && ref.UID == uid && active {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// waitOwned waits until uid controls n active pods and returns them.
func (e *env) waitOwned(uid types.UID, n int) []corev1.Pod {
	e.t.Helper()
	var pods []corev1.Pod
	e.waitFor(fmt.Sprintf("%d active owned pods", n), func() (bool, string, error) {
		var err error
		pods, err = e.owned(uid)
		return len(pods) == n, fmt.Sprintf("have %d", len(pods)), err
	})
	return pods
}

// waitFor polls cond until it holds; see controllertest.WaitFor.
func (e *env) waitFor(what string, cond func() (bool, string, error)) {
	e.t.Helper()
	controllertest.WaitFor(e.ctx, e.t, what, cond)
}

func (e *env) waitRSStatus(name string, what string, cond func(appsv1.ReplicaSetStatus) bool) appsv1.ReplicaSetStatus {
	e.t.Helper()
	rs := controllertest.WaitObject(e.ctx, e.t, what, name, e.client.AppsV1().ReplicaSets(e.ns).Get, func(rs *appsv1.ReplicaSet) (bool, string) {
		return rs.Status.ObservedGeneration == rs.Generation && cond(rs.Status), fmt.Sprintf("%+v", rs.Status)
	})
	return rs.Status
}

// setStatus sets a pod's phase; a non-zero readySince also marks it Ready since then.
func (e *env) setStatus(p corev1.Pod, phase corev1.PodPhase, readySince time.Time) {
	e.t.Helper()
	pods := e.client.CoreV1().Pods(e.ns)
	controllertest.Update(e.ctx, e.t, p.Name, pods.Get, pods.UpdateStatus, func(cur *corev1.Pod) {
		cur.Status.Phase = phase
		if !readySince.IsZero() {
			cur.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(readySince)}}
		}
	})
}

func podNames(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestReplicaSet(t *testing.T) {
	base := start(t)

	t.Run("creates, replaces and scales", func(t *testing.T) {
		e := base.namespace(t, "scale")
		rs := e.createRS("web", 3, 0)
		pods := e.waitOwned(rs.UID, 3)
		for _, p := range pods {
			ref := metav1.GetControllerOf(&p)
			if ref.Kind != "ReplicaSet" || ref.APIVersion != "apps/v1" || ref.Name != "web" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
				t.Errorf("pod %s: controller reference %+v", p.Name, ref)
			}
			if !strings.HasPrefix(p.Name, "web-") || p.Labels["app"] != "web" {
				t.Errorf("pod %s: name or labels %v not from the template", p.Name, p.Labels)
			}
		}
		e.waitRSStatus("web", "replicas 3", func(s appsv1.ReplicaSetStatus) bool {
			return s.Replicas == 3 && s.FullyLabeledReplicas == 3 && s.ReadyReplicas == 0
		})

		if err := e.client.CoreV1().Pods(e.ns).Delete(e.ctx, pods[0].Name, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("deleting pod: %v", err)
		}
		e.waitFor("a replacement", func() (bool, string, error) {
			now, err := e.owned(rs.UID)
			return len(now) == 3 && !slices.Contains(podNames(now), pods[0].Name), fmt.Sprint(podNames(now)), err
		})

		e.scaleRS("web", 5)
		pods = e.waitOwned(rs.UID, 5)
		// Two ready pods must outlive three running but not ready ones, whatever their age.
		ready := []string{pods[1].Name, pods[3].Name}
		for i, p := range pods {
			since := time.Time{}
			if slices.Contains(ready, p.Name) {
				since = time.Now()
			}
			e.setStatus(pods[i], corev1.PodRunning, since)
		}
		e.waitRSStatus("web", "2 ready", func(s appsv1.ReplicaSetStatus) bool { return s.Replicas == 5 && s.ReadyReplicas == 2 })
		e.scaleRS("web", 2)
		e.waitFor("scale down to the ready pods", func() (bool, string, error) {
			now, err := e.owned(rs.UID)
			return slices.Equal(podNames(now), ready), fmt.Sprint(podNames(now)), err
		})
		e.waitRSStatus("web", "replicas 2", func(s appsv1.ReplicaSetStatus) bool {
			return s.Replicas == 2 && s.ReadyReplicas == 2 && s.AvailableReplicas == 2
		})
	})

	t.Run("failed pods are replaced", func(t *testing.T) {
		e := base.namespace(t, "failed")
		rs := e.createRS("job", 2, 0)
		pods := e.waitOwned(rs.UID, 2)
		e.setStatus(pods[0], corev1.PodFailed, time.Time{})
		e.waitFor("a replacement", func() (bool, string, error) {
			now, err := e.owned(rs.UID)
			return len(now) == 2 && !slices.Contains(podNames(now), pods[0].Name), fmt.Sprint(podNames(now)), err
		})
		e.waitRSStatus("job", "replicas 2", func(s appsv1.ReplicaSetStatus) bool { return s.Replicas == 2 })

		// A finalizer keeps a deleted pod terminating: it no longer counts and is replaced.
		pods = e.waitOwned(rs.UID, 2)
		patch := []byte(`{"metadata":{"finalizers":["example.com/hold"]}}`)
		if _, err := e.client.CoreV1().Pods(e.ns).Patch(e.ctx, pods[0].Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatalf("adding finalizer: %v", err)
		}
		if err := e.client.CoreV1().Pods(e.ns).Delete(e.ctx, pods[0].Name, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("deleting pod: %v", err)
		}
		e.waitFor("a replacement for the terminating pod", func() (bool, string, error) {
			now, err := e.owned(rs.UID)
			return len(now) == 2 && !slices.Contains(podNames(now), pods[0].Name), fmt.Sprint(podNames(now)), err
		})
		e.waitRSStatus("job", "one terminating", func(s appsv1.ReplicaSetStatus) bool {
			return s.Replicas == 2 && s.TerminatingReplicas != nil && *s.TerminatingReplicas == 1
		})
	})

	t.Run("availability follows minReadySeconds", func(t *testing.T) {
		e := base.namespace(t, "avail")
		rs := e.createRS("soon", 2, 1)
		never := e.createRS("never", 1, 3600)
		for _, p := range e.waitOwned(rs.UID, 2) {
			e.setStatus(p, corev1.PodRunning, time.Now())
		}
		e.setStatus(e.waitOwned(never.UID, 1)[0], corev1.PodRunning, time.Now())
		// The ready pods become available only after a requeue: nothing else changes.
		e.waitRSStatus("soon", "2 available", func(s appsv1.ReplicaSetStatus) bool {
			return s.ReadyReplicas == 2 && s.AvailableReplicas == 2
		})
		st := e.waitRSStatus("never", "1 ready", func(s appsv1.ReplicaSetStatus) bool { return s.ReadyReplicas == 1 })
		if st.AvailableReplicas != 0 {
			t.Errorf("pod ready for seconds counts as available with minReadySeconds 3600: %+v", st)
		}
	})

	t.Run("adopts orphans and releases pods that stop matching", func(t *testing.T) {
		e := base.namespace(t, "adopt")
		orphan, err := e.client.CoreV1().Pods(e.ns).Create(e.ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "orphan", Labels: map[string]string{"app": "adoptee"}},
			Spec:       template("adoptee").Spec,
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating orphan: %v", err)
		}
		rs := e.createRS("adoptee", 2, 0)
		pods := e.waitOwned(rs.UID, 2)
		if !slices.Contains(podNames(pods), orphan.Name) {
			t.Fatalf("orphan not adopted: owned %v", podNames(pods))
		}
		ref := metav1.GetControllerOf(&pods[slices.Index(podNames(pods), orphan.Name)])
		if ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
			t.Errorf("adopted pod's controller reference %+v", ref)
		}

		podClient := e.client.CoreV1().Pods(e.ns)
		controllertest.Update(e.ctx, t, "orphan", podClient.Get, podClient.Update, func(p *corev1.Pod) {
			p.Labels["app"] = "elsewhere"
		})
		e.waitFor("release and replacement", func() (bool, string, error) {
			p, err := e.client.CoreV1().Pods(e.ns).Get(e.ctx, "orphan", metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			now, err := e.owned(rs.UID)
			return len(p.OwnerReferences) == 0 && len(now) == 2, fmt.Sprintf("owners %v, owned %v", p.OwnerReferences, podNames(now)), err
		})
	})

	t.Run("ReplicationController", func(t *testing.T) {
		e := base.namespace(t, "rc")
		three := int32(3)
		rc, err := e.client.CoreV1().ReplicationControllers(e.ns).Create(e.ctx, &corev1.ReplicationController{
			ObjectMeta: metav1.ObjectMeta{Name: "legacy"},
			Spec: corev1.ReplicationControllerSpec{
				Replicas: &three, Selector: map[string]string{"app": "legacy"}, Template: new(template("legacy")),
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating ReplicationController: %v", err)
		}
		pods := e.waitOwned(rc.UID, 3)
		if ref := metav1.GetControllerOf(&pods[0]); ref.Kind != "ReplicationController" || ref.APIVersion != "v1" {
			t.Errorf("controller reference %+v", ref)
		}
		e.setStatus(pods[2], corev1.PodRunning, time.Now())
		rcs := e.client.CoreV1().ReplicationControllers(e.ns)
		controllertest.Update(e.ctx, t, "legacy", rcs.Get, rcs.Update, func(cur *corev1.ReplicationController) {
			cur.Spec.Replicas = new(int32(1))
		})
		e.waitFor("scale down to the ready pod and status", func() (bool, string, error) {
			now, err := e.owned(rc.UID)
			if err != nil {
				return false, "", err
			}
			cur, err := e.client.CoreV1().ReplicationControllers(e.ns).Get(e.ctx, "legacy", metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			s := cur.Status
			ok := slices.Equal(podNames(now), []string{pods[2].Name}) && s.ObservedGeneration == cur.Generation &&
				s.Replicas == 1 && s.ReadyReplicas == 1 && s.AvailableReplicas == 1 && s.FullyLabeledReplicas == 1
			return ok, fmt.Sprintf("pods %v status %+v", podNames(now), s), nil
		})
	})
}
