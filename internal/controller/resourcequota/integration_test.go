package resourcequota_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"

	"berth.dev/berth/internal/controller/controllertest"
	"berth.dev/berth/internal/controller/resourcequota"
)

type env struct {
	t      *testing.T
	ctx    context.Context
	client kubernetes.Interface
	ns     string
}

func start(t *testing.T) *env {
	t.Helper()
	return startWith(t, nil)
}

// startWith starts the controller with clk (nil: the real clock).
func startWith(t *testing.T, clk clock.WithTicker) *env {
	t.Helper()
	cl := controllertest.Start(t)
	meta, err := metadata.NewForConfig(cl.Server.Admin)
	if err != nil {
		t.Fatalf("metadata client: %v", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cl.Server.Admin)
	if err != nil {
		t.Fatalf("discovery client: %v", err)
	}
	c, err := resourcequota.New(resourcequota.Config{
		Client: cl.Client, Informers: cl.Informers, Metadata: meta, Discovery: disc, Clock: clk,
		Logger: cl.Logger,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx := controllertest.Run(t, cl.Informers, c)
	ns := "quota"
	controllertest.CreateNamespace(ctx, t, cl.Client, ns)
	return &env{t: t, ctx: ctx, client: cl.Client, ns: ns}
}

func (e *env) quota(name string, hard corev1.ResourceList) {
	e.t.Helper()
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ResourceQuotaSpec{Hard: hard}}
	if _, err := e.client.CoreV1().ResourceQuotas(e.ns).Create(e.ctx, q, metav1.CreateOptions{}); err != nil {
		e.t.Fatalf("creating quota: %v", err)
	}
}

// waitUsed waits until the quota's status.used is want, and hard its spec.
func (e *env) waitUsed(name string, want map[string]string) {
	e.t.Helper()
	var last corev1.ResourceQuotaStatus
	err := wait.PollUntilContextTimeout(e.ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		q, err := e.client.CoreV1().ResourceQuotas(e.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = q.Status
		if len(q.Status.Hard) != len(q.Spec.Hard) || len(q.Status.Used) != len(want) {
			return false, nil
		}
		for k, v := range q.Spec.Hard {
			if h := q.Status.Hard[k]; h.Cmp(v) != 0 {
				return false, nil
			}
		}
		for k, v := range want {
			if u, ok := q.Status.Used[corev1.ResourceName(k)]; !ok || u.Cmp(resource.MustParse(v)) != 0 {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		e.t.Fatalf("quota %s: status %+v, want used %v: %v", name, last, want, err)
	}
}

func pod(name, cpu string) *corev1.Pod {
	c := corev1.Container{Name: "c", Image: "busybox"}
	if cpu != "" {
		c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Containers: []corev1.Container{c}}}
}

func (e *env) createPod(p *corev1.Pod) error {
	_, err := e.client.CoreV1().Pods(e.ns).Create(e.ctx, p, metav1.CreateOptions{})
	return err
}

func TestQuotaCountsChargesAndRefuses(t *testing.T) {
	e := start(t)
	e.quota("q", corev1.ResourceList{corev1.ResourcePods: resource.MustParse("2"), corev1.ResourceRequestsCPU: resource.MustParse("1"), "count/configmaps": resource.MustParse("10")})
	// The namespace's root CA config map is not published here: no configmaps yet.
	e.waitUsed("q", map[string]string{"pods": "0", "requests.cpu": "0", "count/configmaps": "0"})

	if err := e.createPod(pod("a", "")); err == nil || !strings.Contains(err.Error(), "failed quota: q: must specify requests.cpu for: c") {
		t.Fatalf("pod without a cpu request: got %v, want the must-specify refusal", err)
	}
	for _, name := range []string{"a", "b"} {
		if err := e.createPod(pod(name, "200m")); err != nil {
			t.Fatalf("creating pod %s: %v", name, err)
		}
	}
	// Charged by admission at once, and the recount agrees.
	e.waitUsed("q", map[string]string{"pods": "2", "requests.cpu": "400m", "count/configmaps": "0"})

	err := e.createPod(pod("c", "200m"))
	want := `pods "c" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Fatalf("third pod: got %v, want %q", err, want)
	}
	// A dry run is checked but not charged.
	dry := pod("d", "100m")
	if err := e.client.CoreV1().Pods(e.ns).Delete(e.ctx, "b", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatalf("deleting pod: %v", err)
	}
	e.waitUsed("q", map[string]string{"pods": "1", "requests.cpu": "200m", "count/configmaps": "0"})
	if _, err := e.client.CoreV1().Pods(e.ns).Create(e.ctx, dry, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatalf("dry-run pod: %v", err)
	}
	q, err := e.client.CoreV1().ResourceQuotas(e.ns).Get(e.ctx, "q", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Status.Used[corev1.ResourcePods]; got.Value() != 1 {
		t.Errorf("after a dry run used pods = %s, want 1", got.String())
	}

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}}
	if _, err := e.client.CoreV1().ConfigMaps(e.ns).Create(e.ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating config map: %v", err)
	}
	e.waitUsed("q", map[string]string{"pods": "1", "requests.cpu": "200m", "count/configmaps": "1"})
}

func TestParallelCreatesCannotShareTheLastSlot(t *testing.T) {
	e := start(t)
	e.quota("q", corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")})
	e.waitUsed("q", map[string]string{"pods": "0"})
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = e.createPod(pod(fmt.Sprintf("p%d", i), "")) })
	}
	wg.Wait()
	var ok, refused int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "exceeded quota: q"):
			refused++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if diff := cmp.Diff([2]int{1, n - 1}, [2]int{ok, refused}); diff != "" {
		t.Errorf("created, refused (-want +got):\n%s", diff)
	}
	e.waitUsed("q", map[string]string{"pods": "1"})
}

// TestResyncCountsUnwatchedResources: deletes of resources the controller
// does not watch (counted through the metadata API) show at the resync.
func TestResyncCountsUnwatchedResources(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	e := startWith(t, clk)
	e.quota("q", corev1.ResourceList{"count/deployments.apps": resource.MustParse("5")})
	e.waitUsed("q", map[string]string{"count/deployments.apps": "0"})
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
	if _, err := e.client.AppsV1().Deployments(e.ns).Create(e.ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating deployment: %v", err)
	}
	e.waitUsed("q", map[string]string{"count/deployments.apps": "1"})
	if err := e.client.AppsV1().Deployments(e.ns).Delete(e.ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting deployment: %v", err)
	}
	q, err := e.client.CoreV1().ResourceQuotas(e.ns).Get(e.ctx, "q", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if used := q.Status.Used["count/deployments.apps"]; used.Value() != 1 {
		t.Fatalf("used before the resync = %s, want the charge (1) still", used.String())
	}
	// The controller has synced, so its resync ticker exists.
	clk.Step(resourcequota.DefaultResync)
	e.waitUsed("q", map[string]string{"count/deployments.apps": "0"})
}
